#!/usr/bin/python3
"""-Y FILE: memcached's ASCII authentication. A connection starts
unauthenticated; a "set" whose value is "<user> <password>" from the file
authenticates it (STORED), anything else is refused; auth_cmds/auth_errors
count; SIGHUP reads the file again; -Y forces the text protocol and
refuses -B binary and UDP, as memcached.

Run: /usr/bin/python3 test_auth.py
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, check, eq  # noqa: E402

SRV = None
TESTS = []
AUTHFILE = None


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def login(c, user, pw):
    cred = "%s %s" % (user, pw)
    return c.cmd("set auth 0 0 %d\r\n%s\r\n" % (len(cred), cred))


@test
def unauthenticated_refused():
    with RawClient(SRV.port) as c:
        eq(c.cmd("get foo\r\n"), "CLIENT_ERROR unauthenticated\r\n")
        eq(c.cmd("version\r\n"), "CLIENT_ERROR unauthenticated\r\n")
        eq(c.cmd("set foo 0 0 2\r\nhi\r\n"),
           "CLIENT_ERROR bad authentication token format\r\n")
        eq(login(c, "foo", "bab"), "CLIENT_ERROR authentication failure\r\n")
        eq(login(c, "fo", "bar"), "CLIENT_ERROR authentication failure\r\n")
        eq(c.cmd("set foo 0 0 7\r\nfoo barXX"),
           "CLIENT_ERROR bad command line termination\r\n")


@test
def authenticated_serves():
    with RawClient(SRV.port) as c, RawClient(SRV.port) as d:
        eq(login(c, "foo", "bar"), "STORED\r\n")
        before = c.stats()
        eq(c.cmd("set toast 0 0 2\r\nhi\r\n"), "STORED\r\n")
        eq(c.cmd("get toast\r\n", b"END\r\n"), "VALUE toast 0 2\r\nhi\r\nEND\r\n")
        # another connection authenticates on its own
        eq(d.cmd("get toast\r\n"), "CLIENT_ERROR unauthenticated\r\n")
        eq(login(d, "baaaz", "quux"), "STORED\r\n")
        eq(d.cmd("get toast\r\n", b"END\r\n"), "VALUE toast 0 2\r\nhi\r\nEND\r\n")
        after = c.stats()
        eq(int(after["auth_cmds"]), int(before["auth_cmds"]) + 1, "auth_cmds")
        check(int(after["auth_errors"]) >= 2, "auth_errors")
        st = c.cmd("stats settings\r\n", b"END\r\n")
        check("STAT auth_enabled_ascii %s\r\n" % AUTHFILE in st, "settings")
        check("STAT binding_protocol ascii\r\n" in st, "ascii forced")


@test
def reload_reads_the_file_again():
    if not harness.is_shmcached():
        return
    with open(AUTHFILE, "w") as f:
        f.write("newuser:newpass\n")
    old = set(harness.child_pids(SRV.pid))
    os.kill(SRV.pid, signal.SIGHUP)
    ok = False
    for _ in range(100):
        with RawClient(SRV.port) as c:
            if login(c, "newuser", "newpass") == "STORED\r\n":
                ok = True
                break
        time.sleep(0.05)
    check(ok, "new credentials after SIGHUP")
    # the workers of before the reload may still accept while they retire
    # (the hand-off): the old credentials must be refused once they are gone
    deadline = time.monotonic() + 10
    while old & set(harness.child_pids(SRV.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(not old & set(harness.child_pids(SRV.pid)), "old workers retired")
    with RawClient(SRV.port) as c:
        eq(login(c, "foo", "bar"), "CLIENT_ERROR authentication failure\r\n")
    with open(AUTHFILE, "w") as f:
        f.write("foo:bar\nbaaaz:quux\n")


@test
def refused_combinations():
    if not harness.is_shmcached():
        return
    for extra, msg in ((["-B", "binary"], "cannot allow the BINARY protocol"),
                       (["-U", "11299"], "Cannot use UDP with ascii auth")):
        argv = [harness.server_binary(), "-p", "0", "-Y", AUTHFILE] + extra
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        p = subprocess.run(argv, capture_output=True, timeout=10)
        check(p.returncode != 0, "%s accepted" % extra)
        check(msg in p.stderr.decode(), p.stderr.decode())
    argv = [harness.server_binary(), "-p", "0", "-Y", "/nonexistent/auth"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    p = subprocess.run(argv, capture_output=True, timeout=10)
    check(p.returncode != 0 and b"Could not open authfile" in p.stderr,
          p.stderr.decode())


def main():
    global AUTHFILE
    fd, AUTHFILE = tempfile.mkstemp(prefix="shmc_auth_")
    os.write(fd, b"foo:bar\nbaaaz:quux\n")
    os.close(fd)
    try:
        harness.run_with_server("test_auth", TESTS, sys.modules[__name__],
                                ["-Y", AUTHFILE, "-t", "2"])
    finally:
        os.unlink(AUTHFILE)


if __name__ == "__main__":
    main()
