#!/usr/bin/python3
"""stats conns lists the connections of every worker process (as memcached
lists all of its connections), with memcached's state names.

Run: /usr/bin/python3 test_stats_conns.py
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, check, eq  # noqa: E402

SRV = None
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


@test
def every_worker_listed():
    clients = [RawClient(SRV.port) for _ in range(16)]
    ports = set()
    for c in clients:
        eq(c.cmd("version\r\n")[:8], "VERSION ")
        ports.add(c.sock.getsockname()[1])
    clients[0].send("set half 0 0 10\r\nabc")    # a value half sent
    time.sleep(0.6)                              # snapshots: every 0.25 s
    with RawClient(SRV.port) as s:
        out = s.cmd("stats conns\r\n", b"END\r\n")
    seen = set(int(p) for p in re.findall(r":addr tcp:127\.0\.0\.1:(\d+)\r\n",
                                          out))
    check(ports <= seen, "missing: %s" % sorted(ports - seen))
    check(re.search(r":state conn_nread\r\n", out), "the half value")
    check(re.search(r":state conn_listening\r\n", out), "a listener")
    for c in clients:
        c.close()


def main():
    harness.run_with_server("test_stats_conns", TESTS, sys.modules[__name__],
                            ["-t", "4"])


if __name__ == "__main__":
    main()
