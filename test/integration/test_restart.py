#!/usr/bin/python3
"""The cache survives the master: a memory file (-e) outlives the server.

  - graceful: SIGTERM, SIGUSR1 and "shutdown graceful" (-A) stop the server
    and mark the file clean; the next start serves every item (warm) and
    says so in its log;
  - kill the tree: under a client load that knows what it wrote, SIGKILL
    the master and every worker at once, restart with the same flags,
    many times: every acknowledged write is readable, no value is torn,
    the file passes `shmcached -e FILE --check` (every engine invariant)
    between rounds, and the time to serve after a restart is printed;
  - incompatible: another -m, or a header with another format version:
    a cold start whose log line says exactly why; never a half-trusted
    file;
  - in use: a second server on the same file refuses to start;
  - no room: a filesystem smaller than the cache (an 8 MB tmpfs, mounted in
    a mount namespace of the test's own; root only) refuses to start with
    a clear error instead of dying later of SIGBUS.
Stdlib only; 127.0.0.1 only; every loop bounded; processes stopped by PID.
"""

import os
import random
import re
import signal
import shutil
import struct
import subprocess
import tempfile
import time

from harness import (RawClient, Server, SkipTest, check, child_pids, eq,
                     free_port, is_shmcached, kill_tree, run_tests,
                     server_binary, skip_under_asan)
from loadgen import start_load, stop_load

FIGURES = {}
TMP = tempfile.mkdtemp(prefix="shmc_restart_")


def need_shmcached():
    if not is_shmcached():
        raise SkipTest("shmcached only (memcached's -e needs a graceful stop)")


def memfile(name):
    return os.path.join(TMP, name)


def stop_with(srv, how):
    """Stops srv by signal or command; waits for the master to exit."""
    if how == "shutdown graceful":
        with RawClient(srv.port) as c:
            c.send("shutdown graceful\r\n")
    else:
        os.kill(srv.pid, how)
    srv.proc.wait(timeout=20)
    return srv.proc.returncode


def fill(port, n, prefix="k"):
    with RawClient(port) as c:
        for i in range(n):
            v = "%s-value-%d" % (prefix, i)
            r = c.cmd("set %s%d 0 0 %d\r\n%s\r\n" % (prefix, i, len(v), v),
                      b"\r\n")
            check(r == "STORED\r\n", "set: %r" % r)


def count_present(port, n, prefix="k"):
    present = 0
    with RawClient(port) as c:
        for i in range(n):
            r = c.cmd("get %s%d\r\n" % (prefix, i), b"END\r\n")
            if ("%s-value-%d" % (prefix, i)) in r:
                present += 1
    return present


def test_graceful_stops_keep_everything():
    need_shmcached()
    path = memfile("graceful")
    port = free_port()
    args = ["-e", path, "-A", "-t", "2"]
    hows = [signal.SIGTERM, signal.SIGUSR1, "shutdown graceful"]
    for round_, how in enumerate(hows):
        srv = Server(args, port=port).start()
        if round_ > 0:
            check("warm start" in srv.log_tail(4000) and
                  "after a graceful stop" in srv.log_tail(4000),
                  "not warm: %s" % srv.log_tail(600))
            eq(count_present(port, 300 * round_), 300 * round_,
               "items kept after %s" % hows[round_ - 1])
        fill(port, 300 * (round_ + 1))
        eq(stop_with(srv, how), 0, "exit status after %s" % how)
        srv.stop()
    srv = Server(args, port=port).start()
    eq(count_present(port, 900), 900, "items kept after shutdown graceful")
    srv.stop()



