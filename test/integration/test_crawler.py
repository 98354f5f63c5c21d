#!/usr/bin/python3
"""The lru_crawler commands: enable/disable/sleep/tocrawl, crawl (expired
items reclaimed, lru_crawler_running / lru_crawler_starts), metadump and
mgdump (formats, class filters, a dump larger than the socket buffers read
slowly, -X), with memcached's replies.

Formats and replies are memcached 1.6.18's (t/lru-crawler.t runs against
the same server in make compat); mgdump follows later memcached.

Run: /usr/bin/python3 test_crawler.py
"""

import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, check, eq  # noqa: E402

SRV = None
TESTS = []
META = re.compile(r"^key=(\S+) exp=(-1|\d+) la=(\d+) cas=(\d+) "
                  r"fetch=(yes|no) cls=(\d+) size=(\d+)$")


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def wait_idle(c):
    for _ in range(100):
        if c.stats()["lru_crawler_running"] == "0":
            return
        time.sleep(0.1)
    raise AssertionError("crawler still running")


def read_dump(c, end):
    body = c.read_until(end, timeout=30).decode("latin-1")
    return body[:-len(end)].splitlines()


@test
def control_commands():
    with RawClient(SRV.port) as c:
        eq(c.cmd("lru_crawler sleep 50\r\n"), "OK\r\n")
        eq(c.cmd("lru_crawler sleep 2000000\r\n"),
           "CLIENT_ERROR sleep must be one second or less\r\n")
        eq(c.cmd("lru_crawler sleep x\r\n"),
           "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("lru_crawler tocrawl 100\r\n"), "OK\r\n")
        eq(c.cmd("lru_crawler tocrawl -5\r\n"),
           "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("lru_crawler bogus\r\n"), "ERROR\r\n")
        eq(c.cmd("lru_crawler\r\n"), "ERROR\r\n")
        st = c.cmd("stats settings\r\n", b"END\r\n")
        check("STAT lru_crawler_sleep 50\r\n" in st, "sleep in settings")
        check("STAT lru_crawler_tocrawl 100\r\n" in st, "tocrawl in settings")
        eq(c.cmd("lru_crawler tocrawl 0\r\n"), "OK\r\n")
        eq(c.cmd("lru_crawler disable\r\n"), "OK\r\n")
        check("STAT lru_crawler no\r\n" in c.cmd("stats settings\r\n",
                                                 b"END\r\n"), "disabled")
        eq(c.cmd("lru_crawler crawl all\r\n"),
           "CLIENT_ERROR lru crawler disabled\r\n")
        eq(c.cmd("lru_crawler metadump all\r\n"),
           "CLIENT_ERROR lru crawler disabled\r\n")
        eq(c.cmd("lru_crawler enable\r\n"), "OK\r\n")
        check("STAT lru_crawler yes\r\n" in c.cmd("stats settings\r\n",
                                                  b"END\r\n"), "enabled")


@test
def crawl_reclaims_expired():
    # no LRU maintainer: it would reclaim the expired tails first (counted
    # as "reclaimed", test_lru.py); here only the crawler finds them
    with Server(["-t", "2", "-o", "no_lru_maintainer"]) as srv, \
            RawClient(srv.port) as c:
        eq(c.cmd("flush_all\r\n"), "OK\r\n")
        eq(c.cmd("lru_crawler disable\r\n"), "OK\r\n")  # no background sweep
        for i in range(20):
            eq(c.cmd("set short%d 0 1 2\r\nok\r\n" % i), "STORED\r\n")
            eq(c.cmd("set long%d 0 0 2\r\nok\r\n" % i), "STORED\r\n")
        time.sleep(2.2)
        eq(c.cmd("lru_crawler enable\r\n"), "OK\r\n")
        before = c.stats()
        eq(c.cmd("lru_crawler crawl 64\r\n"), "BADCLASS invalid class id\r\n")
        eq(c.cmd("lru_crawler crawl 0\r\n"), "BADCLASS invalid class id\r\n")
        eq(c.cmd("lru_crawler crawl 1,x\r\n"), "BADCLASS invalid class id\r\n")
        eq(c.cmd("lru_crawler crawl all\r\n"), "OK\r\n")
        wait_idle(c)
        after = c.stats()
        eq(int(after["lru_crawler_starts"]),
           int(before["lru_crawler_starts"]) + 1, "lru_crawler_starts")
        check(int(after["crawler_reclaimed"]) >=
              int(before["crawler_reclaimed"]) + 20, "20 reclaimed")
        eq(after["curr_items"], "20")


@test
def metadump_format():
    with RawClient(SRV.port) as c:
        eq(c.cmd("flush_all\r\n"), "OK\r\n")
        eq(c.cmd("set a%20b 0 100 3\r\nabc\r\n"), "STORED\r\n")
        eq(c.cmd("set plain 0 0 10\r\n0123456789\r\n"), "STORED\r\n")
        eq(c.cmd("get plain\r\n", b"END\r\n")[:11], "VALUE plain")
        c.send("lru_crawler metadump all\r\n")
        lines = read_dump(c, "END\r\n")
        eq(len(lines), 2, "two items: %r" % lines)
        seen = {}
        for l in lines:
            m = META.match(l)
            check(m, "metadump line %r" % l)
            seen[m.group(1)] = m
        check("a%2520b" in seen, "key URI-encoded: %r" % list(seen))
        eq(seen["plain"].group(2), "-1", "exp -1 for never")
        eq(seen["plain"].group(5), "yes", "fetched")
        eq(seen["a%2520b"].group(5), "no", "not fetched")
        check(int(seen["a%2520b"].group(2)) > time.time(), "absolute exp")
        cls = seen["plain"].group(6)
        c.send("lru_crawler metadump %s\r\n" % cls)
        check(any(l.startswith("key=plain ")
                  for l in read_dump(c, "END\r\n")), "class filter")
        c.send("lru_crawler metadump hash\r\n")
        eq(len(read_dump(c, "END\r\n")), 2, "hash walk")
        eq(c.cmd("lru_crawler metadump 99\r\n"), "BADCLASS invalid class id\r\n")
        # replies of the same batch still unsent: memcached refuses
        eq(c.cmd("mn\r\nlru_crawler metadump all\r\n", b"metadump\r\n"),
           "MN\r\nERROR cannot pipeline other commands before metadump\r\n")


@test
def mgdump_replays():
    with RawClient(SRV.port) as c:
        eq(c.cmd("flush_all\r\n"), "OK\r\n")
        for k in ("k1", "k2", "k3"):
            eq(c.cmd("set %s 0 0 1\r\nv\r\n" % k), "STORED\r\n")
        c.send("lru_crawler mgdump all\r\n")
        lines = read_dump(c, "EN\r\n")
        eq(sorted(lines), ["mg k1", "mg k2", "mg k3"])
        for l in lines:          # each line is a command that hits
            eq(c.cmd(l + " v\r\n", b"v\r\n"), "VA 1\r\nv\r\n")
    # a binary-protocol key with a space: base64 and the b flag
    s = socket.create_connection(("127.0.0.1", SRV.port))
    key, val = b"sp ace", b"x"
    extras = struct.pack(">II", 0, 0)
    s.sendall(struct.pack(">BBHBBHIIQ", 0x80, 0x01, len(key), len(extras), 0,
                          0, len(key) + len(extras) + len(val), 0, 0)
              + extras + key + val)
    eq(struct.unpack(">H", s.recv(24)[6:8])[0], 0, "binary set")
    s.close()
    with RawClient(SRV.port) as c:
        c.send("lru_crawler mgdump all\r\n")
        check("mg c3AgYWNl b" in read_dump(c, "EN\r\n"), "base64 key")


@test
def large_dump_read_slowly():
    with RawClient(SRV.port) as c:
        eq(c.cmd("flush_all\r\n"), "OK\r\n")
        n = 30000
        c.send("".join("set bulk%d 0 0 1 noreply\r\nz\r\n" % i
                       for i in range(n)))
        eq(c.cmd("mn\r\n"), "MN\r\n")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
    s.connect(("127.0.0.1", SRV.port))
    s.sendall(b"lru_crawler metadump all\r\nmn\r\n")
    time.sleep(0.5)             # the server waits for us
    data = b""
    s.settimeout(10)
    while not data.endswith(b"END\r\nMN\r\n"):
        chunk = s.recv(8192)
        check(chunk, "connection closed mid-dump")
        data += chunk
    s.close()
    eq(data.count(b"\nkey=bulk") + data.startswith(b"key=bulk"), n,
       "every key once")
    with RawClient(SRV.port) as c:      # the server still serves
        eq(c.cmd("mn\r\n"), "MN\r\n")


@test
def dumps_refused_with_X():
    with Server(["-X"]) as srv, RawClient(srv.port) as c:
        eq(c.cmd("lru_crawler metadump all\r\n"),
           "ERROR metadump not allowed\r\n")
        if harness.is_shmcached():
            eq(c.cmd("lru_crawler mgdump all\r\n"),
               "ERROR key dump not allowed\r\n")


def main():
    harness.run_with_server("test_crawler", TESTS, sys.modules[__name__],
                            ["-t", "2"])


if __name__ == "__main__":
    main()
