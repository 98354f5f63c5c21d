#!/usr/bin/python3
"""memcached's binary protocol against the server, black-box:

* memccapable -b (libmemcached-tools' binary conformance run) prints
  "All tests passed";
* raw-socket transcripts: every error status with memcached's exact text,
  opaque echo, quiet batching, the connection behaviour on invalid
  lengths, a value over the item size swallowed with "Too large.";
* pylibmc (binary=True), python-binary-memcached (bmemcached) and Ruby's
  Dalli 3.0 (binary only) through every command they offer;
* a text client and a binary client see one cache (value, flags, CAS).

Must run with /usr/bin/python3 (Debian's pylibmc and bmemcached).
Run: SHMC_SERVER=/usr/bin/memcached /usr/bin/python3 test_binary.py
"""

import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, SkipTest, check, eq  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRV = None
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


# ---- packets -------------------------------------------------------------

HDR = ">BBHBBHIIQ"


def pkt(op, key=b"", ext=b"", val=b"", cas=0, opaque=0):
    return struct.pack(HDR, 0x80, op, len(key), len(ext), 0, 0,
                       len(key) + len(ext) + len(val), opaque, cas) \
        + ext + key + val


def raw_header(op, keylen, extlen, bodylen, opaque=0, magic=0x80):
    return struct.pack(HDR, magic, op, keylen, extlen, 0, 0, bodylen,
                       opaque, 0)


class Bin(object):
    """A raw binary-protocol connection."""

    def __init__(self, port):
        self.c = RawClient(port)

    def close(self):
        self.c.close()

    def send(self, data):
        self.c.send(data)

    def recv(self):
        """One response: dict(op, status, opaque, cas, ext, key, val)."""
        h = self.c.read_exact(24)
        magic, op, kl, el, _dt, st, bl, opq, cas = struct.unpack(HDR, h)
        eq(magic, 0x81, "response magic")
        body = self.c.read_exact(bl) if bl else b""
        return dict(op=op, status=st, opaque=opq, cas=cas, ext=body[:el],
                    key=body[el:el + kl], val=body[el + kl:])

    def call(self, data):
        self.send(data)
        return self.recv()

    def closed(self):
        return self.c.is_closed(2.0)


def x_set(flags=0, exp=0):
    return struct.pack(">II", flags, exp)


def x_delta(delta, initial, exp=0):
    return struct.pack(">QQI", delta, initial, exp)


def fresh():
    b = Bin(SRV.port)
    eq(b.call(pkt(0x08))["status"], 0, "flush")
    return b


def err(r, status, text, op=None):
    eq(r["status"], status, "status")
    eq(r["val"], text, "error text")
    eq(r["cas"], 0, "cas of an error")
    if op is not None:
        eq(r["op"], op, "opcode")


# ---- memccapable ---------------------------------------------------------

