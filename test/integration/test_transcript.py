#!/usr/bin/python3
"""Raw-socket transcript tests of memcached's text protocol.

Every reply asserted here is what memcached 1.6 sends (checked against
Debian's memcached); shmcached must send the same bytes.  Only values that
legitimately differ between servers (pid, uptime, time, version number,
pointer values, rusage, cas unique numbers) are not compared.

Run: SHMC_SERVER=/usr/bin/memcached /usr/bin/python3 test_transcript.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, SkipTest, check, default_threads, eq, eq_padded  # noqa: E402

SRV = None       # shared server, started in main()
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def conn(srv=None):
    return RawClient((srv or SRV).port)


def fresh():
    """A new connection on the shared server, with the cache flushed."""
    c = conn()
    eq(c.cmd("flush_all\r\n"), "OK\r\n", "flush_all")
    return c


def store(c, cmd, key, value, flags=0, exptime=0, extra=""):
    if isinstance(value, str):
        value = value.encode()
    line = "%s %s %d %d %d%s\r\n" % (cmd, key, flags, exptime, len(value), extra)
    return c.cmd(line.encode() + value + b"\r\n")


def get_value(c, key):
    """Value of key as str, or None when absent."""
    r = c.cmd("get %s\r\n" % key, b"END\r\n")
    if r == "END\r\n":
        return None
    head, rest = r.split("\r\n", 1)
    parts = head.split(" ")
    check(parts[0] == "VALUE" and parts[1] == key, "bad reply %r" % r)
    n = int(parts[3])
    eq(rest[n:], "\r\nEND\r\n", "get %s trailer" % key)
    return rest[:n]


def gets_cas(c, key):
    r = c.cmd("gets %s\r\n" % key, b"END\r\n")
    head = r.split("\r\n", 1)[0].split(" ")
    check(head[0] == "VALUE" and len(head) == 5, "bad gets reply %r" % r)
    return int(head[4])


def poll(fn, timeout=3.0, step=0.05):
    """Call fn until it returns a true value or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r or time.monotonic() >= deadline:
            return r
        time.sleep(step)


# ---------------------------------------------------------------- storage

