#!/usr/bin/python3
"""The hash table grows as items grow (memcached's hash_power_level).

  - grows under load: a server started with -o hashpower=12 (4096
    buckets) while a filler writes new keys (pipelined, each
    acknowledgment recorded) and the versioned load of loadgen.py runs:
    hash_power_level rises past several doublings, hash_bytes follows it,
    hash_is_expanding goes back to 0, the load sees no error, and every
    acknowledged key is there with its value (the level is sampled while
    the filler runs: it is seen to rise from 12 one doubling at a time);
  - a worker killed while it grows: the same, with a random worker
    SIGKILLed every 150 ms, and every 50 ms while a doubling is under
    way: nothing acknowledged is lost, the table still grows to its end;
  - no_hashexpand: the table keeps its size, every item is found;
  - memory file: the whole process tree SIGKILLed in the middle of a
    doubling, the server restarted on the same -e file: a warm start that
    keeps every acknowledged key, finishes the doubling, and passes
    `shmcached -e FILE --check`.
Stdlib only; 127.0.0.1 only; every loop bounded; processes stopped by PID.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import (ConnectionClosed, RawClient, Server, SkipTest, check,
                     child_pids, eq, free_port, is_shmcached, kill_tree,
                     run_tests, server_binary)
from loadgen import start_load, stop_load

TMP = tempfile.mkdtemp(prefix="shmc_hashgrow_")
BATCH = 100


def need_shmcached():
    if not is_shmcached():
        raise SkipTest("shmcached only (starts with -o hashpower=12 and "
                       "kills its processes)")


def value(k):
    return b"fv%d:" % k + b"y" * (k % 40)


class Filler(threading.Thread):
    """Writes keys f0, f1, ... in pipelined batches, and remembers which
    ones the server acknowledged (STORED); a batch cut by a lost
    connection leaves its unanswered keys unknown (not checked)."""

    def __init__(self, port, limit, pace=0.0):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.limit = limit
        self.pace = pace            # seconds between batches
        self.acked = []
        self.next = 0
        self.errors = []
        self.resets = 0
        self.halt = threading.Event()

    def batch(self, c):
        keys = range(self.next, min(self.next + BATCH, self.limit))
        self.next = keys[-1] + 1
        c.send(b"".join(b"set f%d 0 0 %d\r\n%s\r\n" % (k, len(value(k)),
                                                       value(k))
                        for k in keys))
        for k in keys:
            r = c.read_line()
            if r != b"STORED\r\n":
                self.errors.append("set f%d: %r" % (k, r))
                continue
            self.acked.append(k)

    def run(self):
        c = None
        while not self.halt.is_set() and self.next < self.limit:
            try:
                if c is None:
                    c = RawClient(self.port)
                self.batch(c)
                if self.pace:
                    time.sleep(self.pace)
            except (OSError, socket.timeout, ConnectionClosed) as e:
                self.resets += 1
                if self.resets > 1000:
                    self.errors.append("reconnects: %s" % e)
                    return
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.01)
        if c is not None:
            c.close()


def missing(port, keys):
    """Acknowledged keys that are not there with their value."""
    lost = []
    with RawClient(port, timeout=10) as c:
        for i in range(0, len(keys), BATCH):
            part = keys[i:i + BATCH]
            c.send(b"get " + b" ".join(b"f%d" % k for k in part) + b"\r\n")
            got = {}
            while True:
                line = c.read_line()
                if line == b"END\r\n":
                    break
                _, key, _, n = line.split()
                got[key] = c.read_exact(int(n) + 2)[:-2]
            lost += [k for k in part if got.get(b"f%d" % k) != value(k)]
    return lost


def stats(port, sub=""):
    with RawClient(port) as c:
        return c.stats(sub)


def wait_settled(port, timeout=20.0):
    """Waits until no doubling is due or under way; returns the stats."""
    deadline = time.monotonic() + timeout
    st = stats(port)
    while time.monotonic() < deadline:
        st = stats(port)
        items, level = int(st["curr_items"]), int(st["hash_power_level"])
        if st["hash_is_expanding"] == "0" and items <= 3 * (1 << level) / 2:
            return st
        time.sleep(0.05)
    raise AssertionError("the table did not settle: %r" % (
        dict((k, st[k]) for k in ("curr_items", "hash_power_level",
                                  "hash_is_expanding"))))


def check_level(st, least):
    """The table grew as far as its items need, no further: memcached's
    rule, more than 1.5 items per bucket doubles it."""
    items, level = int(st["curr_items"]), int(st["hash_power_level"])
    check(level >= least, "hash_power_level %d with %d items" % (level, items))
    check(items > 3 * (1 << (level - 1)) / 2,
          "hash_power_level %d is more than %d items need" % (level, items))
    eq(st["hash_bytes"], str((1 << level) * 4), "hash_bytes")
    return level


def levels_while(port, thread, seen):
    """Records hash_power_level (and whether it was expanding) until the
    thread ends."""
    while thread.is_alive():
        st = stats(port)
        seen.add((int(st["hash_power_level"]), st["hash_is_expanding"]))
        time.sleep(0.02)


def test_grows_under_load():
    need_shmcached()
    with Server(["-o", "hashpower=12", "-m", "64", "-t", "2"]) as srv:
        st = stats(srv.port)
        eq(st["hash_power_level"], "12", "starting power")
        eq(st["hash_bytes"], str(4096 * 4), "starting hash_bytes")
        load = start_load(srv.port, allow_reset=False, nthreads=4)
        fill = Filler(srv.port, 120000, pace=0.002)     # 2.5 s or more
        fill.start()
        seen = set()
        levels_while(srv.port, fill, seen)
        fill.join(60)
        f = stop_load(load)
        st = wait_settled(srv.port)
        level = int(st["hash_power_level"])
        print("  grew to 2^%d buckets with %s items; levels seen %s; load: "
              "%d ops, %d errors, %d lost" % (level, st["curr_items"],
                                               sorted(seen), f["ops"],
                                               f["errors"], f["lost"]))
        eq(check_level(st, 17), 17, "hash_power_level for 120000 items")
        rose = sorted(set(l for l, _ in seen))
        check(len(rose) >= 4 and rose[0] == 12,
              "hash_power_level did not rise step by step: %r" % rose)
        eq(fill.errors, [], "filler errors")
        eq(f["errors"], 0, "load errors %r" % f["first_errors"])
        eq(f["lost"], 0, "load lost writes")
        eq(len(fill.acked), 120000, "acknowledged sets")
        eq(missing(srv.port, fill.acked), [], "missing keys")


def test_worker_killed_while_growing():
    need_shmcached()
    with Server(["-o", "hashpower=12", "-m", "64", "-t", "3"]) as srv:
        master = srv.pid
        load = start_load(srv.port, allow_reset=True, nthreads=4)
        fill = Filler(srv.port, 100000, pace=0.006)     # about 6 s
        fill.start()
        rng = random.Random(7)
        kills, grew_at_kill, last = 0, 0, time.monotonic()
        while fill.is_alive() and kills < 200:
            time.sleep(0.005)
            growing = stats(srv.port)["hash_is_expanding"] == "1"
            since = time.monotonic() - last
            if not (growing and since > 0.05) and since < 0.15:
                continue
            kids = child_pids(master)
            if kids:
                try:
                    os.kill(rng.choice(kids), signal.SIGKILL)
                    kills += 1
                    grew_at_kill += growing
                    last = time.monotonic()
                except ProcessLookupError:
                    pass
        fill.join(60)
        f = stop_load(load)
        st = wait_settled(srv.port)
        level = int(st["hash_power_level"])
        print("  %d workers killed (%d while the table was doubling), "
              "grew to 2^%d, %d acknowledged sets, load: %d ops, %d resets, "
              "%d errors, %d lost, lock_repairs %s" %
              (kills, grew_at_kill, level, len(fill.acked), f["ops"],
               f["resets"], f["errors"], f["lost"],
               stats(srv.port, "shmcached").get("lock_repairs", "?")))
        check(kills >= 5, "only %d kills" % kills)
        check_level(st, 16)
        eq(srv.pid, master, "master pid")
        eq(fill.errors, [], "filler errors")
        eq(f["errors"], 0, "load errors %r" % f["first_errors"])
        eq(f["lost"], 0, "load lost writes")
        check(len(fill.acked) > 90000, "acknowledged %d" % len(fill.acked))
        eq(missing(srv.port, fill.acked), [], "missing keys")


def test_no_hashexpand():
    need_shmcached()
    with Server(["-o", "hashpower=12,no_hashexpand", "-m", "64"]) as srv:
        fill = Filler(srv.port, 30000)
        fill.run()
        time.sleep(0.5)             # several looks at the item count
        st = stats(srv.port)
        eq(st["hash_power_level"], "12", "power with no_hashexpand")
        eq(st["hash_is_expanding"], "0", "hash_is_expanding")
        eq(st["curr_items"], "30000", "curr_items")
        eq(missing(srv.port, fill.acked), [], "missing keys")


def expanding_soon(port, within=0.2):
    """True when a doubling is seen under way within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if stats(port)["hash_is_expanding"] == "1":
            return True
        time.sleep(0.002)
    return False


