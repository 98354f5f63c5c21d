#!/usr/bin/python3
"""Slab rebalancing, black-box: memcached's "slabs reassign" and "slabs
automove" moving pages between classes of a running server, under a client
load that knows what it wrote (loadgen.py).

  - replies and stats: BADCLASS, NOSPARE, SAME, BUSY, CLIENT_ERROR, ERROR
    as memcached 1.6; stats carries slab_reassign_*, slabs_moved,
    slab_global_page_pool; "stats settings" follows "slabs automove";
  - reassign under load: pages of the load's own classes (with room to
    rescue into) and of other classes go to other classes and to the
    global pool, one move after the other, while 8 clients read and write:
    0 error replies, 0 wrong values, 0 acknowledged writes lost, 0
    evictions; a class with no room loses items only as counted
    evictions (slab_reassign_evictions_nomem), never the load's;
  - automove under load: freed memory goes back to the pool (automove=1),
    a new size class takes it; automove=2 moves a page on evictions;
  - kill -9 a worker mid-move: moves keep being asked while workers are
    killed; the master repairs, the moves finish, 0 errors, 0 lost;
  - kill -9 the whole server mid-move with a memory file (-e): the file
    passes --check, the next server finishes the move and serves every
    item.
Stdlib only; 127.0.0.1 only; every loop bounded; processes stopped by PID.
"""

import os
import random
import re
import signal
import subprocess
import tempfile
import time

from harness import (RawClient, Server, SkipTest, check, child_pids, eq,
                     is_shmcached, kill_tree, run_tests, server_binary)
from loadgen import start_load, stop_load

TMP = tempfile.mkdtemp(prefix="shmc_slabs_")


def stats(port, sub=""):
    with RawClient(port) as c:
        return c.stats(sub)


def num(st, k):
    return int(st.get(k, 0))


