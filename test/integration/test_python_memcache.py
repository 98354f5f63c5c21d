#!/usr/bin/python3
"""python-memcached (`import memcache`, Debian python3-memcache) examples
of the seed documents (../shared/seeds/*.txt), reproduced one for one,
with the printed results of the documents asserted.

Must run with /usr/bin/python3 (the Debian interpreter that has the module).
Run: SHMC_SERVER=/usr/bin/memcached /usr/bin/python3 test_python_memcache.py
"""

import contextlib
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, check, eq  # noqa: E402

import memcache  # noqa: E402

SRV = None
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def client(**kw):
    """memcache.Client on the shared server, cache flushed first."""
    mc = memcache.Client([SRV.address], debug=True, **kw)
    flush(mc)
    return mc


def cmd_flush(mc):
    return int(mc.get_stats()[0][1]["cmd_flush"])


def flush(mc):
    """mc.flush_all(), checked: python-memcached returns nothing and only
    logs a reply other than OK, so the log must stay empty and the server
    must have counted one flush_all."""
    before = cmd_flush(mc)
    with capture() as log:
        mc.flush_all()
    eq(log.getvalue(), "", "flush_all reply")
    eq(cmd_flush(mc), before + 1, "cmd_flush after flush_all")


@contextlib.contextmanager
def capture():
    """Capture what python-memcached's debuglog writes to stderr."""
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        yield buf


