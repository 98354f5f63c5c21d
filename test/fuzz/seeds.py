#!/usr/bin/python3
"""Rebuilds the fuzz seed corpora in test/fuzz/corpus/<target>/ from the
tests' own requests (run it after the tests gain new transcripts; the
output is committed, so `make fuzz` never needs it):

  text     the first argument of every EXPECT()/EXPECT_CLOSE() of
           test/unit/test_proto_text.c, and the requests of each test of
           test/integration/test_transcript.py (one seed per test: the
           .cmd()/.send() literals in order), plus a few edge cases;
  meta     the same from test_proto_meta.c and test_meta.py (transcript()
           request lists);
  binary   frames built here the way test_binary.py builds them (its pkt()
           format): one seed per opcode after a set, and the sessions of its
           raw_* tests (quiet batch, CAS, invalid magic, too large, stats);
  settings the argument lists of test_settings.c's load() calls (NUL
           separated, then "\\0\\0"), and conf/shmcached.conf as a file.

Seeds longer than 4096 bytes are cut there (libFuzzer's default max_len),
except one text seed of a 40000-byte value: values of 32 KiB and more are
sent straight from shared memory (proto_text.c, conn.c conn_send_now), and
libFuzzer lets inputs grow to the size of the largest seed.
Files are named by the SHA-1 of their content, as libFuzzer names its own.
Regression inputs (corpus/<target>/regress-*) are kept as they are.
"""

import ast
import hashlib
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MAX = 4096


def c_literals(text, start):
    """Reads adjacent C string literals from text[start:]; returns (bytes,
    end) or (None, start) when there is none."""
    out = bytearray()
    i = start
    found = False
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text) or text[i] != '"':
            break
        found = True
        i += 1
        while text[i] != '"':
            ch = text[i]
            if ch != "\\":
                out += ch.encode("latin-1")
                i += 1
                continue
            esc = text[i + 1]
            i += 2
            simple = {"r": 13, "n": 10, "t": 9, "\\": 92, '"': 34, "'": 39,
                      "a": 7, "b": 8, "f": 12, "v": 11}
            if esc in simple:
                out.append(simple[esc])
            elif esc == "x":
                m = re.match(r"[0-9a-fA-F]+", text[i:])
                out.append(int(m.group(0), 16) & 0xFF)
                i += len(m.group(0))
            elif esc in "01234567":
                m = re.match(r"[0-7]{0,2}", text[i:])
                out.append(int(esc + m.group(0), 8) & 0xFF)
                i += len(m.group(0))
            else:
                out += esc.encode("latin-1")
        i += 1
    return (bytes(out) if found else None), i


def c_expect_inputs(path):
    text = open(path, encoding="latin-1").read()
    seeds = []
    for m in re.finditer(r"\bEXPECT(?:_CLOSE)?\(", text):
        s, _ = c_literals(text, m.end())
        if s:
            seeds.append(s)
    return seeds


