#!/usr/bin/python3
""""stats" prints memcached's lines, "stats shmcached" shmcached's own.

The expected names are not written here: each test starts Debian's
memcached (/usr/bin/memcached, 1.6) and shmcached side by side with the
same flags and compares the names of their "stats" lines, in order:

  - the general stats under memcached's default settings and under each
    setting that makes memcached print or leave out lines (-o
    no_lru_crawler, no_lru_maintainer, idle_timeout, no_maxconns_fast,
    no_slab_reassign; memcached's t/stats.t flags);
  - after "lru_crawler disable" and "lru_crawler enable" at run time;
  - the binary protocol's general stat (opcode 0x10, no key), whose
    names must be the text ones;
  - "stats shmcached" (text, and the binary key "shmcached") carries
    shmcached's own lines (workers, restarts, reloads, repl_state,
    lock_repairs, ...), none of which is in "stats"; memcached answers
    "stats shmcached" with ERROR.

Run: /usr/bin/python3 test_stats.py
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, SkipTest, check, eq  # noqa: E402

MEMCACHED = "/usr/bin/memcached"
TESTS = []

# shmcached's own lines, as the README documents them (the repl_* figures
# other than repl_state appear only with a peer, -x)
OWN = ["workers", "io_uring_enters", "worker_restarts", "worker_crashes",
       "reloads", "reload_failures", "repl_state", "lock_repairs",
       "slot_reaps"]


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def need_both():
    if not harness.is_shmcached():
        raise SkipTest("compares shmcached with memcached")
    if not os.access(MEMCACHED, os.X_OK):
        raise SkipTest("%s is not installed" % MEMCACHED)


def names(c, sub=""):
    """The names of the STAT lines of "stats [sub]", in order."""
    line = "stats %s\r\n" % sub if sub else "stats\r\n"
    return [l.split(" ")[1] for l in c.cmd(line, b"END\r\n").split("\r\n")
            if l.startswith("STAT ")]


def same_names(mine, theirs, what):
    extra = [n for n in mine if n not in theirs]
    missing = [n for n in theirs if n not in mine]
    check(not extra and not missing,
          "%s: memcached does not print %s; shmcached does not print %s"
          % (what, extra, missing))
    eq(mine, theirs, what + ": the order")


class Pair(object):
    """memcached and shmcached started with the same flags."""

    def __init__(self, flags):
        self.flags = list(flags)
        self.mc = Server(self.flags, binary=MEMCACHED)
        self.sh = Server(self.flags)

    def __enter__(self):
        self.mc.start()
        self.sh.start()
        return self

    def __exit__(self, *exc):
        self.sh.stop()
        self.mc.stop()


FLAG_SETS = [
    [],
    ["-o", "no_lru_crawler,no_lru_maintainer"],
    ["-I", "1024", "-o", "slab_chunk_max=1024,no_lru_crawler,"
     "no_lru_maintainer"],                                  # t/stats.t
    ["-o", "idle_timeout=10,no_maxconns_fast,no_slab_reassign"],
    ["-o", "no_lru_maintainer"],
    ["-o", "no_lru_crawler"],
]


@test
def general_names_as_memcached():
    need_both()
    for flags in FLAG_SETS:
        with Pair(flags) as p, RawClient(p.mc.port) as m, \
                RawClient(p.sh.port) as s:
            mine = names(s)
            same_names(mine, names(m), "stats %s" % " ".join(flags))
            for n in OWN:
                check(n not in mine, "%s in stats %s" % (n, " ".join(flags)))


@test
def crawler_toggled_at_run_time():
    need_both()
    with Pair([]) as p, RawClient(p.mc.port) as m, RawClient(p.sh.port) as s:
        for cmd in ("lru_crawler disable", "lru_crawler enable"):
            eq(s.cmd(cmd + "\r\n"), m.cmd(cmd + "\r\n"), cmd)
            same_names(names(s), names(m), "stats after " + cmd)
        check("lru_crawler_running" in names(s), "crawler lines back")
    with Pair(["-o", "no_lru_crawler"]) as p, RawClient(p.mc.port) as m, \
            RawClient(p.sh.port) as s:
        eq(s.cmd("lru_crawler enable\r\n"), m.cmd("lru_crawler enable\r\n"))
        same_names(names(s), names(m), "-o no_lru_crawler, then enabled")


HDR = ">BBHBBHIIQ"


def bin_stats(port, key=b""):
    """The (status, [(name, value)]) of a binary stat request."""
    with RawClient(port) as c:
        c.send(struct.pack(HDR, 0x80, 0x10, len(key), 0, 0, 0, len(key), 0, 0)
               + key)
        out = []
        while True:
            h = c.read_exact(24)
            _m, _op, kl, el, _dt, st, bl, _o, _cas = struct.unpack(HDR, h)
            body = c.read_exact(bl) if bl else b""
            if st != 0:
                return st, []
            if kl == 0:
                return st, out
            out.append((body[el:el + kl].decode(),
                        body[el + kl:].decode()))


@test
def binary_names_as_memcached():
    need_both()
    with Pair(["-o", "no_lru_crawler,no_lru_maintainer"]) as p, \
            RawClient(p.sh.port) as s:
        st, mc = bin_stats(p.mc.port)
        eq(st, 0)
        st, mine = bin_stats(p.sh.port)
        eq(st, 0)
        same_names([k for k, _ in mine], [k for k, _ in mc], "binary stat")
        eq([k for k, _ in mine], names(s), "binary stat = text stats")
        # memcached knows no "shmcached" key; shmcached answers its own
        eq(bin_stats(p.mc.port, b"shmcached")[0], 1, "memcached: Not found")
        st, own = bin_stats(p.sh.port, b"shmcached")
        eq(st, 0)
        eq([k for k, _ in own], names(s, "shmcached"), "binary shmcached")


@test
def stats_shmcached_lines():
    need_both()
    with Pair(["-t", "3"]) as p, RawClient(p.mc.port) as m, \
            RawClient(p.sh.port) as s:
        eq(m.cmd("stats shmcached\r\n"), "ERROR\r\n", "memcached")
        raw = s.cmd("stats shmcached\r\n", b"END\r\n")
        check(raw.endswith("\r\nEND\r\n"), raw)
        own = s.stats("shmcached")
        eq(list(own), OWN, "stats shmcached")
        eq(own["workers"], "3")
        eq(own["repl_state"], "off")
        for n in ("worker_restarts", "worker_crashes", "reloads",
                  "reload_failures", "io_uring_enters", "lock_repairs",
                  "slot_reaps"):
            eq(own[n], "0", n)
        general = names(s)
        check(not set(own) & set(general), "in both: %s"
              % sorted(set(own) & set(general)))
        same_names(general, names(m), "stats -t 3")


def main():
    harness.run_tests("test_stats", TESTS)


if __name__ == "__main__":
    main()
