#!/usr/bin/python3
"""watch: memcached's log lines (item_get, item_store, conn_new,
conn_close) from every worker process to a watcher connected to one of
them, skipped=N when a watcher falls behind, log_watchers in stats, -W,
and the replies for bad requests.

Run: /usr/bin/python3 test_watch.py
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, check, eq  # noqa: E402

SRV = None
TESTS = []
GET = re.compile(r"^ts=\d+\.\d+ gid=\d+ type=item_get key=(\S+) "
                 r"status=(found|not_found) clsid=\d+ cfd=\d+ size=(\d+)$")
STORE = re.compile(r"^ts=\d+\.\d+ gid=\d+ type=item_store key=(\S+) "
                   r"status=(\w+) cmd=(\w+) ttl=\d+ clsid=\d+ cfd=\d+ "
                   r"size=(\d+)$")


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


class Watcher(object):
    def __init__(self, port, what=""):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(5)
        self.f = self.s.makefile("rb")
        self.s.sendall(("watch %s\r\n" % what).encode())
        eq(self.f.readline(), b"OK\r\n", "watch " + what)

    def line(self):
        return self.f.readline().decode().rstrip("\n")

    def close(self):
        self.f.close()
        self.s.close()


@test
def fetchers_from_every_worker():
    w = Watcher(SRV.port, "fetchers")
    # many connections: the server's -t 4 workers share them out
    clients = [RawClient(SRV.port) for _ in range(12)]
    for i, c in enumerate(clients):
        eq(c.cmd("get wkey%d\r\n" % i), "END\r\n")
    seen = set()
    for _ in range(len(clients)):
        m = GET.match(w.line())
        check(m, "item_get line")
        eq(m.group(2), "not_found")
        seen.add(m.group(1))
    eq(seen, set("wkey%d" % i for i in range(len(clients))))
    for c in clients:
        c.close()
    w.close()


@test
def mutations_and_sizes():
    w = Watcher(SRV.port, "fetchers mutations")
    with RawClient(SRV.port) as c:
        eq(c.cmd("set a%2Cb 0 0 4\r\nvbar\r\n"), "STORED\r\n")
        eq(c.cmd("add a%2Cb 0 0 1\r\nx\r\n"), "NOT_STORED\r\n")
        eq(c.cmd("get a%2Cb\r\n", b"END\r\n"), "VALUE a%2Cb 0 4\r\nvbar\r\nEND\r\n")
    m = GET.match(w.line())
    check(m and m.group(2) == "not_found" and m.group(3) == "0", "get before set")
    eq(m.group(1), "a%252Cb", "key URI-encoded")
    m = STORE.match(w.line())
    check(m, "item_store line")
    eq((m.group(2), m.group(3), m.group(4)), ("stored", "set", "4"))
    m = GET.match(w.line())
    check(m and m.group(2) == "found" and m.group(3) == "4", "get before add")
    m = STORE.match(w.line())
    eq((m.group(2), m.group(3)), ("not_stored", "add"))
    m = GET.match(w.line())
    check(m and m.group(2) == "found" and m.group(3) == "4", "the get")
    w.close()


def lines_of(w, port, n):
    """The next n lines about the client port `port` (closes of earlier
    tests' connections may still arrive: memcached's test says so too)."""
    got = []
    while len(got) < n:
        l = w.line()
        if " rport=%d " % port in l:
            got.append(l)
    return got


@test
def connevents():
    w = Watcher(SRV.port, "connevents")
    c = socket.create_connection(("127.0.0.1", SRV.port))
    port = c.getsockname()[1]
    c.sendall(b"quit\r\n")
    new, close = lines_of(w, port, 2)
    check(re.match(r"^ts=\S+ gid=\d+ type=conn_new rip=127\.0\.0\.1 "
                   r"rport=\d+ transport=tcp cfd=\d+$", new), "conn_new")
    check(re.search(r"type=conn_close .* transport=tcp reason=normal cfd=",
                    close), "conn_close normal: %r" % close)
    c.close()
    c = socket.create_connection(("127.0.0.1", SRV.port))
    port = c.getsockname()[1]
    c.sendall(b"GET / HTTP/1.1\r\n")
    new, close = lines_of(w, port, 2)
    check("reason=error" in close, "conn_close error: %r" % close)
    c.close()
    w.close()


@test
def slow_watcher_skips():
    w = Watcher(SRV.port, "fetchers")
    with RawClient(SRV.port) as c:
        pad = "X" * 180
        for i in range(5000):
            c.send("get slow%d%s\r\n" % (i, pad))
            c.read_until("END\r\n")
        found = False
        for _ in range(20000):
            l = w.line()
            if l.startswith("skipped="):
                found = True
                check(int(l[8:]) > 0, "skipped count")
                check(GET.match(w.line()), "a line after the skip")
                break
        check(found, "no skipped= line")
        st = c.stats()
        check(int(st["log_watcher_skipped"]) > 0, "log_watcher_skipped")
        check(int(st["log_worker_written"]) >= 5000, "log_worker_written")
    w.close()


@test
def watcher_stats_and_errors():
    with RawClient(SRV.port) as c:
        time.sleep(0.2)
        base = int(c.stats()["log_watchers"])
        w = Watcher(SRV.port, "mutations")
        eq(int(c.stats()["log_watchers"]), base + 1, "log_watchers")
        w.close()
        for _ in range(50):
            if int(c.stats()["log_watchers"]) == base:
                break
            time.sleep(0.05)
        eq(int(c.stats()["log_watchers"]), base, "watcher gone")
        eq(c.cmd("watch bogus\r\n"), "ERROR\r\n")
        eq(c.cmd("mn\r\nwatch\r\n", b"watch\r\n"),
           "MN\r\nERROR cannot pipeline other commands before watch\r\n")
    with Server(["-W"]) as srv, RawClient(srv.port) as c:
        eq(c.cmd("watch\r\n"), "CLIENT_ERROR watch commands not allowed\r\n")


def main():
    harness.run_with_server("test_watch", TESTS, sys.modules[__name__],
                            ["-t", "4"])


if __name__ == "__main__":
    main()
