#!/usr/bin/python3
"""Helpers for test/bench/bench.sh and test/bench/callgrind.sh (stdlib only).

Subcommands (all talk to 127.0.0.1 only, every loop is bounded):
  freeport                      print a free TCP port on 127.0.0.1
  wait PORT [SECONDS]           wait until PORT answers "version" (exit 1 on timeout)
  cpu PID                       print utime+stime (+cutime+cstime) in clock ticks,
                                summed over PID and all its descendants
                                (children found via /proc/<pid>/task/*/children)
  nprocs PID                    print how many processes are in PID's tree
  tree PID                      print the pids of PID's tree, one a line
  stat PORT NAME...             print "NAME VALUE" lines from "stats"
  fill PORT COUNT SIZE          pipelined "set key:%07d 0 0 SIZE noreply" COUNT times,
                                then print curr_items / bytes / evictions
  load PORT COUNT [PRIME]       COUNT sequential requests, 90% get / 10% set,
                                100-byte values, 1000 keys, one connection
                                (the fixed load of callgrind.sh); PRIME=1
                                first sets the 1000 keys (not counted)
  cgtop FILE BASE REQS [N]      top N functions by self Ir per request:
                                (callgrind output FILE - BASE, the same run
                                without the REQS requests) / REQS
  memaslap_ops FILE             print "OPS TPS SECONDS" parsed from memaslap output
  strace_summary FILE REQS WL SRV TSV
                                system calls per request from `strace -c -f`'s
                                table in FILE: prints them by name, appends the
                                total to TSV (metric "syscalls/request (strace)")
  report TSV MD CMD             median table from the rounds in TSV; print it and
                                write it (with machine info and CMD) to MD
"""
# The helpers they share with restart.py, repl.py and slabs.py (ports, stats,
# /proc process trees, machine info) live in benchutil.py.
import socket
import statistics
import sys
import threading
import time

from benchutil import (HOST, free_port, machine, proc_ticks, recv_until,
                       slab_pages, stats, tree, wait_ready)


def cmd_cpu(pid):
    print(sum(proc_ticks(p) for p in tree(int(pid))))


def cmd_nprocs(pid):
    print(len(tree(int(pid))))


def cmd_tree(pid):
    for p in tree(int(pid)):
        print(p)


def cmd_strace_summary(path, reqs, wl, srv, tsv):
    reqs = int(reqs)
    calls, total = {}, None
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) < 5 or not p[0][0].isdigit():
                continue
            name = p[-1]
            # columns: % time, seconds, usecs/call, calls, [errors], syscall
            n = int(p[3])
            if name == "total":
                total = n
            else:
                calls[name] = n
    if total is None:
        return 1
    parts = ", ".join(f"{k} {v / reqs:.3f}"
                      for k, v in sorted(calls.items(), key=lambda x: -x[1])
                      if v / reqs >= 0.001)
    print(f"  {wl} {srv}: {total / reqs:.3f} system calls/request "
          f"(strace -c -f, {reqs} requests): {parts}")
    with open(tsv, "a") as f:
        f.write(f"{wl}\t{srv}\tsyscalls/request (strace)\t{total / reqs:.4f}\n")
    return 0


def cmd_freeport():
    print(free_port())


def cmd_wait(port, seconds="10"):
    if wait_ready(port, seconds):
        return 0
    print(f"port {port} did not answer within {seconds}s", file=sys.stderr)
    return 1


def cmd_stat(port, *names):
    d = stats(port)
    for n in names:
        print(n, d.get(n, "?"))


def cmd_fill(port, count, size):
    count, size = int(count), int(size)
    val = b"v" * size
    s = socket.create_connection((HOST, int(port)), timeout=60)
    got = bytearray()
    done = threading.Event()

    def drain():                      # noreply: normally nothing comes back
        try:
            while not done.is_set():
                d = s.recv(1 << 16)
                if not d:
                    break
                got.extend(d)
                if b"VERSION" in got[-256:]:
                    break
        except OSError:
            pass

    th = threading.Thread(target=drain, daemon=True)
    th.start()
    t0 = time.time()
    batch = 5000
    for base in range(0, count, batch):
        n = min(batch, count - base)
        s.sendall(b"".join(b"set key:%07d 0 0 %d noreply\r\n%s\r\n" % (i, size, val)
                           for i in range(base, base + n)))
    s.sendall(b"version\r\n")
    th.join(120)
    done.set()
    s.close()
    dt = time.time() - t0
    d = stats(port)
    errs = got.count(b"ERROR")
    items = int(d.get('curr_items', 0))
    pages = slab_pages(port)
    payload = len(b"key:0000000") + size
    print(f"curr_items {items}")
    print(f"bytes {d.get('bytes')}")
    if items:
        # "bytes" counts what each server charges an item (its header, key,
        # value and whatever it stores with them): less the key and value,
        # the overhead per item; the pages per item add the class rounding
        print(f"overhead_per_item {int(d.get('bytes', 0)) / items - payload:.1f}")
        print(f"memory_per_item {pages * 1048576 / items:.1f}")
    print(f"evictions {d.get('evictions')}")
    print(f"limit_maxbytes {d.get('limit_maxbytes')}")
    print(f"fill_seconds {dt:.2f}")
    print(f"error_replies {errs}")