def py_requests(path):
    """One seed per top-level function: its request literals, in order."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    seeds = []

    def const(node):
        if isinstance(node, ast.Constant) and isinstance(node.value,
                                                         (str, bytes)):
            v = node.value
            return v.encode("latin-1", "replace") if isinstance(v, str) else v
        return None

    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        parts = []
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("cmd", "send"):
                v = const(node.args[0])
                if v:
                    parts.append((node.lineno, node.col_offset, v))
            elif name == "transcript" and isinstance(node.args[0], ast.List):
                for el in node.args[0].elts:
                    if isinstance(el, ast.Tuple) and el.elts:
                        v = const(el.elts[0])
                        if v:
                            parts.append((el.lineno, el.col_offset, v))
        if parts:
            parts.sort()
            seeds.append(b"".join(p[2] for p in parts))
    return seeds


TEXT_EXTRA = [
    b"set big 0 0 20000\r\n" + b"v" * 3000,          # direct read, EOF
    b"set k 0 0 5\r\nabcde\r\nappend k 0 0 3\r\nfgh\r\nprepend k 0 0 2\r\n"
    b"12\r\ngets k\r\ncas k 0 0 1 1\r\nx\r\nincr k 1\r\ndecr k 1\r\n",
    b"set n 0 0 2\r\n10\r\nincr n 18446744073709551615\r\ndecr n 99\r\n"
    b"touch n 10\r\ngat 0 n\r\ngats 100 n\r\ndelete n\r\ndelete n noreply\r\n",
    b"stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats sizes\r\n"
    b"stats conns\r\nstats cachedump 1 10\r\nstats detail on\r\n"
    b"set a:b 0 0 1\r\nx\r\nget a:b\r\nstats detail dump\r\n"
    b"stats detail off\r\nstats reset\r\nstats sizes_enable\r\n"
    b"stats sizes\r\nstats sizes_disable\r\n",
    b"flush_all 10\r\nflush_all noreply\r\nflush_all\r\nversion\r\n"
    b"verbosity 1\r\nverbosity 1 noreply\r\ncache_memlimit 2\r\n"
    b"cache_memlimit 8\r\nshutdown\r\nquit\r\n",
    b"set e 0 -1 1\r\nx\r\nget e\r\nset f 0 1 1\r\ny\r\nget f\r\n"
    b"set g 0 1700000100 1\r\nz\r\nget g\r\n",
    b"get " + b"k " * 300 + b"\r\n",
    b"set " + b"k" * 251 + b" 0 0 1\r\nx\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"set x 0 0 2000000\r\n",
    b"\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x00k",
]


TEXT_BIG = [
    b"set big 3 0 40000\r\n" + bytes(range(200)) * 200 + b"\r\nget big\r\n"
    b"gets big big\r\nappend big 0 0 3\r\nabc\r\ngat 100 big\r\n"
    b"get big\r\n",
]


# ---- binary frames (test_binary.py's format) --------------------------

HDR = ">BBHBBHIIQ"


def pkt(op, key=b"", ext=b"", val=b"", cas=0, opaque=0, magic=0x80):
    return struct.pack(HDR, magic, op, len(key), len(ext), 0, 0,
                       len(key) + len(ext) + len(val), opaque, cas) + \
        ext + key + val


def x_set(flags=0, exp=0):
    return struct.pack(">II", flags, exp)


def x_delta(delta, initial, exp=0):
    return struct.pack(">QQI", delta, initial, exp)


def binary_seeds():
    setk = pkt(0x01, b"k", x_set(5, 0), b"value", opaque=1)
    setn = pkt(0x01, b"n", x_set(), b"10")
    ops = {
        0x00: pkt(0x00, b"k"), 0x09: pkt(0x09, b"k"), 0x0c: pkt(0x0c, b"k"),
        0x0d: pkt(0x0d, b"k"), 0x02: pkt(0x02, b"k", x_set(), b"v"),
        0x03: pkt(0x03, b"k", x_set(), b"w"), 0x04: pkt(0x04, b"k"),
        0x05: pkt(0x05, b"n", x_delta(5, 1)),
        0x06: pkt(0x06, b"n", x_delta(50, 1)),
        0x07: pkt(0x07), 0x08: pkt(0x08, ext=struct.pack(">I", 0)),
        0x0a: pkt(0x0a), 0x0b: pkt(0x0b),
        0x0e: pkt(0x0e, b"k", val=b"tail"), 0x0f: pkt(0x0f, b"k", val=b"hd"),
        0x10: pkt(0x10), 0x11: pkt(0x11, b"k", x_set(), b"q"),
        0x12: pkt(0x12, b"a", x_set(), b"q"),
        0x13: pkt(0x13, b"k", x_set(), b"q"), 0x14: pkt(0x14, b"k"),
        0x15: pkt(0x15, b"z", x_delta(1, 7, 0xFFFFFFFF)),
        0x16: pkt(0x16, b"n", x_delta(1, 7)), 0x17: pkt(0x17),
        0x18: pkt(0x18), 0x19: pkt(0x19, b"k", val=b"x"),
        0x1a: pkt(0x1a, b"k", val=b"y"),
        0x1c: pkt(0x1c, b"k", struct.pack(">I", 100)),
        0x1d: pkt(0x1d, b"k", struct.pack(">I", 100)),
        0x1e: pkt(0x1e, b"k", struct.pack(">I", 100)),
        0x20: pkt(0x20), 0x21: pkt(0x21, b"PLAIN", val=b"\0u\0p"),
        0x23: pkt(0x23, b"k", struct.pack(">I", 0)),
        0x24: pkt(0x24, b"k", struct.pack(">I", 0)),
    }
    seeds = [setk + setn + frame + pkt(0x0a) for frame in ops.values()]
    seeds += [
        # quiet batch: misses and hits of getq/getkq ended by noop
        setk + pkt(0x09, b"k", opaque=2) + pkt(0x09, b"m", opaque=3) +
        pkt(0x0d, b"k", opaque=4) + pkt(0x11, b"q", x_set(), b"1") +
        pkt(0x0a, opaque=5),
        # CAS: right, wrong, on a missing key
        setk + pkt(0x01, b"k", x_set(), b"new", cas=1) +
        pkt(0x01, b"k", x_set(), b"bad", cas=999) +
        pkt(0x03, b"none", x_set(), b"x", cas=1) + pkt(0x0e, b"k", cas=2),
        # stats groups
        pkt(0x10, b"settings") + pkt(0x10, b"items") + pkt(0x10, b"slabs") +
        pkt(0x10, b"sizes") + pkt(0x10, b"reset") + pkt(0x10, b"bogus"),
        # invalid: bad magic, extras on get, key too long, body too short
        pkt(0x00, b"k", magic=0x81), pkt(0x00, b"k", ext=b"\0\0\0\0"),
        pkt(0x00, b"k" * 251),
        struct.pack(HDR, 0x80, 0x01, 1, 8, 0, 0, 3, 0, 0) + b"abc",
        # too large a value, streamed in part
        struct.pack(HDR, 0x80, 0x01, 1, 8, 0, 0, 2 * 1024 * 1024 + 9, 0, 0)
        + x_set() + b"k" + b"v" * 1000,
        # large value that streams into the engine, then get
        pkt(0x01, b"L", x_set(), b"L" * 3000) + pkt(0x00, b"L"),
        # text on the same cache (the -B auto target reads it as text)
        setk + pkt(0x0c, b"k") + pkt(0x07),
    ]
    return seeds


def settings_seeds():
    text = open(os.path.join(ROOT, "test/unit/test_settings.c"),
                encoding="latin-1").read()
    seeds = []
    for m in re.finditer(r"\bload\(&\w+, \w+, \d+,", text):
        args = []
        i = m.end()
        while True:
            s, j = c_literals(text, i)
            if s is None:
                break
            args.append(s)
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if j < len(text) and text[j] == ",":
                i = j + 1
            else:
                break
        if args:
            seeds.append(b"\0".join(args) + b"\0\0")
    conf = open(os.path.join(ROOT, "conf/shmcached.conf"), "rb").read()
    seeds.append(conf)
    seeds.append(b"-m\0" + b"64\0-vv\0\0" + b"port = 11311\nthreads=2\n"
                 b"listen = 127.0.0.1:1,[::1]:2 # two\nmemory-limit '32'\n")
    for m in re.finditer(r'write_conf\(\w+,((?:\s*"(?:[^"\\]|\\.)*")+)', text):
        s, _ = c_literals(text, m.start(1))
        if s:
            seeds.append(s)
    return seeds


def write(target, seeds, big=()):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if not f.startswith("regress-"):
            os.unlink(os.path.join(d, f))
    n = 0
    for s in [s[:MAX] for s in seeds] + list(big):
        name = hashlib.sha1(s).hexdigest()
        p = os.path.join(d, name)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(s)
            n += 1
    print("%-8s %3d seeds" % (target, n))


def main():
    unit = os.path.join(ROOT, "test", "unit")
    integ = os.path.join(ROOT, "test", "integration")
    write("text", c_expect_inputs(os.path.join(unit, "test_proto_text.c")) +
          py_requests(os.path.join(integ, "test_transcript.py")) +
          TEXT_EXTRA, big=TEXT_BIG)
    write("meta", c_expect_inputs(os.path.join(unit, "test_proto_meta.c")) +
          py_requests(os.path.join(integ, "test_meta.py")))
    write("binary", binary_seeds())
    write("settings", settings_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
