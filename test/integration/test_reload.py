#!/usr/bin/python3
"""Workers come and go, the cache stays, clients do not notice.

Under a load of 8 client threads (each with its own keys and versioned
values: a get must return the last acknowledged version or a newer one;
some sets arrive in two pieces, some requests are pipelined, some values
are large), this checks:
  - kill: a random worker is SIGKILLed every 250 ms for 20 s: no
    acknowledged write is lost, no request (or reconnect) hangs (over
    STALL_MAX seconds: a liveness bound, not a speed figure; the longest
    stall is printed), the worker count is restored, the master PID is
    unchanged;
    connections of a killed worker are reset (the client reconnects);
  - hup: 10 SIGHUPs one second apart: no disconnect, no error reply, no
    lost write, every worker PID replaced each time, `reloads` counted;
  - config: threads 2 -> 3 and verbosity applied by SIGHUP; a broken
    config is rejected (reload_failures) while the old one keeps serving;
    listen addresses added and removed (an unchanged one stays open);
  - backoff: a worker that keeps crashing is restarted with backoff and
    the log says so;
  - sigterm: SIGTERM under load exits 0 and removes the pidfile.
Prints the figures (kills, errors, lost writes, longest stall, reloads).
Stdlib only; 127.0.0.1 only; every loop bounded; processes stopped by PID.
"""

import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time

from harness import (REPO_ROOT, RawClient, Server, check, child_pids, eq,
                     server_extra_args,
                     free_port, run_tests, server_binary, is_shmcached,
                     skip_under_asan, SkipTest)
from loadgen import start_load, stop_load

FIGURES = {}

# Longer than this is a hang, not a slow machine (the figures printed say
# how long the longest stall was; 2 shared cores under other builds have
# shown 0.65 s where an idle run shows 0.1 s).
STALL_MAX = 3.0


def workers_of(srv, n, timeout=5.0, exclude=()):
    """Waits until the master has n children, none in exclude."""
    deadline = time.monotonic() + timeout
    kids = []
    while time.monotonic() < deadline:
        kids = child_pids(srv.pid)
        if len(kids) == n and not set(kids) & set(exclude):
            return kids
        time.sleep(0.02)
    raise AssertionError("workers: want %d new, have %r (old %r)"
                         % (n, kids, list(exclude)))


def need_shmcached():
    if not is_shmcached():
        raise SkipTest("shmcached only")


# ---- tests ---------------------------------------------------------------

