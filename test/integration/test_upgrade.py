#!/usr/bin/python3
"""Binary upgrade on the fly: `kill -USR2 <master>` starts the binary now
installed at the server's path, which takes over the listeners, the cache
and every open connection; the old master exits.

  - under load: a new binary is installed (a new file renamed over the
    path, as a package manager does) and SIGUSR2 sent, three times in a
    row: 0 error replies, 0 disconnects, 0 lost writes; the pidfile names
    the new master; the old master is gone; no process of the server still
    runs a deleted (old) binary; the cache is the same cache;
  - with a memory file (-e): the same, and the file is still warm for a
    restart afterwards;
  - a new binary that cannot start (exits at once) or never becomes ready
    (-o upgrade_timeout): the old server keeps serving, says why in its
    log, and the pidfile still names it.
Stdlib only; 127.0.0.1 only; every loop bounded; processes stopped by PID.
"""

import os
import shutil
import signal
import tempfile
import time

from harness import (RawClient, Server, SkipTest, check, child_pids, eq,
                     is_shmcached, run_tests, server_binary,
                     skip_under_asan)
from loadgen import start_load, stop_load

FIGURES = {}


def need_shmcached():
    if not is_shmcached():
        raise SkipTest("shmcached only")


class Installed(object):
    """A copy of the server binary at a path of its own, which the test
    can replace the way a package upgrade does."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="shmc_upgrade_")
        self.path = os.path.join(self.dir, "shmcached")
        self.pidfile = os.path.join(self.dir, "shmcached.pid")
        self.install_binary()

    def install(self, content, mode=0o755):
        tmp = self.path + ".new"
        with open(tmp, "wb") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.rename(tmp, self.path)       # a new inode at the same path

    def install_binary(self):
        with open(server_binary(), "rb") as f:
            self.install(f.read())

    def install_script(self, body):
        self.install(("#!/bin/sh\n%s\n" % body).encode())

    def master(self):
        # a fresh server accepts (its listeners are open) a moment before
        # its master writes the pidfile: wait for the file, bounded
        deadline = time.monotonic() + 10
        while not os.path.exists(self.pidfile) and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        with open(self.pidfile) as f:
            return int(f.read().strip())

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def wait_for(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s" % what)


def upgrade(inst, timeout=20.0):
    """Sends SIGUSR2 to the master; returns the new master's pid once the
    old one has exited."""
    old = inst.master()
    os.kill(old, signal.SIGUSR2)
    wait_for(lambda: inst.master() != old, timeout, "the new pidfile")
    wait_for(lambda: not alive(old), timeout, "the old master to exit")
    return inst.master()


def server_processes(master):
    return [master] + child_pids(master)


def running_deleted_binary(pids):
    out = []
    for p in pids:
        try:
            if os.readlink("/proc/%d/exe" % p).endswith(" (deleted)"):
                out.append(p)
        except OSError:
            pass
    return out


def stop_master(pid):
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), 20, "the master to stop")


def run_upgrades(extra, rounds):
    inst = Installed()
    srv = Server(["-P", inst.pidfile, "-t", "3"] + extra,
                 binary=inst.path).start()
    master = inst.master()
    try:
        with RawClient(srv.port) as c:
            c.cmd("set marker 0 0 4\r\nsame\r\n")
        load = start_load(srv.port, allow_reset=False, nthreads=6)
        time.sleep(0.5)
        for _ in range(rounds):
            inst.install_binary()
            new = upgrade(inst)
            check(new != master, "the master did not change")
            master = new
            time.sleep(0.5)
        f = stop_load(load)
        procs = server_processes(master)
        stale = running_deleted_binary(procs)
        with RawClient(srv.port) as c:
            marker = c.cmd("get marker\r\n", b"END\r\n")
            st = c.stats()
        return inst, master, f, procs, stale, marker, st
    except Exception:
        try:
            stop_master(inst.master())
        except (OSError, ValueError, AssertionError):
            pass
        inst.cleanup()
        raise


def test_upgrade_under_load():
    need_shmcached()
    skip_under_asan("the new binary is a copy of the ASan build and its "
                    "reports go to the copy's own log path")
    inst, master, f, procs, stale, marker, st = run_upgrades([], 3)
    try:
        FIGURES["upgrade"] = f
        print("  upgrade: 3 upgrades, %d ops, %d errors, %d disconnects, "
              "%d lost writes, longest stall %.0f ms; master now %d, %d "
              "process(es), none on the old binary"
              % (f["ops"], f["errors"], f["resets"], f["lost"],
                 f["stall"] * 1000, master, len(procs)))
        eq(f["errors"], 0, "errors %r" % f["first_errors"])
        eq(f["resets"], 0, "disconnects")
        eq(f["lost"], 0, "lost writes")
        eq(stale, [], "processes still running the old binary")
        eq(int(st["pid"]), master, "stats pid")
        check("same" in marker, "the cache was not kept: %r" % marker)
        check(f["ops"] > 1000, "too little load: %d ops" % f["ops"])
    finally:
        stop_master(master)
        inst.cleanup()


def test_upgrade_with_memory_file():
    need_shmcached()
    skip_under_asan("see upgrade_under_load")
    d = tempfile.mkdtemp(prefix="shmc_upfile_")
    path = os.path.join(d, "cache")
    try:
        inst, master, f, procs, stale, marker, st = run_upgrades(
            ["-e", path], 1)
        try:
            eq(f["errors"], 0, "errors %r" % f["first_errors"])
            eq(f["resets"], 0, "disconnects")
            eq(f["lost"], 0, "lost writes")
            eq(stale, [], "processes still running the old binary")
            check("same" in marker, "the cache was not kept: %r" % marker)
        finally:
            stop_master(master)
            inst.cleanup()
        with Server(["-e", path]) as srv:     # still warm afterwards
            check("warm start" in srv.log_tail(4000) and
                  "after a graceful stop" in srv.log_tail(4000),
                  "not warm: %s" % srv.log_tail(600))
            with RawClient(srv.port) as c:
                check("same" in c.cmd("get marker\r\n", b"END\r\n"),
                      "marker lost")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def failed_upgrade(script, extra, wait, expect):
    inst = Installed()
    srv = Server(["-P", inst.pidfile, "-t", "2"] + extra,
                 binary=inst.path).start()
    try:
        master = inst.master()
        # the port answers once one worker runs: wait for both (-t 2)
        wait_for(lambda: len(child_pids(master)) >= 2, 10, "two workers")
        kids = child_pids(master)
        with RawClient(srv.port) as c:
            c.cmd("set before 0 0 1\r\nx\r\n")
        inst.install_script(script)
        os.kill(master, signal.SIGUSR2)
        wait_for(lambda: expect in srv.log_tail(20000), wait,
                 "the log to say %r" % expect)
        time.sleep(0.2)
        check(srv.alive(), "the old master died")
        eq(inst.master(), master, "pidfile")
        eq(sorted(child_pids(master)), sorted(kids), "workers changed")
        with RawClient(srv.port) as c:
            check("VALUE before" in c.cmd("get before\r\n", b"END\r\n"),
                  "the cache was lost")
            eq(c.cmd("set after 0 0 1\r\ny\r\n"), "STORED\r\n", "set")
        return srv.log_tail(20000)
    finally:
        srv.stop()
        inst.cleanup()


def test_new_binary_that_fails():
    need_shmcached()
    log = failed_upgrade("exit 1", [], 10, "goes on serving")
    check("exited with status 1" in log, "no reason: %s" % log[-600:])


def test_new_binary_never_ready():
    need_shmcached()
    log = failed_upgrade("exec sleep 60", ["-o", "upgrade_timeout=2"], 10,
                         "goes on serving")
    check("was not ready in time" in log, "no reason: %s" % log[-600:])


def test_figures():
    f = FIGURES.get("upgrade")
    if f:
        print("  FIGURES upgrade: errors=%d disconnects=%d lost_writes=%d "
              "longest_stall_ms=%.0f ops=%d"
              % (f["errors"], f["resets"], f["lost"], f["stall"] * 1000,
                 f["ops"]))


if __name__ == "__main__":
    run_tests("binary upgrade", [
        ("upgrade_under_load", test_upgrade_under_load),
        ("upgrade_with_memory_file", test_upgrade_with_memory_file),
        ("new_binary_fails", test_new_binary_that_fails),
        ("new_binary_never_ready", test_new_binary_never_ready),
        ("figures", test_figures),
    ])
