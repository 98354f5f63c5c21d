#!/usr/bin/python3
"""Every method of pymemcache.client.base.Client (Debian python3-pymemcache,
3.5.x) against the server, with noreply True/False variants, serde of
non-bytes values, and HashClient over two servers.

pymemcache 3.5 has no gat/gats methods (checked: they appear in 4.x); the
raw-socket transcript test covers those commands.

Must run with /usr/bin/python3.
Run: SHMC_SERVER=/usr/bin/memcached /usr/bin/python3 test_pymemcache.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, SkipTest, check, default_threads, eq, eq_padded  # noqa: E402

import pymemcache  # noqa: E402
from pymemcache import serde  # noqa: E402
from pymemcache.client.base import Client  # noqa: E402
from pymemcache.client.hash import HashClient  # noqa: E402
from pymemcache.exceptions import MemcacheClientError  # noqa: E402

SRV = None
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def client(srv=None, **kw):
    kw.setdefault("connect_timeout", 5)
    kw.setdefault("timeout", 5)
    c = Client(("127.0.0.1", (srv or SRV).port), **kw)
    eq(c.flush_all(noreply=False), True, "flush_all")
    return c


def poll(fn, timeout=5.0, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r or time.monotonic() >= deadline:
            return r
        time.sleep(step)


@test
def set_get_noreply_variants():
    c = client()
    eq(c.set("k", b"v"), True)                     # default_noreply=True
    eq(c.set("k2", b"v2", noreply=False), True)
    eq(c.get("k"), b"v")
    eq(c.get("k2"), b"v2")
    eq(c.get("nokey"), None)
    eq(c.get("nokey", default=b"dflt"), b"dflt")
    eq(c.set("f", b"x", flags=123, noreply=False), True)
    with RawClient(SRV.port) as r:
        eq(r.cmd("get f\r\n", b"END\r\n"), "VALUE f 123 1\r\nx\r\nEND\r\n")
    eq(c.set("e", b"", noreply=False), True)
    eq(c.get("e"), b"")
    c.close()


@test
def set_many_get_many():
    c = client()
    eq(c.set_many({"a": b"1", "b": b"2", "c": b"3"}), [])
    eq(c.set_many({"d": b"4", "e": b"5"}, noreply=False), [])
    eq(c.get_many(["a", "b", "c", "d", "e", "nokey"]),
       {"a": b"1", "b": b"2", "c": b"3", "d": b"4", "e": b"5"})
    eq(c.get_many([]), {})
    eq(c.get_multi(["a"]), {"a": b"1"})
    eq(c.set_multi({"m": b"m"}, noreply=False), [])
    eq(c.get("m"), b"m")
    c.close()


@test
def add_replace_append_prepend():
    c = client()
    eq(c.add("k", b"v", noreply=False), True)
    eq(c.add("k", b"w", noreply=False), False)
    eq(c.add("k", b"w"), True)            # noreply: no way to know
    eq(c.get("k"), b"v")
    eq(c.replace("nokey", b"x", noreply=False), False)
    eq(c.replace("k", b"r", noreply=False), True)
    eq(c.replace("k", b"R"), True)
    eq(c.get("k"), b"R")
    eq(c.get("nokey"), None)
    eq(c.append("k", b"_after", noreply=False), True)
    eq(c.prepend("k", b"before_", noreply=False), True)
    eq(c.append("k", b"!"), True)
    eq(c.prepend("k", b"^"), True)
    eq(c.get("k"), b"^before_R_after!")
    eq(c.append("nokey", b"x", noreply=False), False)
    eq(c.prepend("nokey", b"x", noreply=False), False)
    eq(c.get("nokey"), None)
    c.close()


@test
def gets_cas():
    c = client()
    eq(c.gets("nokey"), (None, None))
    c.set("k", b"900", noreply=False)
    v, token = c.gets("k")
    eq(v, b"900")
    check(token.isdigit(), "cas token %r" % token)
    eq(c.cas("k", b"899", token), True)             # cas default noreply=False
    eq(c.get("k"), b"899")
    eq(c.cas("k", b"898", token), False)            # EXISTS
    eq(c.get("k"), b"899")
    eq(c.cas("nokey", b"x", token), None)           # NOT_FOUND
    v, token2 = c.gets("k")
    check(token2 != token, "cas token changes")
    eq(c.cas("k", b"897", token2, noreply=True), True)
    eq(c.get("k"), b"897")
    c.set("k2", b"a", noreply=False)
    many = c.gets_many(["k", "k2", "nokey"])
    eq(sorted(many), ["k", "k2"])
    eq(many["k"][0], b"897")
    eq(many["k2"][0], b"a")
    eq(c.cas("k2", b"b", many["k2"][1]), True)
    c.close()


@test
def delete_and_delete_many():
    c = client()
    c.set_many({"a": b"1", "b": b"2", "c": b"3", "d": b"4"}, noreply=False)
    eq(c.delete("a", noreply=False), True)
    eq(c.delete("a", noreply=False), False)
    eq(c.delete("b"), True)
    eq(c.get_many(["a", "b", "c", "d"]), {"c": b"3", "d": b"4"})
    eq(c.delete_many(["c", "nokey"], noreply=False), True)
    eq(c.delete_many(["d"]), True)
    eq(c.delete_multi(["zz"]), True)
    eq(c.get_many(["a", "b", "c", "d"]), {})
    c.close()


@test
def incr_decr():
    c = client()
    c.set("n", b"10", noreply=False)
    eq(c.incr("n", 5), 15)
    eq(c.decr("n", 3), 12)
    eq(c.decr("n", 100), 0)
    eq(c.incr("n", 2 ** 64 - 1), 2 ** 64 - 1)
    eq(c.incr("n", 1), 0)
    eq(c.incr("nokey", 1), None)
    eq(c.decr("nokey", 1), None)
    eq(c.incr("n", 7, noreply=True), None)
    eq(c.decr("n", 2, noreply=True), None)
    eq_padded(c.get("n"), b"5" + b" " * 19, b"5")
    c.set("m", b"99", noreply=False)
    eq(c.incr("m", 1), 100)
    eq(c.decr("m", 1), 99)
    eq_padded(c.get("m"), b"99 ", b"99")
    c.set("s", b"abc", noreply=False)
    try:
        c.incr("s", 1)
        raise AssertionError("incr of a non-numeric value did not raise")
    except MemcacheClientError as e:
        check(b"cannot increment or decrement non-numeric value" in str(e).encode(),
              "error text %r" % e)
    c.close()


@test
def touch():
    c = client()
    c.set("k", b"v", expire=1, noreply=False)
    eq(c.touch("k", 100, noreply=False), True)
    eq(c.touch("nokey", 100, noreply=False), False)
    eq(c.touch("k", 100), True)
    c.set("t", b"v", noreply=False)
    eq(c.touch("t", 1, noreply=False), True)
    c.set("x", b"v", expire=1, noreply=False)
    time.sleep(2.2)
    eq(c.get_many(["k", "t", "x"]), {"k": b"v"})
    c.close()


@test
def gat_gats_availability():
    if not hasattr(Client, "gat"):
        raise SkipTest("pymemcache %s has no gat/gats" % pymemcache.__version__)
    c = client()
    c.set("k", b"v", noreply=False)
    eq(c.gat("k", 100), b"v")
    eq(c.gats("k", 100)[0], b"v")
    c.close()


@test
def stats_and_subcommands():
    with Server() as own:
        c = client(own)
        c.set("a", b"1", noreply=False)
        c.get("a")
        c.get("nokey")
        st = c.stats()
        for f in (b"pid", b"uptime", b"time", b"version", b"pointer_size",
                  b"curr_connections", b"total_connections", b"cmd_get",
                  b"cmd_set", b"get_hits", b"get_misses", b"curr_items",
                  b"total_items", b"bytes", b"limit_maxbytes", b"threads",
                  b"evictions", b"reclaimed"):
            check(f in st, "stats %s missing" % f)
        eq(st[b"pid"], own.pid)
        eq(st[b"get_hits"], 1)
        eq(st[b"get_misses"], 1)
        eq(st[b"cmd_set"], 1)
        eq(st[b"curr_items"], 1)
        eq(st[b"limit_maxbytes"], 64 * 1024 * 1024)
        check(isinstance(st[b"rusage_user"], float), "rusage_user is float")
        items = c.stats("items")
        eq(items.get(b"items:1:number"), 1)
        slabs = c.stats("slabs")
        eq(slabs.get(b"1:chunk_size"), 96)
        eq(slabs.get(b"1:used_chunks"), 1)
        check(b"active_slabs" in slabs and b"total_malloced" in slabs, "slab totals")
        settings = c.stats("settings")
        eq(settings.get(b"maxbytes"), 64 * 1024 * 1024)
        eq(settings.get(b"tcpport"), own.port)
        eq(settings.get(b"item_size_max"), 1048576)
        eq(settings.get(b"cas_enabled"), b"yes")
        eq(settings.get(b"evictions"), b"on")
        dump = poll(lambda: c.stats("cachedump", "1", "0"))
        eq(dump, {b"a": b"[1 b; 0 s]"})
        eq(settings.get(b"num_threads"), default_threads(), "default -t")
        eq(c.stats("sizes"), {b"sizes_status": b"disabled"})
        c.close()


@test
def flush_all_now_and_delayed():
    with Server() as own:
        c = client(own)
        c.set_many({"a": b"1", "b": b"2"}, noreply=False)
        eq(c.flush_all(), True)
        eq(c.get_many(["a", "b"]), {})
        c.set("a", b"1", noreply=False)
        eq(c.flush_all(noreply=False), True)
        eq(c.get("a"), None)
        c.set("a", b"1", noreply=False)
        eq(c.flush_all(delay=2, noreply=False), True)
        eq(c.get("a"), b"1")
        time.sleep(2.1)
        eq(c.get("a"), None)
        eq(c.stats()[b"cmd_flush"], 4)
        c.close()


@test
def version():
    c = client()
    v = c.version()
    check(isinstance(v, bytes) and len(v) > 0 and b" " not in v, "version %r" % v)
    c.close()


@test
def quit_and_reconnect():
    c = client()
    c.set("k", b"v", noreply=False)
    eq(c.quit(), None)
    eq(c.sock, None)
    eq(c.get("k"), b"v")     # reconnects on demand
    c.close()


@test
def cache_memlimit():
    with Server() as own:
        c = client(own)
        eq(c.cache_memlimit(100), True)
        eq(c.stats()[b"limit_maxbytes"], 100 * 1024 * 1024)
        eq(c.stats("settings")[b"maxbytes"], 100 * 1024 * 1024)
        eq(c.cache_memlimit(64), True)
        eq(c.stats()[b"limit_maxbytes"], 64 * 1024 * 1024)
        c.set("k", b"v", noreply=False)
        eq(c.get("k"), b"v")
        c.close()


@test
def default_serde_and_pickle_serde():
    c = client()
    # without a serde, pymemcache stores str() of non-bytes values
    c.set("i", 42, noreply=False)
    eq(c.get("i"), b"42")
    c.set("s", "text", noreply=False)
    eq(c.get("s"), b"text")
    c.close()
    p = client(serde=serde.pickle_serde)
    vals = {"b": b"raw\x00bytes", "s": "unicode 中文", "i": 12345,
            "l": 2 ** 80, "d": {"x": [1, 2, (3, 4)], "y": None},
            "f": 1.5, "big": "x" * 300000}
    for k, v in vals.items():
        eq(p.set(k, v, noreply=False), True, k)
    for k, v in vals.items():
        eq(p.get(k), v, "roundtrip %s" % k)
    eq(p.get_many(list(vals)), vals)
    # flags pymemcache's serde uses, as the server echoes them
    with RawClient(SRV.port) as r:
        for key, flags in (("b", 0), ("i", 2), ("s", 16), ("d", 1)):
            head = r.cmd("get %s\r\n" % key, b"END\r\n").split("\r\n")[0]
            eq(head.split(" ")[:3], ["VALUE", key, str(flags)], key)
    p.close()


@test
def key_validation_and_limits():
    c = client()
    eq(c.set("k" * 250, b"v", noreply=False), True)
    eq(c.get("k" * 250), b"v")
    try:
        c.set("k" * 251, b"v", noreply=False)
        raise AssertionError("pymemcache accepted a 251-byte key")
    except MemcacheClientError:
        pass
    try:
        c.set("big", b"x" * (2 * 1024 * 1024), noreply=False)
        raise AssertionError("2 MiB value stored")
    except Exception as e:  # MemcacheServerError
        check("object too large for cache" in str(e), "error %r" % e)
    eq(c.get("k" * 250), b"v")   # connection still usable
    c.close()


@test
def hash_client_two_servers():
    with Server() as s1, Server() as s2:
        hc = HashClient([("127.0.0.1", s1.port), ("127.0.0.1", s2.port)],
                        connect_timeout=5, timeout=5, serde=serde.pickle_serde)
        keys = ["hk%d" % i for i in range(100)]
        vals = dict((k, {"n": i}) for i, k in enumerate(keys))
        eq(hc.set_many(vals, noreply=False), [])
        eq(hc.get_many(keys), vals)
        for k in keys[:10]:
            eq(hc.get(k), vals[k])
        # both servers hold a share, and together exactly the keys
        counts = []
        for srv in (s1, s2):
            with RawClient(srv.port) as r:
                counts.append(int(r.stats()["curr_items"]))
        check(counts[0] > 0 and counts[1] > 0, "keys spread: %r" % counts)
        eq(sum(counts), len(keys))
        eq(hc.add("hk0", 1, noreply=False), False)
        eq(hc.add("new", 1, noreply=False), True)
        eq(hc.replace("new", 2, noreply=False), True)
        eq(hc.get("new"), 2)
        hc.set("n", b"5", noreply=False)
        hc2 = HashClient([("127.0.0.1", s1.port), ("127.0.0.1", s2.port)],
                         connect_timeout=5, timeout=5)
        eq(hc2.incr("n", 2), 7)
        eq(hc2.decr("n", 10), 0)
        eq(hc2.append("n", b"1", noreply=False), True)
        eq(hc2.prepend("n", b"9", noreply=False), True)
        eq(hc2.get("n"), b"901")
        v, tok = hc2.gets("n")
        eq(hc2.cas("n", b"x", tok), True)
        eq(hc2.touch("n", 100, noreply=False), True)
        eq(hc.delete("new", noreply=False), True)
        eq(hc.delete_many(keys, noreply=False), True)
        eq(hc.get_many(keys), {})
        hc.flush_all(noreply=False)   # returns None in 3.5
        eq(hc2.get("n"), None)
        hc.close()
        hc2.close()


def main():
    harness.run_with_server("test_pymemcache %s" % pymemcache.__version__, TESTS, sys.modules[__name__])


if __name__ == "__main__":
    main()