@test
def set_get_gets():
    with fresh() as c:
        eq(c.cmd("set foo 0 0 3\r\nbar\r\n"), "STORED\r\n")
        eq(c.cmd("get foo\r\n", b"END\r\n"), "VALUE foo 0 3\r\nbar\r\nEND\r\n")
        r = c.cmd("gets foo\r\n", b"END\r\n")
        head, body = r.split("\r\n", 1)
        parts = head.split(" ")
        eq(parts[:4], ["VALUE", "foo", "0", "3"])
        eq(len(parts), 5, "gets field count")
        check(parts[4].isdigit(), "cas unique not numeric: %r" % parts[4])
        eq(body, "bar\r\nEND\r\n")
        # flags are kept and echoed; max 32-bit flags
        eq(c.cmd("set fl 4294967295 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("get fl\r\n", b"END\r\n"), "VALUE fl 4294967295 1\r\nx\r\nEND\r\n")
        eq(c.cmd("get missing\r\n", b"END\r\n"), "END\r\n")
        # empty value
        eq(c.cmd("set empty 0 0 0\r\n\r\n"), "STORED\r\n")
        eq(c.cmd("get empty\r\n", b"END\r\n"), "VALUE empty 0 0\r\n\r\nEND\r\n")
        # binary-safe value containing CR LF
        eq(c.cmd(b"set bin 7 0 6\r\na\r\nb\x00c\r\n"), "STORED\r\n")
        eq(c.cmd("get bin\r\n", b"END\r\n"), "VALUE bin 7 6\r\na\r\nb\x00c\r\nEND\r\n")
        # overwrite changes cas unique
        a = gets_cas(c, "foo")
        eq(c.cmd("set foo 0 0 3\r\nbaz\r\n"), "STORED\r\n")
        check(gets_cas(c, "foo") != a, "cas unique unchanged after set")
        # bare LF line endings are accepted too (telnet-like clients)
        eq(c.cmd("set lf 0 0 1\nx\r\n"), "STORED\r\n")
        eq(c.cmd("get lf\n", b"END\r\n"), "VALUE lf 0 1\r\nx\r\nEND\r\n")


@test
def add_twice():
    with fresh() as c:
        eq(c.cmd("add k3 0 0 2\r\nv3\r\n"), "STORED\r\n")
        eq(c.cmd("add k3 0 0 2\r\nv9\r\n"), "NOT_STORED\r\n")
        eq(c.cmd("get k3\r\n", b"END\r\n"), "VALUE k3 0 2\r\nv3\r\nEND\r\n")


@test
def replace_missing_and_existing():
    with fresh() as c:
        eq(c.cmd("replace nokey 0 0 4\r\nabcd\r\n"), "NOT_STORED\r\n")
        eq(c.cmd("get nokey\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set key 0 0 6\r\nvalues\r\n"), "STORED\r\n")
        eq(c.cmd("replace key 3 0 9\r\nvalues123\r\n"), "STORED\r\n")
        eq(c.cmd("get key\r\n", b"END\r\n"), "VALUE key 3 9\r\nvalues123\r\nEND\r\n")


@test
def append_prepend():
    with fresh() as c:
        eq(c.cmd("append k1 0 0 5\r\nafter\r\n"), "NOT_STORED\r\n")
        eq(c.cmd("prepend k1 0 0 6\r\nbefore\r\n"), "NOT_STORED\r\n")
        eq(c.cmd("set k1 5 0 2\r\nv1\r\n"), "STORED\r\n")
        eq(c.cmd("append k1 0 0 5\r\nafter\r\n"), "STORED\r\n")
        eq(c.cmd("get k1\r\n", b"END\r\n"), "VALUE k1 5 7\r\nv1after\r\nEND\r\n")
        # flags given to prepend are ignored; the item keeps flags 5
        eq(c.cmd("prepend k1 9 0 6\r\nbefore\r\n"), "STORED\r\n")
        eq(c.cmd("get k1\r\n", b"END\r\n"),
           "VALUE k1 5 13\r\nbeforev1after\r\nEND\r\n")


@test
def cas_ok_exists_notfound():
    with fresh() as c:
        eq(c.cmd("cas nokey 0 0 1 1\r\nx\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("set product_count 0 0 3\r\n900\r\n"), "STORED\r\n")
        u = gets_cas(c, "product_count")
        eq(c.cmd("cas product_count 0 0 3 %d\r\n899\r\n" % u), "STORED\r\n")
        eq(get_value(c, "product_count"), "899")
        # the same (now stale) unique fails
        eq(c.cmd("cas product_count 0 0 3 %d\r\n898\r\n" % u), "EXISTS\r\n")
        eq(get_value(c, "product_count"), "899")
        # another client modifies between gets and cas
        u2 = gets_cas(c, "product_count")
        with conn() as other:
            eq(other.cmd("set product_count 0 0 3\r\n777\r\n"), "STORED\r\n")
        eq(c.cmd("cas product_count 0 0 3 %d\r\n899\r\n" % u2), "EXISTS\r\n")
        eq(get_value(c, "product_count"), "777")
        # a bad cas unique is a format error; the data line is then an
        # unknown command
        eq(c.cmd("cas product_count 0 0 1 abc\r\nx\r\n", b"\r\nERROR\r\n"),
           "CLIENT_ERROR bad command line format\r\nERROR\r\n")


@test
def delete_hit_miss_and_time_arg():
    with fresh() as c:
        eq(c.cmd("set d 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("delete d\r\n"), "DELETED\r\n")
        eq(c.cmd("delete d\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("set d 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("delete d 0\r\n"), "DELETED\r\n")
        eq(c.cmd("set d 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("delete d 5\r\n"),
           "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")
        eq(get_value(c, "d"), "x")
        eq(c.cmd("delete d noreply 0\r\n"),
           "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")
        eq(c.cmd("delete d 0 noreply\r\nget d\r\n", b"END\r\n"), "END\r\n")


# --------------------------------------------------------------- counters

@test
def incr_decr_basic():
    with fresh() as c:
        eq(c.cmd("set n 0 0 3\r\n100\r\n"), "STORED\r\n")
        eq(c.cmd("incr n 1\r\n"), "101\r\n")
        eq(c.cmd("decr n 2\r\n"), "99\r\n")
        eq(c.cmd("incr nokey 1\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("decr nokey 1\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("set z 0 0 1\r\n0\r\n"), "STORED\r\n")
        eq(c.cmd("incr z 0\r\n"), "0\r\n")
        eq(c.cmd("incr z 18446744073709551615\r\n"), "18446744073709551615\r\n")


@test
def incr_length_growth_and_decr_padding():
    with fresh() as c:
        eq(c.cmd("set n 0 0 2\r\n99\r\n"), "STORED\r\n")
        eq(c.cmd("incr n 1\r\n"), "100\r\n")
        eq(c.cmd("get n\r\n", b"END\r\n"), "VALUE n 0 3\r\n100\r\nEND\r\n")
        eq(c.cmd("decr n 1\r\n"), "99\r\n")
        # memcached rewrites a shorter number in place, padded with spaces
        eq_padded(c.cmd("get n\r\n", b"END\r\n"), "VALUE n 0 3\r\n99 \r\nEND\r\n",
                  "VALUE n 0 2\r\n99\r\nEND\r\n")
        eq(c.cmd("incr n 1\r\n"), "100\r\n")
        eq(c.cmd("get n\r\n", b"END\r\n"), "VALUE n 0 3\r\n100\r\nEND\r\n")
        eq(c.cmd("decr n 95\r\n"), "5\r\n")
        eq_padded(c.cmd("get n\r\n", b"END\r\n"), "VALUE n 0 3\r\n5  \r\nEND\r\n",
                  "VALUE n 0 1\r\n5\r\nEND\r\n")
        eq(c.cmd("incr n 99999\r\n"), "100004\r\n")
        eq(c.cmd("get n\r\n", b"END\r\n"), "VALUE n 0 6\r\n100004\r\nEND\r\n")


@test
def incr_wraps_at_2_64():
    with fresh() as c:
        eq(c.cmd("set n 0 0 20\r\n18446744073709551615\r\n"), "STORED\r\n")
        eq(c.cmd("incr n 1\r\n"), "0\r\n")
        eq_padded(c.cmd("get n\r\n", b"END\r\n"),
                  "VALUE n 0 20\r\n0                   \r\nEND\r\n",
                  "VALUE n 0 1\r\n0\r\nEND\r\n")
        eq(c.cmd("set n 0 0 20\r\n18446744073709551610\r\n"), "STORED\r\n")
        eq(c.cmd("incr n 10\r\n"), "4\r\n")


@test
def decr_floor_at_zero():
    with fresh() as c:
        eq(c.cmd("set n 0 0 1\r\n5\r\n"), "STORED\r\n")
        eq(c.cmd("decr n 10\r\n"), "0\r\n")
        eq(c.cmd("decr n 1\r\n"), "0\r\n")
        eq(c.cmd("get n\r\n", b"END\r\n"), "VALUE n 0 1\r\n0\r\nEND\r\n")


@test
def incr_errors():
    with fresh() as c:
        eq(c.cmd("set s 0 0 3\r\nabc\r\n"), "STORED\r\n")
        eq(c.cmd("incr s 1\r\n"),
           "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        eq(c.cmd("decr s 1\r\n"),
           "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        eq(c.cmd("set n 0 0 1\r\n1\r\n"), "STORED\r\n")
        for bad in ("abc", "-1", "18446744073709551616", "1x"):
            eq(c.cmd("incr n %s\r\n" % bad),
               "CLIENT_ERROR invalid numeric delta argument\r\n", "incr n " + bad)
            eq(c.cmd("decr n %s\r\n" % bad),
               "CLIENT_ERROR invalid numeric delta argument\r\n", "decr n " + bad)
        eq(get_value(c, "n"), "1")
        eq(c.cmd("incr n\r\n"), "ERROR\r\n")
        eq(c.cmd("incr\r\n"), "ERROR\r\n")


# ------------------------------------------------------ touch / gat / gats

@test
def touch_gat_gats():
    with fresh() as c:
        eq(c.cmd("set s 0 0 3\r\nabc\r\n"), "STORED\r\n")
        eq(c.cmd("set t 3 0 2\r\nxy\r\n"), "STORED\r\n")
        eq(c.cmd("touch s 100\r\n"), "TOUCHED\r\n")
        eq(c.cmd("touch nokey 100\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("touch s abc\r\n"), "CLIENT_ERROR invalid exptime argument\r\n")
        eq(c.cmd("touch s\r\n"), "ERROR\r\n")
        eq(c.cmd("gat 0 s\r\n", b"END\r\n"), "VALUE s 0 3\r\nabc\r\nEND\r\n")
        eq(c.cmd("gat 100 nokey\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("gat 100 s nokey t\r\n", b"END\r\n"),
           "VALUE s 0 3\r\nabc\r\nVALUE t 3 2\r\nxy\r\nEND\r\n")
        r = c.cmd("gats 0 s t\r\n", b"END\r\n")
        lines = r.split("\r\n")
        eq(len(lines), 6, "gats reply %r" % r)
        h1, h2 = lines[0].split(" "), lines[2].split(" ")
        eq(h1[:4], ["VALUE", "s", "0", "3"])
        eq(h2[:4], ["VALUE", "t", "3", "2"])
        check(len(h1) == 5 and h1[4].isdigit(), "gats cas: %r" % lines[0])
        eq(int(h1[4]), gets_cas(c, "s"), "gats cas equals gets cas")
        eq([lines[1], lines[3], lines[4], lines[5]], ["abc", "xy", "END", ""])
        eq(c.cmd("gats abc s\r\n"), "CLIENT_ERROR invalid exptime argument\r\n")
        eq(c.cmd("gat 0\r\n"), "END\r\n")
        eq(c.cmd("gat\r\n"), "ERROR\r\n")
        # gat with a negative exptime returns the item, then it is gone
        eq(c.cmd("gat -1 s\r\n", b"END\r\n"), "VALUE s 0 3\r\nabc\r\nEND\r\n")
        eq(c.cmd("get s\r\n", b"END\r\n"), "END\r\n")


# ------------------------------------------------------------- expiration

@test
def negative_exptime_is_immediately_absent():
    with fresh() as c:
        eq(c.cmd("set neg 0 -1 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("get neg\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set neg2 0 -100 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("get neg2\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set n 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("touch n -1\r\n"), "TOUCHED\r\n")
        eq(c.cmd("get n\r\n", b"END\r\n"), "END\r\n")


@test
def relative_exptime_expires():
    with fresh() as c:
        eq(c.cmd("set e1 0 1 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("set t1 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("touch t1 1\r\n"), "TOUCHED\r\n")
        eq(c.cmd("set g1 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("gat 1 g1\r\n", b"END\r\n"), "VALUE g1 0 1\r\nx\r\nEND\r\n")
        eq(c.cmd("set keep 0 1 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("touch keep 100\r\n"), "TOUCHED\r\n")
        eq(c.cmd("set forever 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("get e1 t1 g1\r\n", b"END\r\n"),
           "VALUE e1 0 1\r\nx\r\nVALUE t1 0 1\r\nx\r\nVALUE g1 0 1\r\nx\r\nEND\r\n")
        time.sleep(2.2)
        eq(c.cmd("get e1 t1 g1\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("get keep forever\r\n", b"END\r\n"),
           "VALUE keep 0 1\r\nx\r\nVALUE forever 0 1\r\nx\r\nEND\r\n")
        # an expired key can be added again
        eq(c.cmd("add e1 0 0 1\r\ny\r\n"), "STORED\r\n")


# -------------------------------------------------------------- flush_all

@test
def flush_all_variants():
    with fresh() as c:
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("flush_all\r\n"), "OK\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n")
        eq(c.cmd("flush_all 0\r\n"), "OK\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("flush_all noreply\r\nget a\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("flush_all 0 noreply\r\nget a\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("flush_all abc\r\n"), "CLIENT_ERROR invalid exptime argument\r\n")
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n")


@test
def flush_all_with_delay():
    # own server: a delayed flush moves the server's flush horizon
    with Server() as srv, conn(srv) as c:
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("set b 0 0 1\r\n2\r\n"), "STORED\r\n")
        eq(c.cmd("flush_all 2\r\n"), "OK\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n")
        time.sleep(2.1)
        eq(c.cmd("get a b\r\n", b"END\r\n"), "END\r\n")


# ---------------------------------------------------------- misc commands

@test
def version_and_verbosity():
    with conn() as c:
        r = c.cmd("version\r\n")
        check(r.startswith("VERSION ") and r.endswith("\r\n") and len(r) > 10,
              "bad version reply %r" % r)
        eq(c.cmd("verbosity 1\r\n"), "OK\r\n")
        eq(c.cmd("verbosity 0\r\n"), "OK\r\n")
        eq(c.cmd("verbosity\r\n"), "ERROR\r\n")
        eq(c.cmd("verbosity abc\r\n"), "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("verbosity 1 noreply\r\nverbosity 0\r\n"), "OK\r\n")


@test
def noreply_every_command():
    with fresh() as c:
        c.send("set k 0 0 3 noreply\r\nabc\r\n"
               "add k 0 0 3 noreply\r\nzzz\r\n"       # fails silently
               "add k2 0 0 3 noreply\r\nabc\r\n"
               "replace k 0 0 3 noreply\r\nxyz\r\n"
               "replace nokey 0 0 3 noreply\r\nxyz\r\n"  # fails silently
               "append k 0 0 3 noreply\r\n123\r\n"
               "prepend k 0 0 3 noreply\r\n000\r\n"
               "cas k 0 0 1 1 noreply\r\nQ\r\n"       # EXISTS, silent
               "cas nokey 0 0 1 1 noreply\r\nQ\r\n"   # NOT_FOUND, silent
               "get k k2\r\n")
        eq(c.read_until(b"END\r\n").decode(),
           "VALUE k 0 9\r\n000xyz123\r\nVALUE k2 0 3\r\nabc\r\nEND\r\n")
        u = gets_cas(c, "k")
        c.send("cas k 0 0 1 %d noreply\r\nQ\r\nget k\r\n" % u)
        eq(c.read_until(b"END\r\n").decode(), "VALUE k 0 1\r\nQ\r\nEND\r\n")
        c.send("set n 0 0 1\r\n5\r\n")
        eq(c.read_line(), b"STORED\r\n")
        c.send("incr n 3 noreply\r\n"
               "decr n 1 noreply\r\n"
               "incr nokey 1 noreply\r\n"
               "touch n 100 noreply\r\n"
               "touch nokey 100 noreply\r\n"
               "delete k2 noreply\r\n"
               "delete nokey noreply\r\n"
               "verbosity 0 noreply\r\n"
               "get n k2\r\n")
        eq(c.read_until(b"END\r\n").decode(), "VALUE n 0 1\r\n7\r\nEND\r\n")
        c.send("flush_all noreply\r\nget n\r\n")
        eq(c.read_until(b"END\r\n").decode(), "END\r\n")
        c.send("set n 0 0 1 noreply\r\n1\r\nflush_all 0 noreply\r\nget n\r\n")
        eq(c.read_until(b"END\r\n").decode(), "END\r\n")
        eq(c.read_available(0.2), b"", "no stray replies")


@test
def multi_get():
    with fresh() as c:
        for i in range(5):
            eq(store(c, "set", "mk%d" % i, "v%d" % i, flags=i), "STORED\r\n")
        eq(c.cmd("get mk0 nokey mk2 mk4 mk4\r\n", b"END\r\n"),
           "VALUE mk0 0 2\r\nv0\r\nVALUE mk2 2 2\r\nv2\r\n"
           "VALUE mk4 4 2\r\nv4\r\nVALUE mk4 4 2\r\nv4\r\nEND\r\n")
        r = c.cmd("gets mk1 mk3\r\n", b"END\r\n").split("\r\n")
        eq(r[0].split(" ")[:4], ["VALUE", "mk1", "1", "2"])
        eq(r[2].split(" ")[:4], ["VALUE", "mk3", "3", "2"])
        eq([r[1], r[3], r[4]], ["v1", "v3", "END"])
        eq(c.cmd("get x y z\r\n", b"END\r\n"), "END\r\n")
        # many keys on one line (more tokens than a storage command allows)
        keys = " ".join("mk%d" % (i % 5) for i in range(30))
        r = c.cmd("get %s\r\n" % keys, b"END\r\n")
        eq(r.count("VALUE "), 30)


@test
def key_length_limit():
    k250, k251 = "a" * 250, "b" * 251
    with fresh() as c:
        eq(c.cmd("set %s 0 0 1\r\nx\r\n" % k250), "STORED\r\n")
        eq(c.cmd("get %s\r\n" % k250, b"END\r\n"),
           "VALUE %s 0 1\r\nx\r\nEND\r\n" % k250)
        # the data line after a rejected set is read as a command
        eq(c.cmd("set %s 0 0 1\r\nx\r\n" % k251, b"ERROR\r\n"),
           "CLIENT_ERROR bad command line format\r\nERROR\r\n")
        eq(c.cmd("get %s\r\n" % k251), "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("get a %s\r\n" % k251), "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("delete %s\r\n" % k251), "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("incr %s 1\r\n" % k251), "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("touch %s 1\r\n" % k251), "CLIENT_ERROR bad command line format\r\n")
        eq(c.cmd("delete %s\r\n" % k250), "DELETED\r\n")


@test
def value_too_large_then_connection_works():
    with fresh() as c:
        for n in (2 * 1024 * 1024, 1024 * 1024 + 1):
            c.send(b"set big 0 0 %d\r\n" % n + b"x" * n + b"\r\n")
            eq(c.read_line(timeout=10).decode(),
               "SERVER_ERROR object too large for cache\r\n", "size %d" % n)
        eq(c.cmd("get big\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set ok 0 0 2\r\nok\r\n"), "STORED\r\n")
        eq(c.cmd("get ok\r\n", b"END\r\n"), "VALUE ok 0 2\r\nok\r\nEND\r\n")
        # a large value below the limit is stored and returned intact
        n = 500 * 1000
        val = bytes(range(256)) * (n // 256) + b"z" * (n % 256)
        c.send(b"set big 0 0 %d\r\n" % n + val + b"\r\n")
        eq(c.read_line(timeout=10), b"STORED\r\n")
        c.send(b"get big\r\n")
        eq(c.read_line(), b"VALUE big 0 %d\r\n" % n)
        eq(c.read_exact(n + 7, timeout=10), val + b"\r\nEND\r\n")
        # an existing key is removed when its too-large replacement fails
        c.send(b"set ok 0 0 %d\r\n" % (2 * 1024 * 1024) + b"y" * (2 * 1024 * 1024) + b"\r\n")
        eq(c.read_line(timeout=10), b"SERVER_ERROR object too large for cache\r\n")
        eq(c.cmd("get ok\r\n", b"END\r\n"), "END\r\n")


@test
def bad_data_chunk():
    with fresh() as c:
        # 5 bytes sent for a 3-byte value: the trailing "\r\n" then forms
        # an empty command line, answered ERROR
        eq(c.cmd("set k 0 0 3\r\nabcde\r\n", b"ERROR\r\n"),
           "CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        eq(c.cmd("get k\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("set k 0 0 1\r\nxy\r\n", b"ERROR\r\n"),
           "CLIENT_ERROR bad data chunk\r\nERROR\r\n")
        eq(c.cmd("set k 0 0 1\r\nx\r\n"), "STORED\r\n")


@test
def command_line_errors():
    with fresh() as c:
        eq(c.cmd("bogus\r\n"), "ERROR\r\n")
        eq(c.cmd("SET k 0 0 1\r\nx\r\n", b"ERROR\r\nERROR\r\n"), "ERROR\r\nERROR\r\n")
        eq(c.cmd("\r\n"), "ERROR\r\n")
        eq(c.cmd("set k\r\n"), "ERROR\r\n")
        eq(c.cmd("get\r\n"), "ERROR\r\n")
        eq(c.cmd("delete\r\n"), "ERROR\r\n")
        eq(c.cmd("cas k 0 0 1\r\n"), "ERROR\r\n")
        for bad in ("set k 0 0 -1", "set k 0 0 abc", "set k abc 0 1",
                    "set k 0 abc 1", "set k -1 0 1"):
            eq(c.cmd(bad + "\r\n"), "CLIENT_ERROR bad command line format\r\n", bad)
            eq(c.cmd("get k\r\n", b"END\r\n"), "END\r\n")


@test
def too_many_tokens():
    with fresh() as c:
        eq(c.cmd("set a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n"),
           "ERROR\r\n")
        eq(c.cmd("set x 0 0 3 noreply extra\r\nabc\r\n", b"ERROR\r\nERROR\r\n"),
           "ERROR\r\nERROR\r\n")
        eq(c.cmd("verbosity 1 2 3 4\r\n"), "ERROR\r\n")
        eq(c.cmd("get x\r\n", b"END\r\n"), "END\r\n")


@test
def long_line_without_newline_closes():
    with conn() as c:
        c.send(b"x" * 3000)
        check(c.is_closed(3.0), "server kept the connection open")
    with conn() as c:
        c.send(b"set " + b"k" * 3000)
        check(c.is_closed(3.0), "server kept the connection open (set)")
    with conn() as c:  # the server still works
        eq(c.cmd("version\r\n")[:8], "VERSION ")


@test
def long_multiget_line():
    with fresh() as c:
        for i in range(0, 400, 7):
            eq(store(c, "set", "longkey_%04d" % i, "val%d" % i), "STORED\r\n")
        keys = ["longkey_%04d" % i for i in range(400)]
        line = ("get " + " ".join(keys) + "\r\n").encode()
        check(len(line) > 2048, "line too short")
        # send it in two pieces so the server sees >2048 bytes without LF
        c.send(line[:3000])
        time.sleep(0.1)
        c.send(line[3000:])
        r = c.read_until(b"END\r\n").decode()
        exp = "".join("VALUE longkey_%04d 0 %d\r\nval%d\r\n" % (i, len("val%d" % i), i)
                      for i in range(0, 400, 7)) + "END\r\n"
        eq(r, exp)
        r = c.cmd("gets " + " ".join(keys) + "\r\n", b"END\r\n")
        eq(r.count("VALUE "), len(range(0, 400, 7)))


@test
def pipelined_requests_in_one_send():
    with fresh() as c:
        req = b""
        exp = b""
        for i in range(50):
            req += b"set p%d 0 0 %d\r\nvalue%d\r\n" % (i, len(b"value%d" % i), i)
            exp += b"STORED\r\n"
        req += b"get p0 p49\r\nincr p0 1\r\ndelete p1\r\ndelete p1\r\nbogus\r\n"
        req += b"add p2 0 0 1\r\nx\r\nappend p2 0 0 1\r\n!\r\nget p2\r\nversion\r\n"
        exp += (b"VALUE p0 0 6\r\nvalue0\r\nVALUE p49 0 7\r\nvalue49\r\nEND\r\n"
                b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
                b"DELETED\r\nNOT_FOUND\r\nERROR\r\nNOT_STORED\r\nSTORED\r\n"
                b"VALUE p2 0 7\r\nvalue2!\r\nEND\r\n")
        c.send(req)
        got = c.read_exact(len(exp))
        eq(got, exp)
        check(c.read_line().startswith(b"VERSION "), "version last")


@test
def request_split_into_single_bytes():
    with fresh() as c:
        for req, exp in ((b"set split 5 0 5\r\nhello\r\n", b"STORED\r\n"),
                         (b"get split\r\n", b"VALUE split 5 5\r\nhello\r\nEND\r\n"),
                         (b"incr split 1\r\n",
                          b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
                         (b"delete split\r\n", b"DELETED\r\n")):
            for i in range(len(req)):
                c.send(req[i:i + 1])
                time.sleep(0.002)
            eq(c.read_exact(len(exp)), exp, req.decode())
        eq(c.read_available(0.1), b"")


@test
def quit_closes():
    with conn() as c:
        c.send("quit\r\n")
        check(c.is_closed(3.0), "connection not closed after quit")
    with conn() as c:  # pipelined: commands before quit are answered
        c.send("set q 0 0 1\r\nx\r\nget q\r\nquit\r\nget q\r\n")
        eq(c.read_until(b"END\r\n"), b"STORED\r\nVALUE q 0 1\r\nx\r\nEND\r\n")
        check(c.is_closed(3.0), "connection not closed after quit")


# ------------------------------------------------------------------ stats

STATS_FIELDS = ("pid uptime time version pointer_size rusage_user rusage_system "
                "curr_connections total_connections cmd_get cmd_set cmd_flush "
                "cmd_touch get_hits get_misses get_expired delete_hits "
                "delete_misses incr_hits incr_misses decr_hits decr_misses "
                "cas_hits cas_misses cas_badval touch_hits touch_misses "
                "bytes_read bytes_written limit_maxbytes threads bytes "
                "curr_items total_items evictions reclaimed").split()


@test
def stats_general_fields():
    with conn() as c:
        r = c.cmd("stats\r\n", b"END\r\n")
        lines = r.split("\r\n")
        eq(lines[-2:], ["END", ""])
        for l in lines[:-2]:
            parts = l.split(" ")
            check(len(parts) >= 3 and parts[0] == "STAT", "bad stats line %r" % l)
        st = c.stats()
        missing = [f for f in STATS_FIELDS if f not in st]
        eq(missing, [], "missing stats fields")
        eq(int(st["pid"]), SRV.pid, "stats pid")
        check(abs(int(st["time"]) - time.time()) < 5, "stats time %s" % st["time"])
        check(int(st["uptime"]) >= 0, "uptime")
        eq(st["limit_maxbytes"], str(64 * 1024 * 1024), "default -m 64")
        eq(st["threads"], str(default_threads()), "default -t")
        eq(st["pointer_size"], "64")
        for f in ("rusage_user", "rusage_system"):
            check(float(st[f]) >= 0, f)
        for f in STATS_FIELDS:
            if f not in ("version", "rusage_user", "rusage_system"):
                check(st[f].isdigit(), "%s not an integer: %r" % (f, st[f]))


@test
def stats_counters_move():
    with Server() as srv, conn(srv) as c:
        s0 = c.stats()
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n")
        eq(c.cmd("get nokey\r\n", b"END\r\n"), "END\r\n")
        eq(c.cmd("get a nokey a\r\n", b"END\r\n").count("VALUE"), 2)
        eq(c.cmd("add a 0 0 1\r\n2\r\n"), "NOT_STORED\r\n")
        eq(c.cmd("incr a 5\r\n"), "6\r\n")
        eq(c.cmd("incr nokey 5\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("decr a 1\r\n"), "5\r\n")
        eq(c.cmd("decr nokey 1\r\n"), "NOT_FOUND\r\n")
        u = gets_cas(c, "a")
        eq(c.cmd("cas a 0 0 1 %d\r\n7\r\n" % u), "STORED\r\n")
        eq(c.cmd("cas a 0 0 1 %d\r\n8\r\n" % u), "EXISTS\r\n")
        eq(c.cmd("cas nokey 0 0 1 1\r\n8\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("touch a 100\r\n"), "TOUCHED\r\n")
        eq(c.cmd("touch nokey 100\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("set b 0 0 2\r\nbb\r\n"), "STORED\r\n")
        eq(c.cmd("delete b\r\n"), "DELETED\r\n")
        eq(c.cmd("delete b\r\n"), "NOT_FOUND\r\n")
        eq(c.cmd("set neg 0 -1 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("get neg\r\n", b"END\r\n"), "END\r\n")
        s1 = c.stats()

        def d(f):
            return int(s1[f]) - int(s0[f])
        exp = {"cmd_get": 7, "get_hits": 4, "get_misses": 3, "get_expired": 1,
               "cmd_set": 7, "incr_hits": 1, "incr_misses": 1,
               "decr_hits": 1, "decr_misses": 1, "cas_hits": 1,
               "cas_badval": 1, "cas_misses": 1, "touch_hits": 1,
               "touch_misses": 1, "cmd_touch": 2, "delete_hits": 1,
               "delete_misses": 1, "cmd_flush": 0}
        got = dict((f, d(f)) for f in exp)
        eq(got, exp, "counter deltas")
        eq(s1["curr_items"], "1")
        check(d("total_items") >= 4, "total_items delta %d" % d("total_items"))
        check(d("bytes_read") > 0 and d("bytes_written") > 0, "byte counters")
        check(int(s1["bytes"]) > 0, "bytes")
        eq(c.cmd("flush_all\r\n"), "OK\r\n")
        s2 = c.stats()
        eq(int(s2["cmd_flush"]) - int(s1["cmd_flush"]), 1, "cmd_flush")
        # connections
        with conn(srv) as c2:
            eq(c2.cmd("version\r\n")[:8], "VERSION ")
            s3 = c.stats()
            eq(int(s3["curr_connections"]) - int(s2["curr_connections"]), 1,
               "curr_connections")
            check(int(s3["total_connections"]) > int(s2["total_connections"]),
                  "total_connections")
        ok = poll(lambda: c.stats()["curr_connections"] == s2["curr_connections"])
        check(ok, "curr_connections did not drop after close")


@test
def stats_settings():
    with conn() as c:
        r = c.cmd("stats settings\r\n", b"END\r\n")
        check(r.endswith("\r\nEND\r\n"), "terminator")
        st = c.stats("settings")
        exp = {"maxbytes": str(64 * 1024 * 1024), "maxconns": "1024",
               "tcpport": str(SRV.port), "udpport": "0", "inter": "127.0.0.1",
               "verbosity": "0", "evictions": "on", "growth_factor": "1.25",
               "chunk_size": "48", "num_threads": str(default_threads()), "cas_enabled": "yes",
               "item_size_max": "1048576", "detail_enabled": "no",
               "stat_key_prefix": ":"}
        eq(dict((k, st.get(k)) for k in exp), exp, "stats settings")
        eq(c.cmd("verbosity 1\r\n"), "OK\r\n")
        eq(c.stats("settings").get("verbosity"), "1", "verbosity after change")
        eq(c.cmd("verbosity 0\r\n"), "OK\r\n")


@test
def stats_items_and_slabs():
    # own server: memcached keeps flushed items counted until reclaimed
    with Server() as srv, conn(srv) as c:
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("set b 0 0 1\r\n2\r\n"), "STORED\r\n")
        r = c.cmd("stats items\r\n", b"END\r\n")
        for l in r.split("\r\n")[:-2]:
            check(l.startswith("STAT items:"), "bad items line %r" % l)
        st = c.stats("items")
        eq(st.get("items:1:number"), "2", "two small items in slab class 1")
        for f in ("number", "age", "evicted", "evicted_nonzero", "evicted_time",
                  "outofmemory", "tailrepairs", "reclaimed", "expired_unfetched",
                  "evicted_unfetched"):
            check(("items:1:" + f) in st, "missing items:1:%s" % f)
            check(st["items:1:" + f].isdigit(), "items:1:%s not numeric" % f)
        s0 = c.stats("slabs")
        eq(s0.get("1:chunk_size"), "96", "slab class 1 chunk size")
        for f in ("chunk_size", "chunks_per_page", "total_pages", "total_chunks",
                  "used_chunks", "free_chunks", "free_chunks_end", "get_hits",
                  "cmd_set", "delete_hits", "incr_hits", "decr_hits", "cas_hits",
                  "cas_badval", "touch_hits"):
            check(("1:" + f) in s0, "missing slabs 1:%s" % f)
        for f in ("active_slabs", "total_malloced"):
            check(f in s0, "missing slabs %s" % f)
        eq(s0["1:used_chunks"], "2")
        eq(int(s0["1:chunk_size"]) * int(s0["1:chunks_per_page"]) <= 1024 * 1024, True)
        eq(int(s0["1:total_chunks"]) - int(s0["1:used_chunks"])
           - int(s0["1:free_chunks"]) - int(s0["1:free_chunks_end"]) <= 0, True)
        eq(c.cmd("get a\r\n", b"END\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n")
        eq(c.cmd("incr b 1\r\n"), "3\r\n")
        eq(c.cmd("set c 0 0 1\r\n3\r\n"), "STORED\r\n")
        eq(c.cmd("touch c 100\r\n"), "TOUCHED\r\n")
        eq(c.cmd("delete c\r\n"), "DELETED\r\n")
        s1 = c.stats("slabs")
        for f, n in (("get_hits", 1), ("incr_hits", 1), ("cmd_set", 1),
                     ("touch_hits", 1), ("delete_hits", 1)):
            eq(int(s1["1:" + f]) - int(s0["1:" + f]), n, "slab 1:" + f)


@test
def stats_sizes():
    with conn() as c:
        eq(c.cmd("stats sizes\r\n", b"END\r\n"), "STAT sizes_status disabled\r\nEND\r\n")


@test
def stats_cachedump():
    with Server() as srv, conn(srv) as c:
        eq(c.cmd("set cd1 0 0 1\r\nx\r\n"), "STORED\r\n")
        eq(c.cmd("set cd2 0 0 3\r\nxyz\r\n"), "STORED\r\n")
        t0 = int(time.time())
        eq(c.cmd("set cdexp 0 1000 2\r\nxy\r\n"), "STORED\r\n")

        def dump():
            r = c.cmd("stats cachedump 1 0\r\n", b"END\r\n")
            lines = r.split("\r\n")
            ok = lines[-2:] == ["END", ""] and len(lines) == 5
            return lines if ok else None
        # memcached moves new items to the dumped LRU asynchronously
        lines = poll(dump, 5.0, 0.1)
        check(lines, "cachedump did not list the 3 items")
        items = sorted(lines[:3])
        eq(items[0], "ITEM cd1 [1 b; 0 s]")
        eq(items[1], "ITEM cd2 [3 b; 0 s]")
        p = items[2].split(" ")
        eq([p[0], p[1], p[2], p[3], p[5]], ["ITEM", "cdexp", "[2", "b;", "s]"])
        check(abs(int(p[4]) - (t0 + 1000)) <= 3, "absolute expiry %r" % p[4])
        # limit argument
        r = c.cmd("stats cachedump 1 1\r\n", b"END\r\n")
        eq(r.count("ITEM "), 1)
        eq(c.cmd("stats cachedump 1\r\n"), "CLIENT_ERROR bad command line\r\n")
        eq(c.cmd("stats cachedump\r\n"), "CLIENT_ERROR bad command line\r\n")


@test
def stats_reset():
    with Server() as srv, conn(srv) as c:
        eq(c.cmd("set a 0 0 1\r\n1\r\n"), "STORED\r\n")
        eq(c.cmd("get a\r\n", b"END\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n")
        eq(c.cmd("get b\r\n", b"END\r\n"), "END\r\n")
        check(int(c.stats()["get_hits"]) >= 1, "get_hits before reset")
        eq(c.cmd("stats reset\r\n"), "RESET\r\n")
        st = c.stats()
        for f in ("cmd_get", "get_hits", "get_misses", "cmd_set", "delete_hits",
                  "incr_hits", "cas_hits", "touch_hits", "total_items", "evictions"):
            eq(st[f], "0", "%s after stats reset" % f)
        eq(st["curr_items"], "1", "curr_items survives reset")
        eq(get_value(c, "a"), "1")
        eq(c.stats()["get_hits"], "1")


@test
def stats_detail():
    with fresh() as c:
        eq(c.cmd("stats detail on\r\n"), "OK\r\n")
        try:
            eq(c.cmd("set foo:bar 0 0 1\r\nx\r\n"), "STORED\r\n")
            eq(c.cmd("get foo:bar\r\n", b"END\r\n"), "VALUE foo:bar 0 1\r\nx\r\nEND\r\n")
            eq(c.cmd("get foo:baz\r\n", b"END\r\n"), "END\r\n")
            eq(c.cmd("delete foo:bar\r\n"), "DELETED\r\n")
            eq(c.cmd("stats detail dump\r\n", b"END\r\n"),
               "PREFIX foo get 2 hit 1 set 1 del 1\r\nEND\r\n")
        finally:
            eq(c.cmd("stats detail off\r\n"), "OK\r\n")
        eq(c.cmd("stats detail\r\n"), "CLIENT_ERROR usage: stats detail on|off|dump\r\n")
        eq(c.cmd("stats detail bogus\r\n"),
           "CLIENT_ERROR usage: stats detail on|off|dump\r\n")


@test
def stats_unknown_subcommand():
    with conn() as c:
        eq(c.cmd("stats bogus\r\n"), "ERROR\r\n")
        eq(c.cmd("version\r\n")[:8], "VERSION ")


# ------------------------------------------------------ shmcached-specific

@test
def threads_and_memory_options():
    with Server(["-t", "3", "-m", "32"]) as srv, conn(srv) as c:
        st = c.stats()
        eq(st.get("threads"), "3", "stats threads with -t 3")
        eq(st.get("limit_maxbytes"), str(32 * 1024 * 1024), "-m 32")
        st = c.stats("settings")
        eq(st.get("num_threads"), "3")
        eq(st.get("maxbytes"), str(32 * 1024 * 1024))
        eq(c.cmd("set k 0 0 1\r\nx\r\nget k\r\n", b"END\r\n"),
           "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n")


@test
def worker_processes_t3():
    if not harness.is_shmcached():
        raise SkipTest("child process count only for shmcached "
                       "(memcached uses threads)")
    with Server(["-t", "3"]) as srv:
        ok = poll(lambda: len(harness.child_pids(srv.pid)) == 3, 5.0, 0.1)
        check(ok, "expected 3 child processes, have %r"
              % harness.child_pids(srv.pid))
        time.sleep(0.3)
        eq(len(harness.child_pids(srv.pid)), 3, "child processes stable")


@test
def background_sweep_and_no_lru_crawler():
    if not harness.is_shmcached():
        raise SkipTest("shmcached's sweep timing (memcached's crawler differs)")
    # items expiring in 1 s, never read again: the LRU maintainer reclaims
    # them at the tails (counted "reclaimed"; the crawler off, so that its
    # sweep cannot get there first on a loaded machine); without it, the
    # crawler's once-a-second sweep does ("crawler_reclaimed"); with
    # neither, nothing
    with Server(["-o", "no_lru_crawler"]) as mt, \
            Server(["-o", "no_lru_maintainer"]) as cr, \
            Server(["-o", "no_lru_crawler,no_lru_maintainer"]) as off, \
            conn(mt) as a, conn(cr) as b, conn(off) as n:
        for c in (a, b, n):
            c.cmd("".join("set sw%d 0 1 1 noreply\r\nx\r\n" % i
                          for i in range(50)) + "version\r\n", b"\r\n")
            eq(c.stats()["curr_items"], "50")
        for c in (a, b):
            check(poll(lambda: c.stats()["curr_items"] == "0", 6.0, 0.2),
                  "expired items reclaimed: %s" % c.stats()["curr_items"])
        eq(int(a.stats()["reclaimed"]), 50, "by the maintainer")
        eq(int(b.stats()["crawler_reclaimed"]), 50, "by the crawler")
        eq(n.stats()["curr_items"], "50", "no maintainer, no crawler")


@test
def cache_memlimit_command():
    with Server() as srv, conn(srv) as c:
        eq(c.cmd("cache_memlimit 100\r\n"), "OK\r\n")
        eq(c.stats()["limit_maxbytes"], str(100 * 1024 * 1024))
        eq(c.cmd("cache_memlimit 1\r\n"),
           "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n")
        eq(c.cmd("cache_memlimit 80 noreply\r\nget x\r\n", b"END\r\n"), "END\r\n")
        eq(c.stats()["limit_maxbytes"], str(80 * 1024 * 1024))
        eq(c.cmd("cache_memlimit\r\n"), "ERROR\r\n")
        eq(c.cmd("cache_memlimit abc\r\n"), "ERROR\r\n")


@test
def shmcached_worker_stats():
    if not harness.is_shmcached():
        raise SkipTest("shmcached-specific stats")
    with Server(["-t", "3"]) as srv, conn(srv) as c:
        st = c.stats("shmcached")
        for f in ("workers", "worker_restarts"):
            check(f in st, "missing stats shmcached field %s" % f)
            check(f not in c.stats(), "%s in stats (memcached's lines)" % f)
        eq(st["workers"], "3", "workers with -t 3")
        eq(st["worker_restarts"], "0")


def main():
    harness.run_with_server("test_transcript", TESTS, sys.modules[__name__])


if __name__ == "__main__":
    main()