def check_file(path):
    r = subprocess.run([server_binary(), "-e", path, "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = r.stdout.decode("utf-8", "replace").strip()
    eq(r.returncode, 0, "--check: %s" % out)


def test_memory_file_killed_mid_doubling():
    need_shmcached()
    path = os.path.join(TMP, "cache")
    port = free_port()
    args = ["-e", path, "-o", "hashpower=12", "-m", "64", "-t", "2"]
    srv = Server(args, port=port).start()
    fill = Filler(srv.port, 60000)
    fill.run()
    eq(fill.errors, [], "filler errors")
    # the doublings follow the fill: kill the tree while one is under way
    # (more keys until one is caught; 200000 at most, far from evictions)
    while not expanding_soon(port):
        check(fill.next < 200000, "never caught a doubling under way")
        extra = Filler(port, fill.next + 20000)
        extra.next = fill.next
        extra.run()
        fill.acked += extra.acked
        fill.next = extra.next
    before = stats(port)
    kill_tree(srv)
    size = os.path.getsize(path)
    srv = Server(args, port=port).start()
    log = srv.log_tail(4000)
    check("warm start" in log, "not warm: %s" % log[-600:])
    st = wait_settled(port)
    print("  killed at 2^%s (expanding %s) with %s items; warm restart "
          "finished at 2^%s; file %.1f MB" % (
              before["hash_power_level"], before["hash_is_expanding"],
              before["curr_items"], st["hash_power_level"], size / 1e6))
    check(int(st["hash_power_level"]) >= int(before["hash_power_level"]),
          "power went back")
    check_level(st, 16)
    eq(missing(port, fill.acked), [], "missing keys after the restart")
    srv.stop()
    check_file(path)


if __name__ == "__main__":
    try:
        run_tests("hash table growth", [
            ("grows_under_load", test_grows_under_load),
            ("worker_killed_while_growing", test_worker_killed_while_growing),
            ("no_hashexpand", test_no_hashexpand),
            ("memory_file_killed_mid_doubling",
             test_memory_file_killed_mid_doubling),
        ])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
