#!/usr/bin/python3
"""The shutdown command (-A): "shutdown" stops the server at once,
"shutdown graceful" lets requests in flight finish, as memcached (its
SIGINT and SIGUSR1); without -A it is refused; other modes are refused.

Run: /usr/bin/python3 test_shutdown.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ConnectionClosed, RawClient, Server, check, eq  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def wait_exit(srv):
    for _ in range(200):
        if srv.proc.poll() is not None:
            return srv.proc.returncode
        time.sleep(0.05)
    raise AssertionError("the server did not stop")


@test
def refused_without_A():
    with Server([]) as srv, RawClient(srv.port) as c:
        eq(c.cmd("shutdown\r\n"), "ERROR: shutdown not enabled\r\n")
        check(srv.alive(), "still running")


@test
def bad_mode():
    with Server(["-A"]) as srv, RawClient(srv.port) as c:
        eq(c.cmd("shutdown now\r\n"), "CLIENT_ERROR invalid shutdown mode\r\n")
        check(srv.alive(), "still running")


@test
def plain_and_graceful_stop():
    for how in ("shutdown\r\n", "shutdown graceful\r\n"):
        with Server(["-A"]) as srv, RawClient(srv.port) as c:
            c.send(how)
            try:
                eq(c.read_available(1.0), b"", "no reply")
            except ConnectionClosed:
                pass
            eq(wait_exit(srv), 0, how.strip())


def main():
    harness.run_tests("test_shutdown", TESTS)


if __name__ == "__main__":
    main()