def check_file(path):
    r = subprocess.run([server_binary(), "-e", path, "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = r.stdout.decode("utf-8", "replace").strip()
    eq(r.returncode, 0, "--check: %s" % out)
    return out


def time_to_serve(srv_args, port):
    """Starts a server; seconds until a get is answered."""
    t0 = time.monotonic()
    srv = Server(srv_args, port=port).start()
    with RawClient(port) as c:
        c.cmd("get probe\r\n", b"END\r\n")
    return srv, time.monotonic() - t0


def test_kill_the_tree_under_load():
    need_shmcached()
    skip_under_asan("SIGKILL of every process on purpose: no report to "
                    "read, and ASan's slowdown changes the timing")
    path = memfile("killtree")
    port = free_port()
    args = ["-e", path, "-t", "3", "-m", "32"]
    rng = random.Random(7)
    srv = Server(args, port=port).start()
    rounds, worst, serve = 0, 0.0, []
    loaders = start_load(port, allow_reset=True, nthreads=6)
    end = time.monotonic() + 25
    while time.monotonic() < end and rounds < 12:
        time.sleep(rng.uniform(0.3, 1.2))
        kill_tree(srv)
        srv.stop()
        check_file(path) if rounds % 3 == 0 else None
        srv, t = time_to_serve(args, port)
        log = srv.log_tail(4000)
        m = re.search(r"warm start in ([0-9.]+) ms", log)
        check(m is not None, "round %d: not warm: %s" % (rounds, log))
        serve.append((float(m.group(1)) / 1000, t))
        rounds += 1
    f = stop_load(loaders)
    srv.stop()
    out = check_file(path)
    serve.sort()
    FIGURES["kill"] = (rounds, f, serve)
    print("  kill the tree: %d rounds, %d ops, %d errors, %d lost writes, "
          "%d resets; recovery: median %.2f ms, max %.2f ms; first reply "
          "after exec: median %.0f ms; %s"
          % (rounds, f["ops"], f["errors"], f["lost"], f["resets"],
             serve[len(serve) // 2][0] * 1000, serve[-1][0] * 1000,
             sorted(x[1] for x in serve)[len(serve) // 2] * 1000, out))
    check(rounds >= 6, "only %d rounds" % rounds)
    eq(f["errors"], 0, "errors %r" % f["first_errors"])
    eq(f["lost"], 0, "acknowledged writes lost")
    check(f["ops"] > 1000, "too little load: %d ops" % f["ops"])


def test_incompatible_file_starts_cold():
    need_shmcached()
    path = memfile("compat")
    port = free_port()
    srv = Server(["-e", path, "-m", "16"], port=port).start()
    fill(port, 50)
    srv.stop()
    # another -m: cold, saying which setting differs
    srv = Server(["-e", path, "-m", "32"], port=port).start()
    log = srv.log_tail(4000)
    check("cold start" in log and "-m (bytes) differs" in log,
          "no reason given: %s" % log)
    eq(count_present(port, 50), 0, "items of the other configuration")
    fill(port, 20)
    srv.stop()
    # a format this binary does not know (the header's version, offset 8)
    with open(path, "r+b") as f:
        f.seek(8)
        (version,) = struct.unpack("<I", f.read(4))
        f.seek(8)
        f.write(struct.pack("<I", version + 1))
    srv = Server(["-e", path, "-m", "32"], port=port).start()
    log = srv.log_tail(4000)
    check("cold start" in log and "format version" in log,
          "no reason given: %s" % log)
    eq(count_present(port, 20), 0, "items of another format")
    srv.stop()


def test_file_in_use_is_refused():
    need_shmcached()
    path = memfile("inuse")
    with Server(["-e", path]) as first:
        second = subprocess.run(
            [server_binary(), "-p", str(free_port()), "-l", "127.0.0.1",
             "-u", "root", "-e", path, "-o", "memory_file_wait=1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = second.stdout.decode("utf-8", "replace")
        check(second.returncode != 0, "a second server started: %s" % out)
        check("in use by another server" in out, "reason: %s" % out)
        check(first.alive(), "the first server died")


def test_no_room_is_refused():
    need_shmcached()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise SkipTest("needs root and unshare(1) to mount a small tmpfs")
    d = tempfile.mkdtemp(prefix="shmc_small_")
    script = ("mount -t tmpfs -o size=8m tmpfs %s || exit 77; "
              "exec %s -p %d -l 127.0.0.1 -u root -m 64 -e %s/cache"
              % (d, server_binary(), free_port(), d))
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-c", script], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    os.rmdir(d)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode == 77:
        raise SkipTest("mounting a tmpfs is not allowed here")
    check(r.returncode != 0, "started on a full filesystem: %s" % out)
    check("cannot reserve" in out and "No space left" in out,
          "unclear error: %s" % out)


def test_metadata_file():
    """FILE.meta, as memcached's: written by a graceful stop, consumed by
    the next start; one that is there but not ours stops the start; a
    kill -9 writes none and the file is still served warm."""
    need_shmcached()
    path = memfile("meta")
    port = free_port()
    args = ["-e", path, "-t", "1"]
    srv = Server(args, port=port).start()
    fill(port, 50)
    eq(stop_with(srv, signal.SIGTERM), 0)
    srv.stop()
    with open(path + ".meta") as f:
        meta = f.read()
    check(meta.startswith("shmcached_meta 1\n") and "curr_items 50\n" in meta,
          "the metadata file: %r" % meta)
    srv = Server(args, port=port).start()
    check(not os.path.exists(path + ".meta"), "consumed by the start")
    eq(count_present(port, 50), 50)
    os.kill(srv.pid, signal.SIGKILL)
    for p in child_pids(srv.pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.proc.wait(10)
    srv.stop()
    check(not os.path.exists(path + ".meta"), "kill -9 writes none")
    srv = Server(args, port=port).start()
    eq(count_present(port, 50), 50, "warm without a .meta")
    eq(stop_with(srv, signal.SIGTERM), 0)
    srv.stop()
    open(path + ".meta", "w").close()           # empty: not ours
    p = subprocess.run([server_binary(), "-u", "root", "-p", str(port),
                        "-l", "127.0.0.1", "-U", "0"] + args,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    check(p.returncode != 0, "an unreadable .meta stops the start")
    check(b".meta is not a metadata file" in p.stdout + p.stderr,
          "and says why: %r" % (p.stdout + p.stderr)[-300:])
    os.unlink(path + ".meta")


def test_figures():
    if "kill" in FIGURES:
        rounds, f, serve = FIGURES["kill"]
        print("  FIGURES restart: rounds=%d lost_writes=%d errors=%d "
              "recovery_median_ms=%.2f recovery_max_ms=%.2f"
              % (rounds, f["lost"], f["errors"],
                 serve[len(serve) // 2][0] * 1000, serve[-1][0] * 1000))


if __name__ == "__main__":
    try:
        run_tests("restart with a memory file", [
            ("graceful_stops", test_graceful_stops_keep_everything),
            ("kill_the_tree", test_kill_the_tree_under_load),
            ("incompatible_file", test_incompatible_file_starts_cold),
            ("file_in_use", test_file_in_use_is_refused),
            ("no_room", test_no_room_is_refused),
            ("metadata_file", test_metadata_file),
            ("figures", test_figures),
        ])
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
