#!/usr/bin/python3
"""What replication costs, and how fast a peer is brought up to date.

1. Writes: memcaslap's set-only load (1 KB values, 32 connections), and
   bench.sh's mix100 (90% get / 10% set, 100-byte values), against node A
   in three set-ups, alternating rounds (BENCH_REPL_ROUNDS, default
   3, of BENCH_DURATION seconds, default 4):
     single  one shmcached, no -x
     async   A and B replicating (-x), the default
     sync    the same with -o repl_sync on A (a write is answered once B
             acknowledged it)
   For each: ops/s as memcaslap reports them, server CPU per operation
   (utime + stime of every process of both nodes, from /proc, divided by
   the operations),
   and the replication lag A reports (repl_lag_ms, sampled every 100 ms:
   median and max) with the links' state. Medians over the rounds.
2. Full copy: A is filled with BENCH_REPL_MB (default 1024) MB of 1000-byte
   values, then B starts empty; the time from B's start until it holds
   every item, and the rate.
Everything on 127.0.0.1; servers stopped by pid. Prints a table and writes
it to build/bench_repl.md.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import (HOST, ROOT, SHMC, clk_tck, free_port,  # noqa: E402
                       machine, proc_ticks, recv_until, start_server, stats,
                       stop, tree, write_build)

ROUNDS = int(os.environ.get("BENCH_REPL_ROUNDS", "3"))
DURATION = int(os.environ.get("BENCH_DURATION", "4"))
COPY_MB = int(os.environ.get("BENCH_REPL_MB", "1024"))
MEMASLAP = "/usr/bin/memcaslap"


def start(args, mem):
    port = free_port()
    argv = [SHMC, "-u", "root", "-U", "0", "-l", "127.0.0.1", "-p",
            str(port), "-t", "1", "-m", str(mem), "-c", "4096"] + args
    p = start_server(argv, port)
    if p is None:
        raise SystemExit("server did not start: %s" % argv)
    return p, port


def wait_connected(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stats(port, "shmcached").get("repl_state") == "connected":
            return True
        time.sleep(0.05)
    return False


def setup(kind, mem=1024):
    """Returns ([procs], port of A)."""
    kind = kind.split("-")[0]
    if kind == "single":
        p, port = start([], mem)
        return [p], port
    ra, rb = free_port(), free_port()
    extra = ["-o", "repl_sync"] if kind == "sync" else []
    pa, a = start(["-o", "repl_port=%d" % ra, "-x", "127.0.0.1:%d" % rb]
                  + extra, mem)
    pb, b = start(["-o", "repl_port=%d" % rb, "-x", "127.0.0.1:%d" % ra],
                  mem)
    if not (wait_connected(a) and wait_connected(b)):
        raise SystemExit("the pair did not connect")
    return [pa, pb], a


def cpu_ticks(procs):
    return sum(proc_ticks(q) for p in procs for q in tree(p.pid))


def one_round(kind, cfgs, out):
    cfg = cfgs["mix" if kind.endswith("mix") else "set"]
    procs, port = setup(kind)
    try:
        lags, states = [], set()
        halt = threading.Event()

        def sample():
            while not halt.is_set():
                try:
                    st = stats(port, "shmcached")
                    if "repl_lag_ms" in st:
                        lags.append(int(st["repl_lag_ms"]))
                        states.add(st["repl_state"])
                except OSError:
                    pass
                halt.wait(0.1)
        t = threading.Thread(target=sample)
        c0 = cpu_ticks(procs)
        t.start()
        log = os.path.join(out, "%s.log" % kind)
        with open(log, "w") as f:
            subprocess.run([MEMASLAP, "-s", "127.0.0.1:%d" % port, "-F", cfg,
                            "-c", "32", "-w", "1k", "-T", "1", "-t",
                            "%ds" % DURATION], stdout=f,
                           stderr=subprocess.STDOUT, timeout=DURATION + 60)
        halt.set()
        t.join()
        c1 = cpu_ticks(procs)
        lines = [l for l in open(log, errors="replace")
                 if l.startswith("Run time:")]
        if not lines:
            raise SystemExit("memcaslap failed: see %s" % log)
        p = lines[-1].split()
        ops, tps = int(p[4]), int(p[6])
        us = (c1 - c0) / clk_tck() * 1e6 / max(ops, 1)
        st = stats(port, "shmcached")
        return {"ops/s": tps, "CPU us/write (both nodes)": us,  # per op
                "lag ms median": statistics.median(lags) if lags else 0,
                "lag ms max": max(lags) if lags else 0,
                "sync timeouts": int(st.get("repl_sync_timeouts", 0)),
                "states": ",".join(sorted(states)) or "-"}
    finally:
        for p in procs:
            stop(p)


def fill(port, mb):
    n = mb * 1024 * 1024 // 1100
    val = b"v" * 1000
    with socket.create_connection((HOST, port), timeout=60) as s:
        for base in range(0, n, 2000):
            s.sendall(b"".join(b"set k%09d 0 0 1000 noreply\r\n%s\r\n"
                               % (i, val) for i in range(base, min(n, base
                                                                + 2000))))
        s.sendall(b"mn\r\n")
        recv_until(s, b"MN\r\n", timeout=60)
    return int(stats(port)["curr_items"])


def full_copy():
    ra, rb = free_port(), free_port()
    mem = COPY_MB + COPY_MB // 4 + 64
    pa, a = start(["-o", "repl_port=%d" % ra, "-x", "127.0.0.1:%d" % rb],
                  mem)
    pb = None
    try:
        items = fill(a, COPY_MB)
        t0 = time.monotonic()
        pb, b = start(["-o", "repl_port=%d" % rb, "-x", "127.0.0.1:%d" % ra],
                      mem)
        deadline = t0 + 600
        while time.monotonic() < deadline:
            if int(stats(b)["curr_items"]) >= items and \
               stats(a, "shmcached").get("repl_queued_bytes") == "0":
                break
            time.sleep(0.05)
        secs = time.monotonic() - t0
        got = int(stats(b)["curr_items"])
        return items, got, secs
    finally:
        stop(pa)
        if pb is not None:
            stop(pb)


def main():
    if not os.path.exists(MEMASLAP):
        raise SystemExit("memcaslap missing (libmemcached-tools)")
    out = tempfile.mkdtemp(prefix="bench_repl_", dir=os.path.join(ROOT,
                                                                  "build"))
    cfg = {"set": os.path.join(out, "set1k.cfg"),
           "mix": os.path.join(out, "mix100.cfg")}
    with open(cfg["set"], "w") as f:
        f.write("key\n16 16 1\nvalue\n1024 1024 1\ncmd\n0 1.0\n1 0.0\n")
    with open(cfg["mix"], "w") as f:     # bench.sh's mix100
        f.write("key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n")
    kinds = ["single", "async", "sync", "single-mix", "async-mix",
             "sync-mix"]
    res = dict((k, []) for k in kinds)
    for r in range(ROUNDS):
        for k in kinds:
            x = one_round(k, cfg, out)
            res[k].append(x)
            print("  round %d %-6s %8d ops/s %7.2f us CPU/write  lag "
                  "median %s ms max %s ms  sync timeouts %d  states %s"
                  % (r + 1, k, x["ops/s"], x["CPU us/write (both nodes)"],
                     x["lag ms median"], x["lag ms max"], x["sync timeouts"],
                     x["states"]))
            sys.stdout.flush()
    rows = ["| load (32 conns) | set-up | ops/s | vs single | CPU us/op (all "
            "processes) | lag ms (median / max) |",
            "|---|---|---|---|---|---|"]
    for k in kinds:
        base = statistics.median(x["ops/s"] for x in
                                 res["single-mix" if k.endswith("mix")
                                     else "single"])
        ops = statistics.median(x["ops/s"] for x in res[k])
        cpu = statistics.median(x["CPU us/write (both nodes)"]
                                for x in res[k])
        lag = "-" if k.startswith("single") else "%s / %s" % (
            statistics.median(x["lag ms median"] for x in res[k]),
            max(x["lag ms max"] for x in res[k]))
        load = ("mix100: 90% get / 10% set, 100 B" if k.endswith("mix")
                else "set-only, 1 KB")
        rows.append("| %s | %s | %d | %.2f | %.2f | %s |" % (
            load, k.split("-")[0], ops, ops / base, cpu, lag))
    items, got, secs = full_copy()
    rows.append("")
    rows.append("Full copy to an empty peer: %d MB, %d items of 1000 bytes:"
                " %d items in %.2f s (%.0f MB/s)" % (
                    COPY_MB, items, got, secs, COPY_MB / secs))
    text = "\n".join(rows)
    head = ("## Replication (test/bench/repl.py, %d rounds x %d s, -t 1)\n\n"
            "machine: %s\n\n" % (ROUNDS, DURATION, machine()))
    print(head + text)
    write_build("bench_repl.md", head + text + "\n")


if __name__ == "__main__":
    main()