@test
def memccapable_binary():
    out = subprocess.run(["memccapable", "-b", "-t", "5", "-p",
                          str(SRV.port), "-h", "127.0.0.1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60).stdout.decode("latin-1")
    check("All tests passed" in out, "memccapable -b said:\n" + out[-2000:])


# ---- raw transcripts -----------------------------------------------------

@test
def raw_get_set_statuses():
    b = fresh()
    err(b.call(pkt(0x00, b"nokey", opaque=7)), 1, b"Not found", 0x00)
    r = b.call(pkt(0x0c, b"nokey", opaque=0x01020304))
    eq((r["status"], r["key"], r["val"], r["opaque"]),
       (1, b"nokey", b"", 0x01020304))
    r = b.call(pkt(0x01, b"k", x_set(5), b"hello", opaque=9))
    eq((r["status"], r["opaque"]), (0, 9))
    cas = r["cas"]
    check(cas != 0, "set returns a CAS")
    r = b.call(pkt(0x0c, b"k"))
    eq((r["ext"], r["key"], r["val"], r["cas"]),
       (b"\0\0\0\5", b"k", b"hello", cas))
    err(b.call(pkt(0x02, b"k", x_set(), b"v")), 2, b"Data exists for key.")
    err(b.call(pkt(0x03, b"zz", x_set(), b"v")), 1, b"Not found")
    err(b.call(pkt(0x0e, b"zz", b"", b"v")), 5, b"Not stored.")
    err(b.call(pkt(0x01, b"k", x_set(), b"v", cas=cas + 1)), 2,
        b"Data exists for key.")
    err(b.call(pkt(0x01, b"zz", x_set(), b"v", cas=5)), 1, b"Not found")
    err(b.call(pkt(0x04, b"k", cas=cas + 1)), 2, b"Data exists for key.")
    err(b.call(pkt(0x05, b"k", x_delta(1, 0))), 6,
        b"Non-numeric server-side value for incr or decr")
    err(b.call(pkt(0x05, b"n", x_delta(1, 0, 0xffffffff))), 1, b"Not found")
    r = b.call(pkt(0x05, b"n", x_delta(1, 10)))
    eq((r["status"], r["val"]), (0, struct.pack(">Q", 10)))
    r = b.call(pkt(0x06, b"n", x_delta(3, 10)))
    eq((r["status"], r["val"]), (0, struct.pack(">Q", 7)))
    err(b.call(pkt(0x1c, b"zz", struct.pack(">I", 0))), 1, b"Not found")
    r = b.call(pkt(0x1c, b"k", struct.pack(">I", 100)))
    eq((r["status"], r["ext"], r["val"]), (0, b"\0\0\0\5", b""))
    err(b.call(pkt(0x50, b"", b"", b"xyz")), 0x81, b"Unknown command")
    for op in (0x20, 0x21, 0x22):
        key = b"" if op == 0x20 else b"PLAIN"
        val = b"" if op == 0x20 else b"\0u\0p"
        err(b.call(pkt(op, key, b"", val)), 0x81, b"Unknown command")
    r = b.call(pkt(0x0b))
    check(r["status"] == 0 and r["val"][:2] == b"1.", "version %r" % r)
    eq(b.call(pkt(0x0a, opaque=77))["opaque"], 77)
    b.close()


@test
def raw_quiet_batch():
    b = fresh()
    b.send(pkt(0x11, b"q", x_set(1), b"v", opaque=1) +      # setq
           pkt(0x0d, b"q", opaque=2) +                      # getkq hit
           pkt(0x09, b"miss", opaque=3) +                   # getq miss
           pkt(0x12, b"q", x_set(1), b"v", opaque=4) +      # addq error
           pkt(0x14, b"q", opaque=5) +                      # deleteq ok
           pkt(0x14, b"q", opaque=6) +                      # deleteq miss
           pkt(0x15, b"c", x_delta(1, 5), opaque=7) +       # incrq
           pkt(0x18, opaque=8) +                            # flushq
           pkt(0x0a, opaque=9))                             # noop
    got = []
    while True:
        r = b.recv()
        got.append((r["op"], r["status"], r["opaque"]))
        if r["op"] == 0x0a:
            break
    eq(got, [(0x0d, 0, 2), (0x12, 2, 4), (0x14, 1, 6), (0x0a, 0, 9)])
    b.close()


@test
def raw_invalid_closes():
    cases = [
        (raw_header(0x00, 1, 4, 5) + b"\0" * 5, 4, b"Invalid arguments"),
        (raw_header(0x00, 251, 0, 251) + b"k" * 251, 4, b"Invalid arguments"),
        (raw_header(0x0a, 0, 0, 1) + b"x", 4, b"Invalid arguments"),
        (raw_header(0x00, 2, 0, 1) + b"ab", 0x81, b"Unknown command"),
    ]
    for data, status, text in cases:
        b = Bin(SRV.port)
        b.send(data + pkt(0x0a))
        err(b.recv(), status, text)
        check(b.closed(), "closed after %r" % text)
        b.close()
    b = Bin(SRV.port)
    b.send(pkt(0x0a) + raw_header(0x0a, 0, 0, 0, magic=0x81))
    eq(b.recv()["status"], 0)
    check(b.closed(), "closed on a bad magic")
    b.close()
    b = Bin(SRV.port)
    b.send(pkt(0x07, opaque=3) + pkt(0x0a))
    eq(b.recv()["opaque"], 3)
    check(b.closed(), "closed after quit")


@test
def raw_too_large_and_streaming():
    b = fresh()
    eq(b.call(pkt(0x01, b"big", x_set(), b"old"))["status"], 0)
    b.send(pkt(0x01, b"big", x_set(), b"x" * (1024 * 1024 + 10), opaque=1) +
           pkt(0x0a, opaque=2))
    err(b.recv(), 3, b"Too large.")
    eq(b.recv()["opaque"], 2)
    err(b.call(pkt(0x00, b"big")), 1, b"Not found")
    # a value near the item size, sent in pieces
    val = bytes(range(256)) * 4000
    data = pkt(0x01, b"large", x_set(3), val, opaque=5)
    for i in range(0, len(data), 65536):
        b.send(data[i:i + 65536])
        time.sleep(0.001)
    eq(b.recv()["status"], 0)
    r = b.call(pkt(0x00, b"large"))
    eq((r["ext"], len(r["val"])), (b"\0\0\0\3", len(val)))
    check(r["val"] == val, "large value intact")
    b.close()


@test
def raw_stats():
    b = Bin(SRV.port)
    b.send(pkt(0x10, opaque=4))
    stats = {}
    while True:
        r = b.recv()
        eq(r["opaque"], 4)
        if not r["key"]:
            break
        stats[r["key"]] = r["val"]
    for k in (b"pid", b"cmd_get", b"curr_items", b"version"):
        check(k in stats, "stat %r" % k)
    b.send(pkt(0x10, b"settings"))
    keys = []
    while True:
        r = b.recv()
        if not r["key"]:
            break
        keys.append(r["key"])
    check(b"item_size_max" in keys, "settings")
    err(b.call(pkt(0x10, b"bogus")), 1, b"Not found")
    r = b.call(pkt(0x10, b"reset"))
    eq((r["status"], r["key"], r["val"]), (0, b"", b""))
    b.close()


@test
def text_and_binary_one_cache():
    b = fresh()
    with RawClient(SRV.port) as t:
        eq(t.cmd("set m 42 0 3\r\nabc\r\n"), "STORED\r\n")
        line = t.cmd("gets m\r\n", b"END\r\n")
        tcas = int(line.split("\r\n")[0].split()[4])
        r = b.call(pkt(0x00, b"m"))
        eq((r["ext"], r["val"], r["cas"]), (struct.pack(">I", 42), b"abc", tcas))
        r = b.call(pkt(0x01, b"m", x_set(7), b"xyz", cas=tcas))
        eq(r["status"], 0)
        eq(t.cmd("gets m\r\n", b"END\r\n"),
           "VALUE m 7 3 %d\r\nxyz\r\nEND\r\n" % r["cas"])
        eq(t.cmd("incr m 1\r\n"),
           "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
    b.close()


# ---- pylibmc -------------------------------------------------------------

@test
def pylibmc_binary():
    import pylibmc
    mc = pylibmc.Client(["127.0.0.1:%d" % SRV.port], binary=True,
                        behaviors={"cas": True, "tcp_nodelay": True})
    mc.flush_all()
    check(mc.set("a", "1"), "set")
    eq(mc.get("a"), "1")
    eq(mc.get("nokey"), None)
    eq(mc.add("a", "x"), False)
    check(mc.add("b", "2"), "add")
    check(mc.replace("b", "3"), "replace")
    try:                            # binary: libmemcached reports NOT_FOUND
        mc.replace("nokey", "3")
        raise AssertionError("replace of a missing key did not fail")
    except pylibmc.NotFound:
        pass
    eq(mc.get("nokey"), None)
    check(mc.append("b", "4"), "append")
    check(mc.prepend("b", "0"), "prepend")
    eq(mc.get("b"), "034")
    val, cas = mc.gets("b")
    eq(val, "034")
    check(mc.cas("b", "new", cas), "cas")
    eq(mc.cas("b", "newer", cas), False)
    eq(mc.get("b"), "new")
    eq(mc.incr("a", 5), 6)
    eq(mc.decr("a", 10), 0)
    try:
        mc.incr("nocounter", 1)
        raise AssertionError("incr on a missing key did not fail")
    except pylibmc.NotFound:
        pass
    check(mc.touch("a", 100), "touch")
    eq(mc.touch("nokey", 100), False)
    eq(mc.set_multi({"m1": "x", "m2": "y", "m3": "z"}), [])
    eq(mc.get_multi(["m1", "m2", "m3", "missing"]),
       {"m1": "x", "m2": "y", "m3": "z"})
    check(mc.delete_multi(["m1", "m2"]), "delete_multi")
    eq(mc.get_multi(["m1", "m2", "m3"]), {"m3": "z"})
    check(mc.delete("m3"), "delete")
    eq(mc.delete("m3"), False)
    mc.set("obj", {"k": [1, 2]})
    eq(mc.get("obj"), {"k": [1, 2]})
    mc.set("big", "v" * 500000)
    eq(mc.get("big"), "v" * 500000)
    stats = mc.get_stats()
    check(len(stats) == 1 and "curr_items" in stats[0][1], "get_stats")
    check(mc.flush_all(), "flush_all")
    eq(mc.get("a"), None)


# ---- python-binary-memcached --------------------------------------------

@test
def bmemcached_client():
    try:
        import bmemcached
    except ImportError:
        raise SkipTest("python3-binary-memcached not installed")
    mc = bmemcached.Client(["127.0.0.1:%d" % SRV.port])
    check(mc.flush_all(), "flush_all")
    check(mc.set("k", "v"), "set")
    eq(mc.get("k"), "v")
    eq(mc.get("nokey"), None)
    eq(mc.add("k", "x"), False)
    check(mc.add("k2", "x"), "add")
    check(mc.replace("k2", "y"), "replace")
    eq(mc.replace("nokey", "y"), False)
    val, cas = mc.gets("k2")
    eq(val, "y")
    check(mc.cas("k2", "z", cas), "cas")
    eq(mc.cas("k2", "w", cas), False)
    eq(mc.get("k2"), "z")
    eq(mc.incr("cnt", 1), 0)        # created with its default initial 0
    eq(mc.incr("cnt", 5), 5)
    eq(mc.decr("cnt", 2), 3)
    eq(mc.set_multi({"a": "1", "b": "two"}), [])   # the keys not stored
    eq(mc.get_multi(["a", "b", "c"]), {"a": "1", "b": "two"})
    check(mc.delete("a"), "delete")
    mc.delete("a")                  # bmemcached: True on a miss too
    eq(mc.get("a"), None)
    check(mc.delete_multi(["b", "k"]), "delete_multi")
    eq(mc.get("b"), None)
    st = mc.stats()
    one = list(st.values())[0]
    check("curr_items" in one, "stats %r" % list(one)[:5])
    check(mc.flush_all(), "flush_all")
    eq(mc.get("k2"), None)
    mc.disconnect_all()


# ---- Ruby Dalli ---------------------------------------------------------

@test
def ruby_dalli():
    script = os.path.join(HERE, "dalli_check.rb")
    try:
        p = subprocess.run(["ruby", script, str(SRV.port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
    except FileNotFoundError:
        raise SkipTest("ruby not installed")
    out = p.stdout.decode("utf-8", "replace")
    if "cannot load such file -- dalli" in out:
        raise SkipTest("ruby-dalli not installed")
    check(p.returncode == 0 and "dalli ok" in out,
          "dalli script (exit %d):\n%s" % (p.returncode, out[-2000:]))


def main():
    harness.run_with_server("binary protocol", TESTS, sys.modules[__name__], ["-t", "2"])


if __name__ == "__main__":
    main()