def cmd_load(port, count, prime="1"):
    """Fixed, deterministic load: COUNT request/response round trips."""
    count = int(count)
    s = socket.create_connection((HOST, int(port)), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    val = b"x" * 100
    nkeys = 1000
    for k in range(nkeys if prime == "1" else 0):   # every get hits
        s.sendall(b"set key:%07d 0 0 100\r\n%s\r\n" % (k, val))
        recv_until(s, b"STORED\r\n")
    for i in range(count):
        k = (i * 7919) % nkeys
        if i % 10 == 9:
            s.sendall(b"set key:%07d 0 0 100\r\n%s\r\n" % (k, val))
            recv_until(s, b"STORED\r\n")
        else:
            s.sendall(b"get key:%07d\r\n" % k)
            recv_until(s, b"END\r\n")
    s.close()
    print(count)


def cg_functions(path):
    """{function: self Ir} and program total, via callgrind_annotate."""
    import subprocess
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no",
                          "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    total, fns = 0, {}
    import re
    pat = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$")
    for line in out.splitlines():
        m = pat.match(line)
        if not m:
            continue
        num, rest = int(m.group(1).replace(",", "")), m.group(2).strip()
        if "PROGRAM TOTALS" in rest:
            total = num
            continue
        fns[rest] = fns.get(rest, 0) + num
    return total or sum(fns.values()), fns


def cmd_cgtop(path, base, reqs, n="25"):
    """Self Ir per function per request: (profile with REQS requests -
    profile of the same run without them) / REQS."""
    reqs, n = int(reqs), int(n)
    total, fns = cg_functions(path)
    btotal, bfns = cg_functions(base)
    diff = {f: v - bfns.get(f, 0) for f, v in fns.items()}
    dtotal = total - btotal
    print(f"Ir with load {total:,}, without {btotal:,}: "
          f"{dtotal:,} Ir for {reqs:,} requests = {dtotal / reqs:,.0f} Ir/request")
    print(f"{'Ir/req':>9} {'share':>6}  function (self)")
    for f, v in sorted(diff.items(), key=lambda x: -x[1])[:n]:
        print(f"{v / reqs:9,.0f} {100.0 * v / dtotal:5.1f}%  {f}")


def cmd_memaslap_ops(path):
    # "Run time: 5.0s Ops: 363012 TPS: 120993 Net_rate: 18.1M/s"
    with open(path, errors="replace") as f:
        lines = [l for l in f if l.startswith("Run time:")]
    if not lines:
        print("0 0 0")
        return 1
    p = lines[-1].split()
    secs = float(p[2].rstrip("s"))
    print(int(p[4]), int(p[6]), secs)


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def cmd_report(tsv, md, command):
    # TSV rows: workload server metric value   (one row per round). The
    # first server met is the reference: every other one gets a ratio to it.
    rows = {}
    order, servers = [], []
    with open(tsv) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) != 4:
                continue
            wl, srv, metric, val = p
            key = (wl, metric)
            if key not in rows:
                rows[key] = {}
                order.append(key)
            if srv not in servers:
                servers.append(srv)
            rows[key].setdefault(srv, []).append(float(val))
    ref = servers[0] if servers else "memcached"
    header = ["workload", "metric", ref]
    for srv in servers[1:]:
        header += [srv, f"{srv}/{ref}"]
    header.append("rounds")
    table = []
    for wl, metric in order:
        d = rows[(wl, metric)]
        med = {s: statistics.median(d[s]) for s in servers if d.get(s)}
        r = [wl, metric, fmt(med.get(ref))]
        for srv in servers[1:]:
            v, m = med.get(srv), med.get(ref)
            r += [fmt(v), f"{v / m:.2f}" if m and v is not None else "-"]
        r.append(str(min((len(d.get(s, [])) for s in servers if d.get(s)),
                         default=0)))
        table.append(r)
    widths = [max(len(r[i]) for r in table + [header]) for i in range(len(header))]

    def line(r):
        return "| " + " | ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                                 for i, c in enumerate(r)) + " |"
    sep = "|" + "|".join("-" * (w + 1) + ("-" if i < 2 else ":")
                         for i, w in enumerate(widths)) + "|"
    out = [line(header), sep] + [line(r) for r in table]
    mach = machine()
    text = "\n".join(out)
    print()
    print(f"machine: {mach}")
    print(f"command: {command}")
    print("medians over rounds; ops/s ratio >= 1 is good, latency, CPU and"
          " syscall ratios <= 1 are good, curr_items ratio >= 1 is good, overhead and memory per item <= 1")
    print(text)
    with open(md, "w") as f:
        f.write("# shmcached vs memcached benchmark (`make bench`)\n\n")
        f.write(f"- machine: {mach}\n")
        f.write(f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
        f.write(f"- command: `{command}`\n")
        f.write("- medians over alternating rounds (memcached, shmcached, memcached, ...);"
                " ops/s ratio >= 1 is good, latency, CPU and syscall ratios <= 1 are"
                " good, curr_items ratio >= 1 is good, overhead and memory per item <= 1\n")
        f.write("- CPU/request = utime+stime of all server processes (/proc/<pid>/stat,"
                " master + workers for shmcached) over the round / requests done in"
                " the round\n")
        f.write("- timings on a small machine swing by +-20%: read ratios, not absolute numbers\n\n")
        f.write(text + "\n")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    fn = globals().get("cmd_" + cmd)
    if fn is None:
        print(__doc__)
        return 2
    rc = fn(*args)
    return rc or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