def poll(fn, timeout=5.0, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r or time.monotonic() >= deadline:
            return r
        time.sleep(step)


# --- seed 001 "python 操作memcached" ----------------------------------------

@test
def s001_1_set_get():
    mc = client()
    check(mc.set('key', 'values'), "set returned false")
    eq(mc.get('key'), 'values')
    mc.disconnect_all()


@test
def s001_3_add_twice():
    mc = client()
    mc.set('key', 'values')
    eq(mc.get('key'), 'values')
    check(mc.add('k3', 'v3'), "first add failed")
    eq(mc.get('k3'), 'v3')
    with capture() as err:
        r = mc.add('k3', 'v3')
    check(not r, "second add succeeded")
    eq(err.getvalue(),
       "MemCached: while expecting 'STORED', got unexpected response 'NOT_STORED'\n")
    mc.disconnect_all()


@test
def s001_4_replace():
    mc = client()
    mc.set('key', 'values')
    eq(mc.get('key'), 'values')
    check(mc.replace('key', 'values123'), "replace of existing key failed")
    eq(mc.get('key'), 'values123')
    with capture() as err:
        r = mc.replace('123', 'abcd')
    check(not r, "replace of missing key succeeded")
    eq(err.getvalue(),
       "MemCached: while expecting 'STORED', got unexpected response 'NOT_STORED'\n")
    eq(mc.get('123'), None)
    mc.disconnect_all()


@test
def s001_5_set_and_set_multi():
    mc = client()
    mc.set('k1', 'v1')
    eq(mc.get('k1'), 'v1')
    eq(mc.set_multi({'key': 'values', 'key1': 'values123'}), [])
    eq(mc.get_multi(['key', 'key1']), {'key': 'values', 'key1': 'values123'})
    # set overwrites existing keys
    eq(mc.set_multi({'key': 'new', 'key2': 'v2'}), [])
    eq(mc.get_multi(['key', 'key1', 'key2', 'nokey']),
       {'key': 'new', 'key1': 'values123', 'key2': 'v2'})
    # key_prefix
    eq(mc.set_multi({'a': 1, 'b': 'two'}, key_prefix='pfx_'), [])
    eq(mc.get_multi(['a', 'b', 'c'], key_prefix='pfx_'), {'a': 1, 'b': 'two'})
    eq(mc.get('pfx_a'), 1)
    eq(mc.get('a'), None)
    mc.disconnect_all()


@test
def s001_6_delete_and_delete_multi():
    mc = client()
    mc.set('k1', 'v1')
    eq(mc.get('k1'), 'v1')
    mc.set_multi({'key': 'values', 'key1': 'values123'})
    eq(mc.get_multi(['key', 'key1']), {'key': 'values', 'key1': 'values123'})
    check(mc.delete('k1'), "delete of existing key failed")
    eq(mc.get('k1'), None)
    with capture() as err:
        r = mc.delete_multi(['key', 'key1'])
    check(r, "delete_multi of existing keys failed")
    eq(err.getvalue(), "")
    eq(mc.get_multi(['key', 'key1']), {})
    with capture() as err:
        r = mc.delete_multi(['key', 'key1'])
    eq(r, 1, "delete_multi returns 1 when all servers answered")
    eq(err.getvalue(),
       "MemCached: while expecting 'DELETED', got unexpected response 'NOT_FOUND'\n" * 2)
    eq(mc.get_multi(['key', 'key1']), {})
    # key_prefix variant
    mc.set_multi({'x': 'X', 'y': 'Y'}, key_prefix='p:')
    check(mc.delete_multi(['x', 'y'], key_prefix='p:'), "delete_multi prefix")
    eq(mc.get_multi(['p:x', 'p:y']), {})
    # delete of a missing key is not an error; "delete k 0" is accepted
    with capture() as err:
        check(mc.delete('nokey'), "delete of missing key")
        mc.set('k2', 'v2')
        check(mc.delete('k2', time=0), "delete with time=0")
    eq(err.getvalue(), "")
    eq(mc.get('k2'), None)
    # touch
    mc.set('t', 'v')
    check(mc.touch('t', 100), "touch existing key")
    with capture() as err:
        check(not mc.touch('nokey', 100), "touch missing key")
    eq(err.getvalue(),
       "MemCached: touch expected b'TOUCHED', got: b'NOT_FOUND'\n")
    mc.disconnect_all()


@test
def s001_7_get_and_get_multi():
    mc = client()
    mc.set('k1', 'v1')
    eq(mc.get('k1'), 'v1')
    mc.set_multi({'key': 'values', 'key1': 'values123'})
    eq(mc.get_multi(['key', 'key1']), {'key': 'values', 'key1': 'values123'})
    eq(mc.get('nokey'), None)
    eq(mc.get_multi([]), {})
    mc.disconnect_all()


@test
def s001_8_append_prepend():
    mc = client()
    mc.set('k1', 'v1')
    eq(mc.get('k1'), 'v1')
    check(mc.append('k1', 'after'), "append failed")
    eq(mc.get('k1'), 'v1after')
    check(mc.prepend('k1', 'before'), "prepend failed")
    eq(mc.get('k1'), 'beforev1after')
    with capture() as err:
        check(not mc.append('nokey', 'x'), "append to missing key succeeded")
        check(not mc.prepend('nokey', 'x'), "prepend to missing key succeeded")
    eq(err.getvalue(),
       "MemCached: while expecting 'STORED', got unexpected response 'NOT_STORED'\n" * 2)
    mc.disconnect_all()


@test
def s001_9_incr_decr():
    mc = client()
    mc.set('k1', 100)
    eq(mc.get('k1'), 100)
    eq(mc.incr('k1'), 101)
    eq(mc.get('k1'), 101)
    eq(mc.decr('k1', 2), 99)
    eq(mc.get('k1'), 99)       # the server pads "99 "; int() accepts it
    eq(mc.incr('k1', 10), 109)
    eq(mc.incr('nokey'), None)
    eq(mc.decr('nokey'), None)
    mc.disconnect_all()


@test
def s001_10_gets_cas():
    mc = client(cache_cas=True)
    mc.set('product_count', '900')
    eq(mc.gets('product_count'), '900')
    check(mc.cas('product_count', '899'), "cas after gets failed")
    eq(mc.get('product_count'), '899')
    # someone else modifies product_count between gets and cas
    eq(mc.gets('product_count'), '899')
    other = memcache.Client([SRV.address])
    check(other.set('product_count', '898'), "other set")
    other.disconnect_all()
    with capture() as err:
        r = mc.cas('product_count', '899')
    check(not r, "cas succeeded although the value changed")
    eq(err.getvalue(),
       "MemCached: while expecting 'STORED', got unexpected response 'EXISTS'\n")
    eq(mc.get('product_count'), '898')
    # gets on a missing key returns None
    eq(mc.gets('nokey'), None)
    mc.reset_cas()
    mc.disconnect_all()


@test
def s001_stats():
    with Server() as own:
        _s001_stats(own)


def _s001_stats(own):
    mc = memcache.Client([own.address], debug=True)
    mc.set('k1', 'v1')
    mc.get('k1')
    mc.get('nokey')
    stats = mc.get_stats()
    eq(len(stats), 1)
    name, st = stats[0]
    eq(name, "%s (1)" % own.address)
    for f in ("pid", "uptime", "time", "version", "pointer_size", "rusage_user",
              "rusage_system", "curr_connections", "total_connections",
              "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits",
              "get_misses", "delete_misses", "delete_hits", "incr_misses",
              "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits",
              "cas_badval", "touch_hits", "touch_misses", "bytes_read",
              "bytes_written", "limit_maxbytes", "threads", "bytes",
              "curr_items", "total_items", "evictions", "reclaimed"):
        check(f in st, "stats field %s missing" % f)
    eq(st["pid"], str(own.pid))
    eq(st["limit_maxbytes"], "67108864")
    eq(st["curr_items"], "1")
    check(int(st["get_hits"]) >= 1 and int(st["get_misses"]) >= 1, "hits/misses")

    items = mc.get_stats('items')[0][1]
    eq(items.get("items:1:number"), "1")
    for f in ("number", "age", "evicted", "evicted_nonzero", "evicted_time",
              "outofmemory", "tailrepairs", "reclaimed", "expired_unfetched",
              "evicted_unfetched"):
        check("items:1:" + f in items, "items:1:%s missing" % f)

    slabs = mc.get_stats('slabs')[0][1]
    eq(slabs.get("1:chunk_size"), "96")
    eq(slabs.get("1:used_chunks"), "1")
    for f in ("chunk_size", "chunks_per_page", "total_pages", "total_chunks",
              "used_chunks", "free_chunks", "free_chunks_end", "get_hits",
              "cmd_set", "delete_hits", "incr_hits", "decr_hits", "cas_hits",
              "cas_badval", "touch_hits"):
        check("1:" + f in slabs, "slabs 1:%s missing" % f)
    check("active_slabs" in slabs and "total_malloced" in slabs, "slab totals")

    eq(mc.get_stats('sizes'), [(name, {"sizes_status": "disabled"})])

    # memcached moves new items to the dumped LRU asynchronously
    dump = poll(lambda: mc.get_stats('cachedump 1 0')[0][1])
    eq(dump, {"k1": "[2 b; 0 s]"})
    mc.disconnect_all()


# --- seed 001 section 2 / seed 003 "集群": weighted server list ------------

@test
def s001_2_weighted_cluster():
    with Server() as s1, Server() as s2:
        mc = memcache.Client([(s1.address, 1), (s2.address, 2)], debug=True)
        eq([b.port for b in mc.buckets], [s1.port, s2.port, s2.port],
           "host_list has server 2 twice")
        check(mc.set('key', 'values'), "set")
        eq(mc.get('key'), 'values')
        keys = ['k%d' % i for i in range(60)]
        eq(mc.set_multi(dict((k, 'v' + k) for k in keys)), [])
        eq(mc.get_multi(keys), dict((k, 'v' + k) for k in keys))
        # each key lives on buckets[hash % 3] and only there
        where = {s1.port: [], s2.port: []}
        for k in keys + ['key']:
            h = memcache.serverHashFunction(k.encode())
            where[mc.buckets[h % 3].port].append(k)
        check(where[s1.port] and where[s2.port], "keys spread over both servers")
        for srv in (s1, s2):
            with RawClient(srv.port) as c:
                for k in where[srv.port]:
                    r = c.cmd("get %s\r\n" % k, b"END\r\n")
                    check(r.startswith("VALUE %s 16 " % k), "%s not on %s" % (k, srv.port))
                other = where[s2.port if srv is s1 else s1.port]
                for k in other:
                    eq(c.cmd("get %s\r\n" % k, b"END\r\n"), "END\r\n",
                       "%s must not be on %s" % (k, srv.port))
        stats = mc.get_stats()
        eq(sorted(n for n, _ in stats),
           sorted(["%s (1)" % s1.address, "%s (2)" % s2.address]))
        total = sum(int(st["curr_items"]) for _, st in stats)
        eq(total, len(keys) + 1)
        check(mc.delete_multi(keys), "delete_multi across servers")
        eq(mc.get_multi(keys), {})
        mc.disconnect_all()


# --- seed 002 "python-memcache 基本的使用方法" --------------------------------

@test
def s002_basic_usage():
    mc = memcache.Client([SRV.address], debug=0)
    mc.flush_all()
    check(mc.set("some_key", "Some value"), "set")
    eq(mc.get("some_key"), "Some value")
    check(mc.set("another_key", 3), "set int")
    eq(mc.get("another_key"), 3)
    check(mc.delete("another_key"), "delete")
    eq(mc.get("another_key"), None)
    mc.set("key", "1")   # a key used for incr/decr must be a string
    eq(mc.incr("key"), 2)
    eq(mc.decr("key"), 1)
    eq(mc.decr("key"), 0)
    eq(mc.decr("key"), 0)   # decr stops at 0
    eq(mc.get("key"), "0")
    # "the standard way to use memcache with a database"
    calls = []

    def backend(key):
        calls.append(key)
        return {"id": key, "rows": [1, 2, 3]}
    for _ in range(3):
        obj = mc.get("obj:42")
        if not obj:
            obj = backend("obj:42")
            mc.set("obj:42", obj)
        eq(obj, {"id": "obj:42", "rows": [1, 2, 3]})
    eq(calls, ["obj:42"], "backend called once, then served from the cache")
    # exptime argument (max 30 days relative)
    check(mc.set("ttl", "x", time=60 * 60 * 24 * 30), "set with 30-day ttl")
    eq(mc.get("ttl"), "x")
    check(mc.set("gone", "x", time=-1), "set with negative ttl")
    eq(mc.get("gone"), None)
    mc.disconnect_all()


# --- seed 003 "python操作memcache" loop and stats ---------------------------

@test
def s003_loop_and_stats():
    mc = memcache.Client([SRV.address], debug=True)
    with Server() as own:
        mc = memcache.Client([own.address], debug=True)
        for i in range(100):
            mc.set("key%d" % i, "v%d" % i)
            ret = mc.get('key%d' % i)
            eq(ret, "v%d" % i)
        stats = mc.get_stats()[0]
        eq(stats[0], "%s (1)" % own.address)
        eq(stats[1]["curr_items"], "100")
        eq(stats[1]["cmd_set"], "100")
        eq(stats[1]["get_hits"], "100")
        for k, v in stats[1].items():
            check(isinstance(k, str) and isinstance(v, str) and v == v.strip(),
                  "stat %r %r" % (k, v))
        eq(mc.get_stats('items')[0][1]["items:1:number"], "100")
        eq(mc.get_stats('cachedump 5 0'), [("%s (1)" % own.address, {})])
        dump = poll(lambda: len(mc.get_stats('cachedump 1 0')[0][1]) == 100)
        check(dump, "cachedump 1 0 lists the 100 keys")
        dump = mc.get_stats('cachedump 1 0')[0][1]
        eq(sorted(dump), sorted("key%d" % i for i in range(100)))
        eq(dump["key7"], "[2 b; 0 s]")
        eq(len(mc.get_stats('cachedump 1 10')[0][1]), 10)
        mc.disconnect_all()


# --- seed 004 (same API as 001, written against a weighted cluster) --------

@test
def s004_examples():
    mc = client()
    mc.set("foo", "bar")
    eq(mc.get('foo'), 'bar')
    check(mc.add('k1', 'v1'), "add")
    with capture() as err:
        check(not mc.add('k1', 'v2'), "re-add must fail")
    eq(err.getvalue(),
       "MemCached: while expecting 'STORED', got unexpected response 'NOT_STORED'\n")
    with capture() as err:
        check(not mc.replace('kkkk', '999'), "replace of missing key")
    check("NOT_STORED" in err.getvalue(), "replace debug output")
    mc.set('key0', 'wupeiqi')
    mc.set_multi({'key1': 'val1', 'key2': 'val2'})
    eq(mc.get('key0'), 'wupeiqi')
    eq(mc.get_multi(["key1", "key2", "key3"]), {'key1': 'val1', 'key2': 'val2'})
    check(mc.delete('key0'), "delete")
    check(mc.delete_multi(['key1', 'key2']), "delete_multi")
    eq(mc.get('key0'), None)
    eq(mc.get_multi(["key1", "key2", "key3"]), {})
    mc.append('k1', 'after')
    eq(mc.get('k1'), 'v1after')
    mc.prepend('k1', 'before')
    eq(mc.get('k1'), 'beforev1after')
    mc.disconnect_all()


@test
def value_types_and_flags():
    mc = client()
    vals = {"s": "text", "i": 12345, "l": 2 ** 70, "lst": [1, "a", None],
            "d": {"x": (1, 2)}, "b": b"\x00\x01raw", "u": u"中文字符",
            "big": "x" * 200000}
    eq(mc.set_multi(vals), [])
    eq(mc.get_multi(list(vals)), vals)
    for k, v in vals.items():
        eq(mc.get(k), v, "get %s" % k)
    # python-memcached's flags as the server stores them
    with RawClient(SRV.port) as c:
        eq(c.cmd("get s\r\n", b"END\r\n"), "VALUE s 16 4\r\ntext\r\nEND\r\n")
        eq(c.cmd("get i\r\n", b"END\r\n"), "VALUE i 2 5\r\n12345\r\nEND\r\n")
        check(c.cmd("get lst\r\n", b"END\r\n").startswith("VALUE lst 1 "), "pickle flag")
    mc.disconnect_all()


@test
def flush_all_empties_the_cache():
    mc = client()
    data = {"fa_%d" % i: "v%d" % i for i in range(20)}
    eq(mc.set_multi(data), [], "set_multi")
    eq(mc.get_multi(list(data)), data, "every key set")
    flush(mc)
    for k in data:
        eq(mc.get(k), None, "%s after flush_all" % k)
    eq(mc.get_multi(list(data)), {}, "get_multi after flush_all")
    check(mc.set("fa_after", "x"), "set after flush_all")
    eq(mc.get("fa_after"), "x", "a key set after flush_all")
    mc.disconnect_all()


def main():
    harness.run_with_server("test_python_memcache", TESTS, sys.modules[__name__])


if __name__ == "__main__":
    main()
