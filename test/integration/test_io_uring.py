#!/usr/bin/python3
"""-o io_uring: the workers serve connections through an io_uring.

What is checked here (the rest of the suite runs through the ring too:
run_all.sh repeats a part of it with SHMC_SERVER_ARGS="-o io_uring"):
  * the ring is in use: "stats shmcached" counts the workers'
    io_uring_enter calls (io_uring_enters grows with requests; 0 without
    the option), "stats settings" says io_uring yes;
  * many connections at once, each pipelining sets and gets of small and
    large values (up to 300 KB: read straight into the item), every reply
    in order and intact;
  * a client that does not read its replies (backpressure) gets them all
    once it reads; one that closes with replies pending, or in the middle
    of a value, leaves the server serving the others;
  * idle_timeout closes a quiet connection served through the ring;
  * SIGHUP under load: connections handed to the new workers with no error.

Run: /usr/bin/python3 test_io_uring.py   (skipped against memcached)
"""

import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (RawClient, Server, SkipTest, check, child_pids,  # noqa: E402
                     eq, is_shmcached)

TESTS = []
RING = ["-o", "io_uring"]


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def enters(port):
    with RawClient(port) as c:
        return int(c.stats("shmcached")["io_uring_enters"])


@test
def ring_in_use():
    with Server(["-t", "2"] + RING) as srv, RawClient(srv.port) as c:
        eq(c.stats("settings").get("io_uring"), "yes")
        before = enters(srv.port)
        for i in range(50):
            eq(c.cmd("set k%d 0 0 1\r\nx\r\n" % i), "STORED\r\n")
        check(enters(srv.port) - before >= 50,
              "io_uring_enter calls grow with requests")
    with Server(["-t", "2"]) as srv, RawClient(srv.port) as c:
        eq(c.stats("settings").get("io_uring"), "no")
        eq(c.cmd("set k 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(enters(srv.port), 0, "no ring without the option")


def pipeline_client(port, tid, errors):
    """Pipelined sets then gets of values of many sizes; checks each reply."""
    try:
        with RawClient(port, timeout=20) as c:
            sizes = [1, 100, 1000, 20000, 70000, 300000]
            vals = {}
            req = b""
            for j, n in enumerate(sizes * 2):
                key = "t%d_%d" % (tid, j)
                v = bytes([97 + (tid + j) % 26]) * n
                vals[key] = v
                req += b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), n, v)
            c.send(req)
            for _ in vals:
                eq(c.read_line(), b"STORED\r\n")
            c.send(b"".join(b"get %s\r\n" % k.encode() for k in vals))
            for key, v in vals.items():
                head = c.read_line()
                eq(head, b"VALUE %s 0 %d\r\n" % (key.encode(), len(v)))
                eq(c.read_exact(len(v) + 2), v + b"\r\n", key)
                eq(c.read_line(), b"END\r\n")
    except Exception as e:          # reported by the main thread
        errors.append("client %d: %r" % (tid, e))


@test
def many_connections_pipelined():
    with Server(["-t", "2", "-m", "256"] + RING) as srv:
        errors = []
        threads = [threading.Thread(target=pipeline_client,
                                    args=(srv.port, t, errors))
                   for t in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        eq(errors, [])
        check(srv.alive(), "server alive")


@test
def backpressure_and_abrupt_closes():
    with Server(["-t", "1"] + RING) as srv:
        with RawClient(srv.port, timeout=20) as c:
            eq(c.cmd(b"set big 0 0 200000\r\n" + b"b" * 200000 + b"\r\n"),
               "STORED\r\n")
            c.send(b"get big\r\n" * 60)         # 12 MB of replies, unread
            time.sleep(0.5)
            want = 60 * (len(b"VALUE big 0 200000\r\n") + 200002 + 5)
            got = 0
            while got < want:
                got += len(c.read_exact(min(65536, want - got)))
            eq(got, want)
        # gone with replies pending; gone in the middle of a value
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"get big\r\n" * 20)
        s.close()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"set half 0 0 100000\r\n" + b"h" * 50000)
        s.close()
        with RawClient(srv.port) as c:
            eq(c.cmd("get half\r\n"), "END\r\n")
            eq(c.cmd("version\r\n")[:8], "VERSION ")
            for _ in range(40):     # the closes are seen asynchronously
                cur = c.stats()["curr_connections"]
                if cur in ("1", "2"):
                    break
                time.sleep(0.05)
            check(cur in ("1", "2"),
                  "closed connections counted out: %s" % cur)


@test
def idle_timeout_closes():
    with Server(["-t", "1", "-o", "idle_timeout=1"] + RING) as srv:
        with RawClient(srv.port) as c:
            eq(c.cmd("version\r\n")[:8], "VERSION ")
            check(c.is_closed(4.0), "closed after idle_timeout")


def loader(port, stop, counts, errors):
    try:
        with RawClient(port, timeout=10) as c:
            i = 0
            while not stop.is_set():
                eq(c.cmd("set r%d 0 0 5\r\nhello\r\n" % (i % 50)), "STORED\r\n")
                eq(c.cmd("get r%d\r\n" % (i % 50), b"END\r\n"),
                   "VALUE r%d 0 5\r\nhello\r\nEND\r\n" % (i % 50))
                i += 1
            counts.append(i)
    except Exception as e:
        errors.append(repr(e))


@test
def reload_under_load():
    with Server(["-t", "2"] + RING) as srv:
        stop = threading.Event()
        counts, errors = [], []
        threads = [threading.Thread(target=loader,
                                    args=(srv.port, stop, counts, errors))
                   for _ in range(8)]
        for t in threads:
            t.start()
        old = sorted(child_pids(srv.pid))
        for _ in range(2):
            time.sleep(0.4)
            os.kill(srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not set(old) & set(child_pids(srv.pid)):
                break
            time.sleep(0.1)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(20)
        eq(errors, [])
        check(len(counts) == 8 and min(counts) > 0, "every client served")
        check(not set(old) & set(child_pids(srv.pid)),
              "the old workers are gone")
        check(enters(srv.port) > 0, "the new workers use the ring")


def main():
    if not is_shmcached():
        print("== test_io_uring: skipped (shmcached only)")
        print("0 passed, 0 failed")
        return
    harness.run_tests("test_io_uring", TESTS)


if __name__ == "__main__":
    main()
