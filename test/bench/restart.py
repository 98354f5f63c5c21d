#!/usr/bin/python3
"""Time to serve after a restart, for a memory file full of items.

For each cache size (BENCH_RESTART_SIZES, MB; default "64 4096"):
  shmcached -e FILE -m SIZE is filled with 1000-byte values until it
  evicts, then
    kill -9 of the master and every worker, restart with the same flags;
    SIGTERM (graceful), restart with the same flags;
  and for each restart we report the items kept, the engine's own recovery
  time (the "warm start in X ms" log line) and the wall time from exec to
  the first answered get.
  Debian's memcached 1.6.18 is measured the same way with its own -e (it
  restarts warm only after SIGUSR1, its graceful shutdown, and rebuilds its
  hash table at start by walking every item; after kill -9 it starts cold).

The files live in /dev/shm (tmpfs): the sizes need that much free memory
(4 GB by default). Prints a table and writes it to build/bench_restart.md.
Stops only the servers it started, by pid.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import (HOST, MEMC, SHMC, free_port, recv_until,  # noqa: E402
                       stats, stop, tree, user_flag, write_build)

VALUE = 1000


def fill(port, mb):
    """Pipelined noreply sets until the cache has evicted a little."""
    s = socket.create_connection((HOST, port), timeout=120)
    val = b"v" * VALUE
    count = int(mb * 1.15 * 1024 * 1024 / (VALUE + 60))
    batch = 2000
    for base in range(0, count, batch):
        n = min(batch, count - base)
        s.sendall(b"".join(b"set key:%09d 0 0 %d noreply\r\n%s\r\n"
                           % (i, VALUE, val) for i in range(base, base + n)))
    s.sendall(b"version\r\n")
    buf = b""
    while b"VERSION" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return int(stats(port)["curr_items"])


class Proc(object):
    def __init__(self, argv, log):
        self.log = open(log, "wb")
        self.logpath = log
        t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=self.log)
        self.t0 = t0

    def wait_serving(self, port, timeout=600):
        """Seconds from exec until a get is answered."""
        deadline = self.t0 + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, port), timeout=60) as s:
                    s.sendall(b"get probe\r\n")
                    recv_until(s, b"END\r\n", timeout=60)
                return time.monotonic() - self.t0
            except OSError:
                time.sleep(0.001)
        raise RuntimeError("not serving after %d s" % timeout)

    def kill_tree(self):
        pids = tree(self.p.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.p.wait(30)
        time.sleep(0.2)

    def stop(self, sig=signal.SIGTERM):
        stop(self.p, sig, timeout=300, force=False)

    def text(self):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")


def shmc_argv(port, path, mb):
    argv = [SHMC, "-p", str(port), "-l", "127.0.0.1", "-t", "2", "-m",
            str(mb), "-e", path, "-v"]
    return argv + user_flag()


def memc_argv(port, path, mb):
    argv = [MEMC, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "2",
            "-m", str(mb), "-e", path]
    return argv + user_flag()


def restart_once(make_argv, port, path, mb, how, tmp, tag):
    """Fill, stop `how`, restart: (items before, items after, recovery ms
    from the log or None, seconds to serve)."""
    srv = Proc(make_argv(port, path, mb), os.path.join(tmp, tag + ".1.log"))
    srv.wait_serving(port)
    before = fill(port, mb)
    if how == "kill":
        srv.kill_tree()
    else:
        srv.stop(signal.SIGUSR1 if make_argv is memc_argv else signal.SIGTERM)
    time.sleep(1.5)     # memcached refuses a restart within the second it
                        # stopped in ("incompatible ... stop_time")
    srv2 = Proc(make_argv(port, path, mb), os.path.join(tmp, tag + ".2.log"))
    serve = srv2.wait_serving(port)
    after = int(stats(port)["curr_items"])
    m = re.search(r"warm start in ([0-9.]+) ms", srv2.text())
    rec = float(m.group(1)) if m else None
    srv2.stop(signal.SIGQUIT if make_argv is shmc_argv else signal.SIGTERM)
    return before, after, rec, serve


def main():
    sizes = [int(x) for x in os.environ.get("BENCH_RESTART_SIZES",
                                           "64 4096").split()]
    tmp = tempfile.mkdtemp(prefix="shmc_bench_restart_")
    rows = []
    for mb in sizes:
        for name, argv in (("shmcached", shmc_argv), ("memcached", memc_argv)):
            if name == "memcached" and not os.path.exists(MEMC):
                continue
            for how in ("kill", "graceful"):
                path = "/dev/shm/shmc_bench_restart.%d" % os.getpid()
                for p in (path, path + ".meta"):
                    if os.path.exists(p):
                        os.unlink(p)
                port = free_port()
                tag = "%s.%d.%s" % (name, mb, how)
                print("  %-9s -m %5d, %-8s ..." % (name, mb, how), end="",
                      flush=True)
                r = restart_once(argv, port, path, mb, how, tmp, tag)
                print(" %d items, %d kept, serving after %.0f ms"
                      % (r[0], r[1], r[3] * 1000))
                rows.append((name, mb, how) + r)
                for p in (path, path + ".meta"):
                    if os.path.exists(p):
                        os.unlink(p)
    lines = ["| server | -m (MB) | stop | items | kept | recovery (engine) "
             "| first reply after exec |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for name, mb, how, before, after, rec, serve in rows:
        lines.append("| %s | %d | %s | %s | %s | %s | %.0f ms |"
                     % (name, mb, "kill -9 (all processes)" if how == "kill"
                        else "graceful (%s)" % ("SIGTERM" if name ==
                                                "shmcached" else "SIGUSR1"),
                        "{:,}".format(before), "{:,}".format(after),
                        "%.1f ms" % rec if rec is not None else "-",
                        serve * 1000))
    table = "\n".join(lines)
    print(table)
    write_build("bench_restart.md", table + "\n")
    print("logs: %s" % tmp)


if __name__ == "__main__":
    sys.exit(main())