def value(prefix, i, size):
    """The value of prefix<i>: its own key, repeated, size bytes."""
    s = "%s%d:" % (prefix, i)
    return (s * (size // len(s) + 1))[:size]


def fill(c, prefix, count, size):
    """Sets prefix0..prefix(count-1) of size bytes, pipelined, noreply."""
    per = max(1, min(200, (256 << 10) // (size + 64)))   # ~256 KB a send
    for start in range(0, count, per):
        batch = []
        for i in range(start, min(count, start + per)):
            v = value(prefix, i, size)
            batch.append("set %s%d 0 0 %d noreply\r\n%s\r\n"
                         % (prefix, i, size, v))
        c.send("".join(batch))
    c.cmd("mn\r\n", b"MN\r\n")


def delete_some(c, prefix, count, step):
    c.send("".join("delete %s%d noreply\r\n" % (prefix, i)
                   for i in range(0, count, step)))
    c.cmd("mn\r\n", b"MN\r\n")


def survey(port, prefix, count, size):
    """(present, wrong) for prefix0..: a value must be exactly its own."""
    present = wrong = 0
    with RawClient(port) as c:
        for i in range(count):
            r = c.cmd("get %s%d\r\n" % (prefix, i), b"END\r\n")
            if r == "END\r\n":
                continue
            present += 1
            if ("\r\n%s\r\nEND\r\n" % value(prefix, i, size)) not in r:
                wrong += 1
    return present, wrong


def classes(port):
    """{class: (pages, free_chunks, chunks_per_page)} from stats slabs."""
    out = {}
    for k, v in stats(port, "slabs").items():
        m = re.match(r"(\d+):(total_pages|free_chunks|chunks_per_page)$", k)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = int(v)
    return dict((c, (d.get("total_pages", 0), d.get("free_chunks", 0),
                     d.get("chunks_per_page", 1))) for c, d in out.items())


def wait_idle(port, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if num(stats(port), "slab_reassign_running") == 0:
            return True
        time.sleep(0.01)
    return False


def reassign(port, src, dst):
    with RawClient(port) as c:
        return c.cmd("slabs reassign %d %d\r\n" % (src, dst)).strip()


# ---- replies ---------------------------------------------------------------

def test_replies_and_stats():
    with Server(["-m", "16"]) as srv:
        with RawClient(srv.port) as c:
            fill(c, "r", 2500, 900)             # three pages of one class
            cls = max(classes(srv.port).items(), key=lambda kv: kv[1][0])[0]
            malloced = num(stats(srv.port, "slabs"), "total_malloced")
            for req, want in [
                    ("slabs reassign 1 2", "NOSPARE source class has no "
                                           "spare pages"),
                    ("slabs reassign 1 1", "SAME src and dst class are "
                                           "identical"),
                    ("slabs reassign 1 64", "BADCLASS invalid src or dst "
                                            "class id"),
                    ("slabs reassign x y", "CLIENT_ERROR bad command line "
                                           "format"),
                    ("slabs reassign 1", "ERROR"),
                    ("slabs automove 3", "ERROR"),
                    ("slabs automove nope", "CLIENT_ERROR bad command line "
                                            "format"),
                    ("slabs automove 2", "OK"),
                    ("slabs automove ratio 0.5", "OK"),
                    ("slabs reassign %d 0" % cls, "OK")]:
                eq(c.cmd(req + "\r\n").strip(), want, req)
        check(wait_idle(srv.port), "the move finished")
        st = stats(srv.port)
        for k in ("slab_reassign_rescues", "slab_reassign_chunk_rescues",
                  "slab_reassign_evictions_nomem",
                  "slab_reassign_inline_reclaim", "slab_reassign_busy_items",
                  "slab_reassign_busy_deletes", "slab_reassign_running"):
            check(k in st, "stats has %s" % k)
        eq(num(st, "slabs_moved"), 1, "slabs_moved")
        eq(num(st, "slab_global_page_pool"), 1, "a page in the pool")
        se = stats(srv.port, "settings")
        eq(se["slab_automove"], "2", "stats settings follows the command")
        eq(se["slab_automove_ratio"], "0.50", "and the ratio")
        eq(num(stats(srv.port, "slabs"), "total_malloced"), malloced,
           "total_malloced: the pages carved, the pool's included")
        check(malloced >= 3 << 20, "total_malloced: %d" % malloced)
    if is_shmcached():
        with Server(["-m", "16", "-o", "no_slab_reassign"]) as srv:
            with RawClient(srv.port) as c:
                eq(c.cmd("slabs reassign 1 2\r\n").strip(),
                   "CLIENT_ERROR slab reassignment disabled", "disabled")
            check("slabs_moved" not in stats(srv.port),
                  "no slab_reassign_* stats when disabled, as memcached")


# ---- moves under a load ----------------------------------------------------

def roomy_sources(port):
    """Classes a page can leave without evicting: two pages or more, and a
    page and a half of free chunks elsewhere to rescue its items into."""
    return [cls for cls, (pages, free, per) in classes(port).items()
            if pages >= 2 and free >= per * 3 // 2]


def load_classes_of(port, before):
    """The classes that hold the load's items (they grew during warm-up)."""
    after = classes(port)
    return set(c for c, v in after.items()
               if v[0] > before.get(c, (0, 0, 1))[0] or c <= 3)


def test_reassign_under_load():
    """Pages move among the load's classes, filler classes and the pool,
    one after the other, while 8 clients read and write."""
    rng = random.Random(5)
    # 16 KB chunks: the load's large values and filler c are chained items
    with Server(["-m", "64", "-t", "2", "-o",
                 "slab_automove=0,slab_chunk_max=16384"]) as srv:
        with RawClient(srv.port) as c:
            for prefix, size in (("a", 60), ("b", 100), ("c", 30000)):
                fill(c, prefix, 40000 if size < 1000 else 400, size)
                delete_some(c, prefix, 40000 if size < 1000 else 400, 2)
        before = classes(srv.port)
        load = start_load(srv.port, allow_reset=False)
        time.sleep(0.5)
        mine = load_classes_of(srv.port, before) | set(before)
        moves = 0
        end = time.monotonic() + 8
        while time.monotonic() < end:
            srcs = roomy_sources(srv.port)
            if not srcs:
                break
            src = rng.choice(srcs + [0])
            dst = rng.choice([0] + sorted(mine))
            r = reassign(srv.port, src, dst)
            check(r in ("OK", "NOSPARE source class has no spare pages",
                        "SAME src and dst class are identical"),
                  "reassign %d %d: %s" % (src, dst, r))
            if r == "OK":
                moves += 1
                check(wait_idle(srv.port), "move %d -> %d finished" %
                      (src, dst))
        res = stop_load(load)
        st = stats(srv.port)
        print("  %d moves under load: %d ops, %d errors, %d lost, "
              "rescues %s, chunk rescues %s, inline reclaims %s, busy %s"
              % (moves, res["ops"], res["errors"], res["lost"],
                 st["slab_reassign_rescues"],
                 st["slab_reassign_chunk_rescues"],
                 st["slab_reassign_inline_reclaim"],
                 st["slab_reassign_busy_items"]))
        check(moves >= 20, "moves happened: %d" % moves)
        eq(num(st, "slabs_moved"), moves, "slabs_moved counts them")
        check(num(st, "slab_reassign_rescues") > 0, "items were rescued")
        check(num(st, "slab_reassign_chunk_rescues") > 0, "chunks too")
        eq(res["errors"], 0, "load errors: %s" % res["first_errors"])
        eq(res["lost"], 0, "acknowledged writes lost")
        eq(num(st, "evictions"), 0, "evictions")
        eq(num(st, "slab_reassign_evictions_nomem"), 0, "nomem evictions")
        for prefix, size, n in (("a", 60, 40000), ("c", 30000, 400)):
            present, wrong = survey(srv.port, prefix, n, size)
            eq(wrong, 0, "wrong %s values" % prefix)
            eq(present, n // 2, "%s items kept" % prefix)


def test_full_class_counts_its_evictions():
    """A page leaves a class with no room: its items are evicted and
    counted (slab_reassign_evictions_nomem), the load's are untouched."""
    with Server(["-m", "32", "-o", "slab_automove=0"]) as srv:
        load = start_load(srv.port, allow_reset=False)
        with RawClient(srv.port) as c:
            fill(c, "f", 30000, 3000)           # one class, evicting
        full = max(classes(srv.port).items(), key=lambda kv: kv[1][0])[0]
        count0 = num(stats(srv.port), "curr_items")
        eq(reassign(srv.port, full, 0), "OK", "reassign a full class")
        check(wait_idle(srv.port), "finished")
        res = stop_load(load)
        st = stats(srv.port)
        nomem = num(st, "slab_reassign_evictions_nomem")
        per = classes(srv.port)[full][2]
        eq(nomem, per, "the page's items, evicted and counted")
        eq(num(st, "curr_items"), count0 - nomem, "curr_items")
        eq(res["errors"], 0, "load errors: %s" % res["first_errors"])
        eq(res["lost"], 0, "acknowledged writes lost")


def test_automove_under_load():
    """automove=1: a class emptied by deletes gives its pages to the pool,
    a new class takes them; automove=2: evictions move pages."""
    with Server(["-m", "32", "-t", "2", "-o",
                 "slab_automove=1,slab_automove_window=3"]) as srv:
        load = start_load(srv.port, allow_reset=False)
        with RawClient(srv.port) as c:
            fill(c, "e", 9000, 2000)            # ~22 pages
            delete_some(c, "e", 9000, 1)        # all of them
        deadline = time.monotonic() + 20
        pool = 0
        while time.monotonic() < deadline and pool < 10:
            pool = num(stats(srv.port), "slab_global_page_pool")
            time.sleep(0.2)
        check(pool >= 10, "pages went back to the pool: %d" % pool)
        malloced = num(stats(srv.port, "slabs"), "total_malloced")
        with RawClient(srv.port) as c:
            fill(c, "g", 3000, 5000)            # a new class takes them
        st = stats(srv.port)
        check(num(st, "slab_global_page_pool") < pool, "the pool was used")
        eq(num(stats(srv.port, "slabs"), "total_malloced"), malloced,
           "no new memory while the pool had pages")
        present, wrong = survey(srv.port, "g", 3000, 5000)
        eq(wrong, 0, "wrong values")
        # automove=2: evictions ask for pages
        with RawClient(srv.port) as c:
            eq(c.cmd("slabs automove 2\r\n").strip(), "OK", "automove 2")
            moved = num(stats(srv.port), "slabs_moved")
            fill(c, "h", 20000, 1500)           # evicts in a third class
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and \
                num(stats(srv.port), "slabs_moved") == moved:
            time.sleep(0.05)
        check(num(stats(srv.port), "slabs_moved") > moved,
              "evictions moved pages (automove=2)")
        res = stop_load(load)
        eq(res["errors"], 0, "load errors: %s" % res["first_errors"])
        eq(res["lost"], 0, "acknowledged writes lost")


# ---- processes killed ------------------------------------------------------

def worker_pids(srv):
    kids = child_pids(srv.pid)
    out = []
    for p in kids:
        try:
            with open("/proc/%d/comm" % p) as f:
                if "worker" in f.read():
                    out.append(p)
        except OSError:
            pass
    return out


def test_kill_worker_mid_move():
    """Workers SIGKILLed while pages move under load: the master repairs
    what they held, the moves finish, nothing acknowledged is lost."""
    if not is_shmcached():
        raise SkipTest("shmcached only (worker processes)")
    rng = random.Random(11)
    with Server(["-m", "64", "-t", "2", "-o",
                 "slab_automove=0,slab_chunk_max=16384"]) as srv:
        with RawClient(srv.port) as c:
            fill(c, "k", 30000, 700)
            delete_some(c, "k", 30000, 2)
            fill(c, "m", 300, 30000)
            delete_some(c, "m", 300, 2)
        before = classes(srv.port)
        load = start_load(srv.port, allow_reset=True)
        time.sleep(0.5)
        mine = load_classes_of(srv.port, before) | set(before)
        kills = moves = 0
        end = time.monotonic() + 8
        next_kill = time.monotonic() + 0.3
        while time.monotonic() < end:
            srcs = roomy_sources(srv.port)
            if srcs:
                r = reassign(srv.port, rng.choice(srcs),
                             rng.choice([0] + sorted(mine)))
                moves += r == "OK"
            if time.monotonic() >= next_kill:
                pids = worker_pids(srv)
                if pids:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    kills += 1
                next_kill = time.monotonic() + 0.2 + rng.random() * 0.3
            time.sleep(0.01)
        check(wait_idle(srv.port, 20), "the last move finished")
        res = stop_load(load)
        st = stats(srv.port)
        print("  %d worker kills, %d moves asked, %s moved, %d ops, "
              "%d resets, %d errors, %d lost, %s lock repairs, %s evictions, "
              "%s nomem" % (kills, moves, st["slabs_moved"], res["ops"],
                            res["resets"], res["errors"], res["lost"],
                            st.get("lock_repairs"), st["evictions"],
                            st["slab_reassign_evictions_nomem"]))
        check(kills >= 10, "workers killed: %d" % kills)
        check(num(st, "slabs_moved") >= 10, "pages moved")
        eq(num(st, "evictions") + num(st, "slab_reassign_evictions_nomem"), 0,
           "evictions")
        eq(res["errors"], 0, "load errors: %s" % res["first_errors"])
        eq(res["lost"], 0, "acknowledged writes lost")
        present, wrong = survey(srv.port, "k", 30000, 700)
        eq(wrong, 0, "wrong values")
        eq(present, 15000, "every kept item is there")


def check_file(path):
    out = subprocess.run([server_binary(), "-e", path, "--check"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60).stdout.decode()
    return out


def test_kill_server_mid_move():
    """The whole server SIGKILLed just after a move began (-e): the file is
    sound, the next server finishes the move and has every item."""
    if not is_shmcached():
        raise SkipTest("shmcached only (-e keeps the cache)")
    path = os.path.join(TMP, "mid_move")
    args = ["-m", "64", "-e", path, "-o", "slab_automove=0"]
    srv = Server(args).start()
    with RawClient(srv.port) as c:
        fill(c, "p", 60000, 700)
        delete_some(c, "p", 60000, 3)
    kept = 60000 - len(range(0, 60000, 3))
    big = max(classes(srv.port).items(), key=lambda kv: kv[1][0])[0]
    eq(reassign(srv.port, big, 1), "OK", "move asked")
    time.sleep(random.Random(3).random() * 0.004)
    kill_tree(srv)
    out = check_file(path)
    check(": ok:" in out and "BROKEN" not in out, "--check: %s" % out)
    srv = Server(args, port=srv.port).start()
    try:
        check(wait_idle(srv.port), "the move finished after the restart")
        st = stats(srv.port)
        eq(num(st, "slab_reassign_running"), 0, "running")
        present, wrong = survey(srv.port, "p", 60000, 700)
        eq(wrong, 0, "wrong values")
        eq(present, kept, "every item kept")
    finally:
        srv.stop()


if __name__ == "__main__":
    run_tests("slabs", [
        ("replies_and_stats", test_replies_and_stats),
        ("reassign_under_load", test_reassign_under_load),
        ("full_class_counts_its_evictions",
         test_full_class_counts_its_evictions),
        ("automove_under_load", test_automove_under_load),
        ("kill_worker_mid_move", test_kill_worker_mid_move),
        ("kill_server_mid_move", test_kill_server_mid_move),
    ])
