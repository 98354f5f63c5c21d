#!/usr/bin/python3
"""Memory after a workload shift: slab_automove on and off, shmcached beside
Debian's memcached with the same flags.

For each server and each -o slab_automove=N (0, 1, 2; BENCH_SLABS_MODES):
  -m 64 -t 2 -o slab_automove=N (memcached: slab_reassign too, its default);
  1. the old workload: 1000-byte values, until the cache has evicted
     (every page in one class);
  2. the shift: for BENCH_SLABS_SECONDS (60) a cache-aside client over a
     working set of 200,000 keys of 100-byte values (30 MB of chunks):
     multi-gets of 100 random keys, every miss set at once (noreply).
Every 10 s it samples the hit ratio of the last 10 s and, from "stats
slabs", the memory (pages) of the new values' class; at the end it reports
those, slabs_moved, and the live bytes of the new workload as a share of
the memory limit. Nothing is asserted (timings and ratios vary with the
machine). Prints a table and writes it to build/bench_slabs.md. 127.0.0.1
only; stops only the servers it started, by pid.
"""

import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import (HOST, MEMC, SHMC, free_port, parse_stats,  # noqa: E402
                       start_server, stop, user_flag, write_build)

SECONDS = int(os.environ.get("BENCH_SLABS_SECONDS", "60"))
MODES = [int(x) for x in os.environ.get("BENCH_SLABS_MODES", "0 1 2").split()]
OLD_SIZE, NEW_SIZE, NEW_KEYS, BATCH = 1000, 100, 200000, 100


class Conn(object):
    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def until(self, end):
        while end not in self.buf:
            d = self.s.recv(1 << 20)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        i = self.buf.index(end) + len(end)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def stats(self, sub=""):
        self.s.sendall(("stats %s\r\n" % sub).encode())
        return parse_stats(self.until(b"END\r\n"))

    def sync(self):
        self.s.sendall(b"version\r\n")
        self.until(b"\r\n")


def start(binary, mode):
    port = free_port()
    args = [binary, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "64",
            "-t", "2", "-o", "slab_reassign,slab_automove=%d" % mode]
    proc = start_server(args + user_flag(), port)
    if proc is None:
        raise RuntimeError("%s did not start" % binary)
    return proc, port


def fill_old(c):
    """1000-byte values until the cache has evicted for a while."""
    v = b"o" * OLD_SIZE
    i = 0
    while i < 400000:
        c.s.sendall(b"".join(b"set old:%07d 0 0 %d noreply\r\n%s\r\n"
                             % (i + j, OLD_SIZE, v) for j in range(500)))
        i += 500
        if i % 20000 == 0:
            c.sync()
            if int(c.stats()["evictions"]) > 20000:
                break
    c.sync()


def new_class_pages(c):
    """Pages of the classes holding 100-byte values (chunks under 256)."""
    s = c.stats("slabs")
    pages = 0
    for k, v in s.items():
        if k.endswith(":chunk_size") and int(v) <= 256:
            pages += int(s[k.split(":")[0] + ":total_pages"])
    return pages


def shift(c, rng):
    """The new workload for SECONDS; samples every 10 s."""
    v = b"n" * NEW_SIZE
    samples, gets, hits = [], 0, 0
    t0 = time.monotonic()
    next_sample = t0 + 10
    while time.monotonic() - t0 < SECONDS:
        keys = [b"new:%07d" % rng.randrange(NEW_KEYS) for _ in range(BATCH)]
        c.s.sendall(b"get " + b" ".join(keys) + b"\r\n")
        got = set()
        for line in c.until(b"END\r\n").split(b"\r\n"):
            if line.startswith(b"VALUE "):
                got.add(line.split()[1])
        gets += BATCH
        hits += len(got)
        c.s.sendall(b"".join(b"set %s 0 0 %d noreply\r\n%s\r\n"
                             % (k, NEW_SIZE, v) for k in keys if k not in got))
        if time.monotonic() >= next_sample:
            samples.append((round(time.monotonic() - t0), hits / max(gets, 1),
                            new_class_pages(c)))
            gets = hits = 0
            next_sample += 10
    return samples


def run(name, binary, mode):
    proc, port = start(binary, mode)
    try:
        c = Conn(port)
        fill_old(c)
        samples = shift(c, random.Random(7))
        st = c.stats()
        sl = c.stats("slabs")
        new_bytes = 0
        for k, v in c.stats("items").items():
            if k.endswith(":number"):
                cls = k.split(":")[1]
                if int(sl.get(cls + ":chunk_size", 1 << 30)) <= 256:
                    new_bytes += int(v) * (NEW_SIZE + 11 + 48)
        return {
            "server": name, "mode": mode, "samples": samples,
            "moved": int(st.get("slabs_moved", 0)),
            "share": new_bytes / float(st["limit_maxbytes"]),
        }
    finally:
        stop(proc)


def table(results):
    lines = ["| server | slab_automove | hit ratio at 10 s ... %d s (new "
             "workload) | pages of the new class at the end | slabs_moved "
             "| new workload's live bytes / -m |" % SECONDS,
             "|---|---:|---|---:|---:|---:|"]
    for r in results:
        hits = " ".join("%.2f" % h for _, h, _ in r["samples"])
        pages = r["samples"][-1][2] if r["samples"] else 0
        lines.append("| %s | %d | %s | %d | %d | %.0f%% |"
                     % (r["server"], r["mode"], hits, pages, r["moved"],
                        100 * r["share"]))
    return "\n".join(lines)


def main():
    results = []
    for mode in MODES:
        for name, binary in (("shmcached", SHMC), ("memcached", MEMC)):
            if not os.path.exists(binary):
                continue
            print("%s slab_automove=%d ..." % (name, mode), flush=True)
            results.append(run(name, binary, mode))
    out = table(results)
    cmd = ("BENCH_SLABS_SECONDS=%d /usr/bin/python3 test/bench/slabs.py"
           % SECONDS)
    print(out)
    write_build("bench_slabs.md", "%s\n\n%s\n" % (cmd, out))


if __name__ == "__main__":
    sys.exit(main())
