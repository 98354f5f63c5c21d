#!/usr/bin/python3
"""The segmented LRU and its maintainer, black-box (memcached's defaults).

  - expired items are reclaimed by the maintainer within a second or two,
    without a crawl, and counted in "reclaimed";
  - "stats items" shows the segments: new items in HOT, the maintainer
    moving them to COLD (moves_to_cold), an item fetched twice rescued to
    WARM (moves_to_warm), lru_maintainer_juggles growing;
  - scan resistance: in a small cache, an item fetched twice survives a
    flood of one-time keys that evicts everything else; with
    -o no_lru_maintainer (memcached's flat LRU) the same flood evicts it;
  - temporary_ttl: short-lived items go to TEMP and are never evicted;
  - "watch evictions" streams memcached's type=eviction lines;
  - a worker killed while the maintainer runs leaves every invariant whole
    (the server keeps serving, the items are there).
Stdlib only; 127.0.0.1 only; every loop bounded; processes stopped by PID.
"""

import os
import re
import signal
import time

from harness import (RawClient, Server, SkipTest, check, child_pids, eq,
                     is_shmcached, run_tests)


def items_stats(c):
    return c.stats("items")


def wait_for(what, fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def maintainer_reclaims():
    with Server(["-m", "8"]) as srv, RawClient(srv.port) as c:
        for i in range(10):
            eq(c.cmd("set ttl%d 0 1 2\r\nok\r\n" % i).strip(), "STORED")
        wait_for("10 reclaimed",
                 lambda: c.stats().get("reclaimed") == "10", 6)
        eq(c.stats()["curr_items"], "0")
        eq(c.stats()["crawler_reclaimed"], "0", "the maintainer's, not the "
           "crawler's")


def segments_move():
    with Server(["-m", "8"]) as srv, RawClient(srv.port) as c:
        val = "v" * 1000
        for i in range(50):
            c.cmd("set k%d 0 0 %d\r\n%s\r\n" % (i, len(val), val))
        st = items_stats(c)
        cls = [k.split(":")[1] for k in st if k.endswith(":number")][0]
        eq(st["items:%s:number_hot" % cls], "50", "new items are HOT")
        j0 = int(c.stats()["lru_maintainer_juggles"])
        wait_for("moves to COLD", lambda: int(items_stats(c).get(
            "items:%s:moves_to_cold" % cls, 0)) > 0)
        st = items_stats(c)
        check(int(st["items:%s:number_cold" % cls]) > 0, "COLD filled")
        c.cmd("get k0\r\n", b"END\r\n")
        c.cmd("get k0\r\n", b"END\r\n")         # fetched twice: ACTIVE
        wait_for("k0 in WARM", lambda: items_stats(c).get(
            "items:%s:number_warm" % cls) == "1")
        check(int(items_stats(c)["items:%s:moves_to_warm" % cls]) >= 1,
              "moves_to_warm")
        check(int(c.stats()["lru_maintainer_juggles"]) > j0, "juggles")


def flood(extra):
    """A hot item (fetched between every 100 sets), and 3000 one-time 10 KB
    keys through a 4 MB cache: is the item still there? (The flat LRU moves
    an item to its head at most once a minute: its fetches do not save
    it.)"""
    with Server(["-m", "4"] + extra) as srv, RawClient(srv.port) as c:
        val = "c" * 10000
        eq(c.cmd("set canary 0 0 %d\r\n%s\r\n" % (len(val), val)).strip(),
           "STORED")
        time.sleep(1.5)                         # let it settle (COLD)
        for _ in range(2):
            check(c.cmd("get canary\r\n", b"END\r\n").startswith("VALUE"),
                  "canary present")
        time.sleep(0.3)
        for base in range(0, 3000, 100):
            c.send("".join("set s%d 0 0 %d noreply\r\n%s\r\n"
                           % (i, len(val), val)
                           for i in range(base, base + 100)))
            eq(c.cmd("mn\r\n").strip(), "MN")
            if not c.cmd("get canary\r\n", b"END\r\n").startswith("VALUE"):
                return False
        check(int(c.stats()["evictions"]) > 2000, "the flood evicted")
        return c.cmd("get canary\r\n", b"END\r\n").startswith("VALUE")


def scan_resistance():
    check(flood([]), "segmented: the canary survives the flood")
    check(not flood(["-o", "no_lru_maintainer"]),
          "flat: the flood evicts it")


def temp_lru():
    with Server(["-m", "2", "-o", "temporary_ttl=61"]) as srv, \
            RawClient(srv.port) as c:
        check("STAT temp_lru yes" in c.cmd("stats settings\r\n", b"END\r\n"),
              "temp_lru in stats settings")
        val = "t" * 60000
        eq(c.cmd("set temp 0 30 %d\r\n%s\r\n" % (len(val), val)).strip(),
           "STORED")
        for i in range(100):
            c.send("set long%d 0 3600 %d noreply\r\n%s\r\n" % (i, len(val),
                                                              val))
        eq(c.cmd("mn\r\n").strip(), "MN")
        st = items_stats(c)
        temp = [k for k in st if k.endswith(":number_temp")]
        check(temp and st[temp[0]] == "1", "one item in TEMP: %r" % temp)
        check(int(c.stats()["evictions"]) > 0, "evictions happened")
        check(c.cmd("get temp\r\n", b"END\r\n").startswith("VALUE"),
              "TEMP is never evicted")


def watch_evictions():
    """ "watch evictions" shows memcached's type=eviction line for every
    item evicted, from the worker that evicted it."""
    with Server(["-m", "2", "-t", "1"]) as srv, RawClient(srv.port) as w, \
            RawClient(srv.port) as c:
        eq(w.cmd("watch evictions\r\n"), "OK\r\n")
        val = "e" * 50000
        for i in range(60):
            c.send("set ev%d 0 0 %d noreply\r\n%s\r\n" % (i, len(val), val))
        eq(c.cmd("mn\r\n").strip(), "MN")
        line = w.read_until(b"\n", timeout=5).decode()   # memcached: \n
        check(re.match(r"ts=\d+\.\d+ gid=\d+ type=eviction key=ev0 "
                       r"fetch=no ttl=-1 la=\d+ clsid=\d+ size=50000\n$",
                       line), "eviction line: %r" % line)
        check(int(c.stats()["evictions"]) > 0, "evictions counted")


def worker_killed_while_maintaining():
    if not is_shmcached():
        raise SkipTest("shmcached only")
    with Server(["-m", "8", "-t", "2"]) as srv:
        val = "w" * 500
        with RawClient(srv.port) as c:
            for i in range(2000):
                c.send("set w%d 0 0 %d noreply\r\n%s\r\n" % (i, len(val), val))
            eq(c.cmd("mn\r\n").strip(), "MN")
        for _ in range(3):
            kids = [p for p in child_pids(srv.pid)
                    if open("/proc/%d/comm" % p).read().strip() ==
                    "shmc-worker"]
            os.kill(kids[0], signal.SIGKILL)
            with RawClient(srv.port) as c:
                for i in range(0, 2000, 7):
                    c.cmd("get w%d\r\n" % i, b"END\r\n")
            time.sleep(0.3)
        with RawClient(srv.port) as c:
            eq(c.stats()["curr_items"], "2000")
            missing = [i for i in range(2000)
                       if not c.cmd("get w%d\r\n" % i,
                                    b"END\r\n").startswith("VALUE")]
            eq(missing, [])


TESTS = [
    ("maintainer_reclaims", maintainer_reclaims),
    ("segments_move", segments_move),
    ("scan_resistance", scan_resistance),
    ("temp_lru", temp_lru),
    ("watch_evictions", watch_evictions),
    ("worker_killed_while_maintaining", worker_killed_while_maintaining),
]

if __name__ == "__main__":
    run_tests("segmented LRU", TESTS)