def test_kill_workers():
    need_shmcached()
    with Server(["-t", "4"]) as srv:
        master = srv.pid
        load = start_load(srv.port, allow_reset=True)
        rng = random.Random(42)
        kills = 0
        end = time.monotonic() + 20.0
        while time.monotonic() < end and kills < 200:
            time.sleep(0.25)
            kids = child_pids(master)
            if kids:
                try:
                    os.kill(rng.choice(kids), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        f = stop_load(load)
        workers_of(srv, 4, timeout=3.0)
        check(srv.alive(), "master died")
        eq(srv.pid, master, "master pid")
        with RawClient(srv.port) as c:
            st = c.stats("shmcached")
        check(int(st["worker_restarts"]) >= kills - 4,
              "worker_restarts %s for %d kills" % (st["worker_restarts"],
                                                   kills))
        print("  kill: %d kills, %d ops, %d resets (expected), %d errors, "
              "%d lost writes, longest stall %.0f ms, worker_restarts %s"
              % (kills, f["ops"], f["resets"], f["errors"], f["lost"],
                 f["stall"] * 1000, st["worker_restarts"]))
        FIGURES["kill"] = (kills, f)
        eq(f["errors"], 0, "errors %r" % f["first_errors"])
        eq(f["lost"], 0, "lost writes")
        check(f["stall"] < STALL_MAX, "stall %.3f s" % f["stall"])
        check(f["ops"] > 1000, "too little load: %d ops" % f["ops"])


def test_hup_reloads():
    need_shmcached()
    with Server(["-t", "3"]) as srv:
        load = start_load(srv.port, allow_reset=False)
        time.sleep(0.5)
        kids = workers_of(srv, 3)
        for i in range(10):
            os.kill(srv.pid, signal.SIGHUP)
            kids = workers_of(srv, 3, timeout=3.0, exclude=kids)
            time.sleep(0.9)
        f = stop_load(load)
        with RawClient(srv.port) as c:
            st = c.stats("shmcached")
        print("  hup: 10 reloads, %d ops, %d disconnects, %d errors, %d lost "
              "writes, longest stall %.0f ms, reloads %s"
              % (f["ops"], f["resets"], f["errors"], f["lost"],
                 f["stall"] * 1000, st["reloads"]))
        FIGURES["hup"] = f
        eq(f["resets"], 0, "disconnects")
        eq(f["errors"], 0, "errors %r" % f["first_errors"])
        eq(f["lost"], 0, "lost writes")
        eq(st["reloads"], "10")
        eq(st["reload_failures"], "0")
        check(f["stall"] < STALL_MAX, "stall %.3f s" % f["stall"])


class ConfServer(Server):
    """A server configured by a --config file (no -p/-l on its command
    line, so the file decides the listen addresses)."""

    def __init__(self, conf, extra=()):
        Server.__init__(self, extra)
        self.conf = conf

    def argv(self):
        args = [self.binary, "--config", self.conf]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        return args + self.extra_args + server_extra_args(self.binary)

    def start(self):
        # the port comes from the config file
        self.port = self.conf_port
        self.logfile = tempfile.TemporaryFile()
        import subprocess
        from harness import _live_servers
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=self.logfile,
                                     stderr=self.logfile, cwd=REPO_ROOT)
        _live_servers.append(self)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            check(self.proc.poll() is None,
                  "server exited: %s" % self.log_tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start: %s" % self.log_tail())


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def wait_for(fn, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = fn()
        if r:
            return r
        time.sleep(0.05)
    return fn()


def connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def test_config_reload():
    need_shmcached()
    d = tempfile.mkdtemp(prefix="shmc_reload_")
    conf = os.path.join(d, "shmcached.conf")
    p1, p2 = free_port(), free_port()
    base = "listen = 127.0.0.1:%d\nmemory-limit = 64\n" % p1
    write(conf, base + "threads = 2\nverbose = 0\n")
    srv = ConfServer(conf)
    srv.conf_port = p1
    srv.start()
    try:
        c = RawClient(p1)
        eq(c.cmd("set keep 0 0 4\r\nsafe\r\n"), "STORED\r\n")
        workers_of(srv, 2)
        # threads 2 -> 3, verbosity, a second listen address
        write(conf, "listen = 127.0.0.1:%d, 127.0.0.1:%d\nmemory-limit = 96\n"
              "threads = 3\nverbose = 1\nidle_timeout = 300\n" % (p1, p2))
        os.kill(srv.pid, signal.SIGHUP)
        workers_of(srv, 3)
        check(wait_for(lambda: c.stats("shmcached").get("workers") == "3"))
        eq(c.stats()["limit_maxbytes"], str(96 << 20))
        sset = c.stats("settings")
        eq(sset["verbosity"], "1")
        eq(sset["idle_timeout"], "300")
        eq(c.cmd("get keep\r\n", b"END\r\n"), "VALUE keep 0 4\r\nsafe\r\nEND\r\n")
        check(connects(p2), "new listener %d" % p2)
        log = srv.log_tail(20000)
        check("keeping listener 127.0.0.1:%d" % p1 in log, log[-2000:])
        check("configuration reloaded" in log, log[-2000:])
        # an option that needs a restart is named, the rest applies
        write(conf, "listen = 127.0.0.1:%d\nmemory-limit = 96\nthreads = 3\n"
              "verbose = 1\nidle_timeout = 300\nmax-item-size = 2m\n" % p1)
        os.kill(srv.pid, signal.SIGHUP)
        check(wait_for(lambda: not connects(p2)), "removed listener %d" % p2)
        check(wait_for(lambda: "-I cannot change without a restart"
                       in srv.log_tail(20000)), srv.log_tail(2000))
        eq(c.stats("settings")["item_size_max"], str(1 << 20))
        # a broken config is rejected; the old one keeps serving
        kids = workers_of(srv, 3)
        write(conf, base + "threads = lots\n")
        os.kill(srv.pid, signal.SIGHUP)
        st = wait_for(lambda: c.stats("shmcached").get("reload_failures")
                      == "1" and c.stats("shmcached"))
        eq(st["reload_failures"], "1")
        eq(st["reloads"], "2")
        eq(st["workers"], "3")
        eq(sorted(child_pids(srv.pid)), sorted(kids), "workers kept")
        check("configuration rejected" in srv.log_tail(20000))
        eq(c.cmd("get keep\r\n", b"END\r\n"), "VALUE keep 0 4\r\nsafe\r\nEND\r\n")
        # an invalid value (validation, not parsing) is rejected too
        write(conf, base + "threads = 2\nmemory-limit = 0\n")
        os.kill(srv.pid, signal.SIGHUP)
        check(wait_for(lambda: c.stats("shmcached").get("reload_failures")
                       == "2"))
        c.close()
        FIGURES["config"] = "threads 2->3, -v, -m, idle_timeout, listen +/-"
    finally:
        srv.stop()
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


def test_crash_backoff():
    need_shmcached()
    skip_under_asan(
        "it sends SIGSEGV to a worker on purpose; ASan catches it as a "
        "crash report and the worker exits 1 instead of dying of signal 11")
    with Server(["-t", "1", "-o", "worker_backoff_ms=50"]) as srv:
        seen = set()
        for _ in range(4):
            kids = workers_of(srv, 1, timeout=3.0, exclude=seen)
            seen.update(kids)
            os.kill(kids[0], signal.SIGSEGV)        # a crash of its own
        workers_of(srv, 1, timeout=5.0, exclude=seen)
        log = srv.log_tail(20000)
        check("it keeps crashing" in log, log[-1500:])
        check("signal 11" in log, log[-1500:])
        with RawClient(srv.port) as c:
            st = c.stats("shmcached")
            eq(st["worker_crashes"], "4")
            eq(c.cmd("version\r\n")[:8], "VERSION ")


def test_sigterm_under_load():
    need_shmcached()
    d = tempfile.mkdtemp(prefix="shmc_term_")
    pidfile = os.path.join(d, "shmcached.pid")
    srv = Server(["-t", "2", "-P", pidfile]).start()
    try:
        check(wait_for(lambda: os.path.exists(pidfile)), "pidfile written")
        load = start_load(srv.port, allow_reset=True)
        time.sleep(0.5)
        os.kill(srv.pid, signal.SIGTERM)
        rc = srv.proc.wait(timeout=15)
        stop_load(load, verify=False)
        eq(rc, 0, "exit status")
        check(not os.path.exists(pidfile), "pidfile removed")
    finally:
        srv.stop()
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        os.rmdir(d)


def test_figures():
    need_shmcached()
    k = FIGURES.get("kill")
    h = FIGURES.get("hup")
    if k:
        print("  FIGURES kill: kills=%d errors=%d lost_writes=%d "
              "longest_stall_ms=%.0f resets=%d"
              % (k[0], k[1]["errors"], k[1]["lost"], k[1]["stall"] * 1000,
                 k[1]["resets"]))
    if h:
        print("  FIGURES hup: reloads=10 errors=%d disconnects=%d "
              "lost_writes=%d longest_stall_ms=%.0f ops=%d"
              % (h["errors"], h["resets"], h["lost"], h["stall"] * 1000,
                 h["ops"]))


if __name__ == "__main__":
    run_tests("reload and respawn", [
        ("hup_reloads", test_hup_reloads),
        ("kill_workers", test_kill_workers),
        ("config_reload", test_config_reload),
        ("crash_backoff", test_crash_backoff),
        ("sigterm_under_load", test_sigterm_under_load),
        ("figures", test_figures),
    ])
