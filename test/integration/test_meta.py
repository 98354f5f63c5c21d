#!/usr/bin/python3
"""Raw-socket transcript tests of memcached's meta commands (mg ms md ma mn
me), every flag and error case.

Each group runs on a fresh server (so CAS uniques are the same on both
servers: the counter starts at 0) and one connection: the requests are sent,
and the replies must be exactly the bytes memcached 1.6.18 (Debian) sends.
"{T}" in an expected reply matches a TTL within 2 s of the one given
(T:30 -> 28..30), "{N}" any number (last-access times: memcached's
segmented LRU and shmcached's 60 s bump differ).

E<cas> and md x are not in memcached 1.6.18 (it answers "invalid flag");
shmcached implements them as newer memcached documents them, so that test
expects the 1.6.18 error from memcached and the extension from shmcached.

Run: SHMC_SERVER=/usr/bin/memcached /usr/bin/python3 test_meta.py
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, TestRunner, eq, is_memcached  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def pattern(expected):
    """Regex for an expected reply with {T:n} and {N} placeholders."""
    out = ""
    for part in re.split(r"(\{T:\d+\}|\{N\})", expected):
        if part == "{N}":
            out += r"\d+"
        elif part.startswith("{T:"):
            n = int(part[3:-1])
            out += "(?:%s)" % "|".join(str(n - d) for d in range(3) if n - d >= 0)
        else:
            out += re.escape(part)
    return re.compile(out.encode("latin-1"), re.S)


def transcript(pairs, srv=None, extra_args=()):
    """Runs [(request, expected reply)] on one connection of a fresh
    server, each request after the previous reply."""
    own = srv is None
    if own:
        srv = Server(extra_args).start()
    try:
        c = RawClient(srv.port)
        for req, exp in pairs:
            if isinstance(req, str):
                req = req.encode("latin-1")
            c.send(req)
            if exp == "":
                got = c.read_available(0.15)
                eq(got, b"", "reply to %r" % req[:80])
                continue
            pat = pattern(exp)
            deadline = time.monotonic() + 5
            while not pat.fullmatch(c.buf) and time.monotonic() < deadline:
                if len(c.buf) > len(exp) + 64:
                    break
                try:
                    c._fill(min(deadline, time.monotonic() + 0.3))
                except Exception:
                    break
            if not pat.fullmatch(c.buf):
                raise harness.TestFailure("request %r: expected %r, got %r"
                                          % (req[:80], exp, c.buf))
            c.buf = b""
        eq(c.read_available(0.1), b"", "trailing bytes")
        c.close()
    finally:
        if own:
            srv.stop()


@test
def mn_and_command_arity():
    transcript([
        ("mn\r\n", "MN\r\n"),
        ("mn foo bar\r\n", "MN\r\n"),
        ("mg\r\n", "ERROR\r\n"),
        ("ms\r\n", "ERROR\r\n"),
        ("md\r\n", "ERROR\r\n"),
        ("ma\r\n", "ERROR\r\n"),
        ("me\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("mz foo\r\n", "ERROR\r\n"),
        ("mg foo\r\n", "EN\r\n"),
        ("ms foo\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("ms foo bar\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("ms foo -1\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("ms foo 2147483646\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("ms foo 2 \r\nhi\r\n", "HD\r\n"),
        ("mg foo v\r\n", "VA 2\r\nhi\r\n"),
        ("mg foo\r\n", "HD\r\n"),
    ])


@test
def mg_flags_hit_and_miss():
    transcript([
        ("ms foo 2 T0 F5 c k O123 q\r\nhi\r\n", ""),
        ("mg foo s v f c k t O9 h l\r\n",
         "VA 2 s2 f5 c1 kfoo t-1 O9 h0 l{N}\r\nhi\r\n"),
        ("mg foo h\r\n", "HD h1\r\n"),
        ("mg foo q\r\n", "HD\r\n"),
        ("mg foo q v\r\n", "VA 2\r\nhi\r\n"),
        ("mg miss q v\r\n", ""),
        ("mg miss k O1 v c f t s\r\n", "EN kmiss O1\r\n"),
        ("mg miss O1 k\r\n", "EN O1 kmiss\r\n"),
        ("mn\r\n", "MN\r\n"),
        ("ms big 1 T0 F4294967295\r\nx\r\n", "HD\r\n"),
        ("mg big f\r\n", "HD f4294967295\r\n"),
        ("ms big 1 F4294967296 c\r\nx\r\n", "HD c3\r\n"),
        ("mg big f v\r\n", "VA 1 f0\r\nx\r\n"),
    ])


@test
def mg_u_h_ttl_and_touch():
    transcript([
        ("ms h 1 T0\r\nx\r\n", "HD\r\n"),
        ("mg h h t u\r\n", "HD h0 t-1\r\n"),
        ("mg h h\r\n", "HD h0\r\n"),
        ("mg h h\r\n", "HD h1\r\n"),
        ("ms t 1 T100\r\nx\r\n", "HD\r\n"),
        ("mg t t v\r\n", "VA 1 t{T:100}\r\nx\r\n"),
        ("mg t t T30\r\n", "HD t{T:100}\r\n"),
        ("mg t T50 t\r\n", "HD t{T:50}\r\n"),
        ("mg t T0 t\r\n", "HD t-1\r\n"),
        ("mg t T-1\r\n", "HD\r\n"),
        ("mg t v\r\n", "EN\r\n"),
        ("ms x 1 T2592001\r\nx\r\n", "HD\r\n"),
        ("mg x v\r\n", "EN\r\n"),
        ("ms x 1 T-1\r\nx\r\n", "HD\r\n"),
        ("mg x v\r\n", "EN\r\n"),
    ])


@test
def mg_vivify_recache_stale():
    transcript([
        ("mg viv N30 v c t k s f h\r\n",
         "VA 0 c1 t{T:30} kviv s0 f0 h0 W\r\n\r\n"),
        ("mg viv N30 v c t\r\n", "VA 0 c1 t{T:30} Z\r\n\r\n"),
        ("mg viv v c\r\n", "VA 0 c1 Z\r\n\r\n"),
        ("ms viv 3 T100\r\nnew\r\n", "HD\r\n"),
        ("mg viv v c\r\n", "VA 3 c2\r\nnew\r\n"),
        ("mg viv R30 v t\r\n", "VA 3 t{T:100}\r\nnew\r\n"),
        ("mg viv R200 v\r\n", "VA 3 W\r\nnew\r\n"),
        ("mg viv R200 v\r\n", "VA 3 Z\r\nnew\r\n"),
        ("md viv I T30\r\n", "HD\r\n"),
        ("mg viv v t c\r\n", "VA 3 t{T:30} c3 X W\r\nnew\r\n"),
        ("mg viv v t c\r\n", "VA 3 t{T:30} c3 Z X\r\nnew\r\n"),
        ("mg viv v\r\n", "VA 3 Z X\r\nnew\r\n"),
        ("ms viv 3 T0\r\nabc\r\n", "HD\r\n"),
        ("mg viv v\r\n", "VA 3\r\nabc\r\n"),
        ("md viv I\r\n", "HD\r\n"),
        ("mg viv t\r\n", "HD t-1 X W\r\n"),
        ("mg viv T0 t\r\n", "HD t-1 Z X\r\n"),
        ("mg viv\r\n", "HD Z X\r\n"),
        ("mg nn N5\r\n", "HD W\r\n"),
        ("mg t2 N0 T9 t\r\n", "HD t{T:9} W\r\n"),
        ("mg t3 T9 N0 t\r\n", "HD t-1 W\r\n"),
        ("mg t3 t\r\n", "HD t-1 Z\r\n"),
    ])


@test
def mg_errors():
    transcript([
        ("ms foo 1\r\nx\r\n", "HD\r\n"),
        ("mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        ("mg foo O123456789012345678901234567890123\r\n",
         "CLIENT_ERROR opaque token too long\r\n"),
        ("mg miss O12345678901234567890123456789012\r\n",
         "CLIENT_ERROR opaque token too long\r\n"),
        ("mg miss O1234567890123456789012345678901\r\n",
         "EN O1234567890123456789012345678901\r\n"),
        ("mg foo Nx\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("mg foo Rx\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("mg foo Tx\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("mg foo T\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("mg foo Cx\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("mg foo Jx\r\n", "CLIENT_ERROR invalid numeric initial value\r\n"),
        ("mg foo Dx\r\n", "CLIENT_ERROR invalid numeric delta value\r\n"),
        ("mg foo Fx\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("mg foo MXY\r\n", "CLIENT_ERROR incorrect length for M token\r\n"),
        ("mg foo a\r\n", "CLIENT_ERROR invalid flag\r\n"),
        ("mg foo Z\r\n", "CLIENT_ERROR invalid flag\r\n"),
        ("mg foo 5\r\n", "CLIENT_ERROR invalid flag\r\n"),
        ("mg foo q q\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        ("mg foo v \xc3\xa9\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        ("mg %s v\r\n" % ("k" * 251), "CLIENT_ERROR bad command line format\r\n"),
        ("mg a " + " ".join("O%d" % i for i in range(17)) + "\r\n",
         "CLIENT_ERROR duplicate flag\r\n"),
        ("mg a " + " ".join(chr(65 + i) for i in range(18)) + "\r\n",
         "CLIENT_ERROR options flags are too long\r\n"),
        ("mg foo P L v\r\n", "VA 1\r\nx\r\n"),
    ])


@test
def base64_keys():
    transcript([
        ("mg foo b\r\n", "CLIENT_ERROR error decoding key\r\n"),
        ("mg Zm9v b v k\r\n", "EN kZm9v b\r\n"),
        ("mg Zm9 b v k\r\n", "CLIENT_ERROR error decoding key\r\n"),
        ("mg Zm9v= b v k\r\n", "CLIENT_ERROR error decoding key\r\n"),
        ("mg bWlzcw== b k O9\r\n", "EN kbWlzcw== b O9\r\n"),
        ("ms Zm9vYmFy b k c 2\r\nhi\r\n",
         "CLIENT_ERROR bad command line format\r\nERROR\r\n"),
        ("ms Zm9vYmFy 2 b k\r\nhi\r\n", "HD kZm9vYmFy b\r\n"),
        ("mg foobar k v\r\n", "VA 2 kZm9vYmFy b\r\nhi\r\n"),
        ("mg Zm9vYmFy b k s\r\n", "HD kZm9vYmFy b s2\r\n"),
        ("me Zm9vYmFy b\r\n",
         "ME Zm9vYmFy exp=-1 la={N} cas=1 fetch=yes cls=1 size=67\r\n"),
        ("me foobar\r\n",
         "ME Zm9vYmFy exp=-1 la={N} cas=1 fetch=yes cls=1 size=67\r\n"),
        ("me fl b\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("me Zm9v b\r\n", "EN\r\n"),
        ("mg Zm9v b N0 k\r\n", "HD kfoo W\r\n"),
        ("mg foo k\r\n", "HD kfoo Z\r\n"),
        ("ma YmFy b N0 k\r\n", "HD kYmFy b\r\n"),
        ("ma bar k\r\n", "HD kbar\r\n"),
        ("md YmFy b k q\r\n", ""),
        ("md YmFy b k\r\n", "NF kYmFy b\r\n"),
        ("ms h 1 b\r\nx\r\n", "CLIENT_ERROR error decoding key\r\n"),
        ("mn\r\n", "MN\r\n"),
    ])


@test
def ms_flags_and_errors():
    transcript([
        ("ms foo 2 MX\r\nhi\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n"),
        ("ms foo 2 MSS\r\nhi\r\n", "CLIENT_ERROR incorrect length for M token\r\n"),
        ("ms foo 2 F-1\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("ms foo 2 Fx\r\nhi\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("ms foo 2 Tx\r\nhi\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("ms foo 2 Cx\r\nhi\r\n", "CLIENT_ERROR bad token in command line format\r\n"),
        ("ms foo 2 c c\r\nhi\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        ("ms foo 2 r1\r\nhi\r\n", "CLIENT_ERROR invalid flag\r\n"),
        ("ms foo 2 O12345678901234567890123456789012\r\nhi\r\n",
         "CLIENT_ERROR opaque token too long\r\n"),
        ("ms foo 2 q MX\r\nhi\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n"),
        ("ms foo 2\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
        ("ms foo 2 q\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
        ("mg foo v\r\n", "EN\r\n"),
        ("ms %s 1\r\nx\r\n" % ("k" * 251),
         "CLIENT_ERROR bad command line format\r\nERROR\r\n"),
        ("ms a 1 " + " ".join("O%d" % i for i in range(16)) + "\r\nx\r\n",
         "CLIENT_ERROR duplicate flag\r\n"),
        ("ms a 1 " + " ".join("O%d" % i for i in range(17)) + "\r\nx\r\n",
         "CLIENT_ERROR options flags too long\r\nERROR\r\n"),
        ("ms foo 2 O1 k c F7 T0 I P L s t f h l u v\r\nhi\r\n",
         "HD O1 kfoo c1\r\n"),
        ("mg foo f v\r\n", "VA 2 f7\r\nhi\r\n"),
        ("ms foo 1 F+5 T+5 C+0 c\r\nx\r\n", "EX c0\r\n"),
        ("ms foo 0 q\r\n\r\n", ""),
        ("mg foo s v q k O1 t\r\n", "VA 0 s0 kfoo O1 t-1\r\n\r\n"),
        ("ms h 4294967296\r\n\r\n", "HD\r\n"),
        ("mg h s\r\n", "HD s0\r\n"),
    ])


@test
def ms_too_large_drops_old_value():
    transcript([
        ("ms h 1\r\nx\r\n", "HD\r\n"),
        ("ms h 2000000 T100\r\n" + "x" * 2000000 + "\r\n",
         "SERVER_ERROR object too large for cache\r\n"),
        ("mg h v\r\n", "EN\r\n"),
        ("ms h 1048400 T100\r\n" + "y" * 1048400 + "\r\n", "HD\r\n"),
        ("mg h s\r\n", "HD s1048400\r\n"),
    ])


@test
def ms_modes_and_cas():
    transcript([
        ("ms a 1 MA\r\nx\r\n", "NS\r\n"),
        ("ms a 1 MP\r\nx\r\n", "NS\r\n"),
        ("ms a 1 MR\r\nx\r\n", "NS\r\n"),
        ("ms a 1 ME c\r\nx\r\n", "HD c1\r\n"),
        ("ms a 1 ME c\r\ny\r\n", "NS c0\r\n"),
        ("ms a 1 MA c\r\nz\r\n", "HD c2\r\n"),
        ("ms a 1 MP c F9 T9\r\nw\r\n", "HD c3\r\n"),
        ("mg a v f t c\r\n", "VA 3 f0 t-1 c3\r\nwxz\r\n"),
        ("ms a 1 MA C1\r\nq\r\n", "EX\r\n"),
        ("ms a 1 MA C3 c\r\nq\r\n", "HD c4\r\n"),
        ("ms a 1 MP C0 c\r\nq\r\n", "HD c5\r\n"),
        ("ms a 1 ME C1\r\nq\r\n", "NS\r\n"),
        ("ms a 1 MR C1\r\nq\r\n", "EX\r\n"),
        ("ms a 1 MR C5 c\r\nr\r\n", "HD c6\r\n"),
        ("ms a 1 MS C6 c k\r\ns\r\n", "HD c7 ka\r\n"),
        ("ms a 1 C0\r\ns\r\n", "EX\r\n"),
        ("ms zz 1 MR C1\r\nq\r\n", "NF\r\n"),
        ("ms zz 1 C1 c\r\nq\r\n", "NF c0\r\n"),
        ("ms zz 1 ME C1 c\r\nq\r\n", "HD c8\r\n"),
        ("ms zz 1 MA C1 q\r\nq\r\n", "EX\r\n"),
        ("ms zz 1 MS q\r\nq\r\n", ""),
        ("ms zz 1 MS q C1\r\nq\r\n", "EX\r\n"),
        ("mn\r\n", "MN\r\n"),
    ])


@test
def ms_invalidate():
    transcript([
        ("ms s 1 c T100\r\n1\r\n", "HD c1\r\n"),
        ("ms s 1 C1 c\r\n2\r\n", "HD c2\r\n"),
        ("ms s 1 C999 c\r\n2\r\n", "EX c0\r\n"),
        ("ms s2 1 C999 c\r\n2\r\n", "NF c0\r\n"),
        ("ms s 1 C999 I c\r\n3\r\n", "EX c0\r\n"),
        ("mg s v c\r\n", "VA 1 c2\r\n2\r\n"),
        ("ms s 1 C1 I c T5\r\n3\r\n", "HD c3\r\n"),
        ("mg s v c t\r\n", "VA 1 c3 t-1 X W\r\n3\r\n"),
        ("ms s 1 C2 I c\r\n4\r\n", "HD c4\r\n"),
        ("mg s v c\r\n", "VA 1 c4 Z X\r\n4\r\n"),
        ("ms s 1 C4 I c\r\n5\r\n", "HD c5\r\n"),
        ("mg s v c\r\n", "VA 1 c5\r\n5\r\n"),
        ("ms s 1 I c\r\n6\r\n", "HD c6\r\n"),
        ("mg s v\r\n", "VA 1\r\n6\r\n"),
    ])


@test
def md_flags():
    transcript([
        ("md d C1\r\n", "NF\r\n"),
        ("ms d 1 c\r\nx\r\n", "HD c1\r\n"),
        ("md d C2 k O5\r\n", "EX kd O5\r\n"),
        ("md d C1 q\r\n", ""),
        ("md d q\r\n", "NF\r\n"),
        ("md d\r\n", "NF\r\n"),
        ("ms d 1\r\nx\r\n", "HD\r\n"),
        ("md d T5\r\n", "HD\r\n"),
        ("me d\r\n", "EN\r\n"),
        ("ms d 1 T0\r\nx\r\n", "HD\r\n"),
        ("md d I T30 O1 k\r\n", "HD O1 kd\r\n"),
        ("mg d c t v\r\n", "VA 1 c4 t{T:30} X W\r\nx\r\n"),
        ("md d I q\r\n", ""),
        ("mg d c\r\n", "HD c5 X W\r\n"),
        ("md d C5\r\n", "HD\r\n"),
        ("mg d\r\n", "EN\r\n"),
        ("md d Cx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("md d Tx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("md d r\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("md d v v\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("md d O123456789012345678901234567890123\r\n",
         "CLIENT_ERROR opaque token too long\r\n"),
        ("md %s\r\n" % ("k" * 251), "CLIENT_ERROR bad command line format\r\n"),
        ("md a " + " ".join("O%d" % i for i in range(18)) + "\r\n",
         "CLIENT_ERROR options flags too long\r\n"),
    ])


@test
def ma_flags():
    transcript([
        ("ma n\r\n", "NF\r\n"),
        ("ma n N0 J10 v c t\r\n", "VA 2 c1 t-1\r\n10\r\n"),
        ("ma n v\r\n", "VA 2\r\n11\r\n"),
        ("ma n D5 v c\r\n", "VA 2 c3\r\n16\r\n"),
        ("ma n MD D100 v\r\n", "VA 1\r\n0\r\n"),
        ("ma n M- v\r\n", "VA 1\r\n0\r\n"),
        ("ma n M+ D18446744073709551615 v\r\n", "VA 20\r\n18446744073709551615\r\n"),
        ("ma n T30 t v\r\n", "VA 1 t{T:30}\r\n0\r\n"),
        ("ma n t T60\r\n", "HD t{T:30}\r\n"),
        ("ma n q\r\n", ""),
        ("ma n q v\r\n", ""),
        ("mn\r\n", "MN\r\n"),
        ("ma n C1 v\r\n", "EX\r\n"),
        ("ma n C0 v O7 k\r\n", "VA 1 O7 kn\r\n4\r\n"),
        ("mg n c v\r\n", "VA 20 c11\r\n4                   \r\n"),
        ("ma n C11 MI c\r\n", "HD c12\r\n"),
        ("ma miss k O1 v t c\r\n", "NF kmiss O1\r\n"),
        ("ma miss q k\r\n", "NF kmiss\r\n"),
        ("ma miss C5 q k\r\n", "NF kmiss\r\n"),
        ("ma nv5 J5 v\r\n", "NF\r\n"),
        ("ma nv N0 J18446744073709551615 v\r\n", "VA 20\r\n18446744073709551615\r\n"),
        ("ma nv3 N-1 v\r\n", "VA 1\r\n0\r\n"),
        ("ma nv3 v\r\n", "NF\r\n"),
        ("ma nv4 N100 T5 t\r\n", "HD t{T:5}\r\n"),
        ("ma nv6 T5 N100 t\r\n", "HD t{T:100}\r\n"),
        ("ma nv7 N0 q\r\n", "HD\r\n"),
        ("ma nv7 q\r\n", ""),
        ("ma nv7 v\r\n", "VA 1\r\n2\r\n"),
    ])


@test
def ma_values_and_errors():
    transcript([
        ("ms t 5 T0\r\nhello\r\n", "HD\r\n"),
        ("ma t v\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
        ("ms big 2 T0\r\n99\r\n", "HD\r\n"),
        ("ma big D1 v c\r\n", "VA 3 c3\r\n100\r\n"),
        ("mg big v\r\n", "VA 3\r\n100\r\n"),
        ("ma big MD D95 v\r\n", "VA 1\r\n5\r\n"),
        ("mg big v\r\n", "VA 3\r\n5  \r\n"),
        ("ma n Mx v\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n"),
        ("ma n MII v\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("ma n Dx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("ma n Jx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("ma n D-1\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("ma nv2 N0 J18446744073709551616 v\r\n",
         "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ("ma n s\r\n", "NF\r\n"),
        ("ma %s\r\n" % ("k" * 251), "CLIENT_ERROR bad command line format\r\n"),
        ("ma a " + " ".join("O%d" % i for i in range(18)) + "\r\n",
         "CLIENT_ERROR options flags too long\r\n"),
    ])


@test
def me_debug():
    transcript([
        ("ms fl 1 F5 T0\r\nx\r\n", "HD\r\n"),
        ("me fl\r\n", "ME fl exp=-1 la={N} cas=1 fetch=no cls=1 size=66\r\n"),
        ("me fl b c\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ("me fl c b\r\n", "ME fl exp=-1 la={N} cas=1 fetch=no cls=1 size=66\r\n"),
        ("mg fl\r\n", "HD\r\n"),
        ("me fl\r\n", "ME fl exp=-1 la={N} cas=1 fetch=yes cls=1 size=66\r\n"),
        ("ms h 1 T100\r\nx\r\n", "HD\r\n"),
        ("me h\r\n", "ME h exp=-{T:100} la={N} cas=2 fetch=no cls=1 size=61\r\n"),
        ("me miss\r\n", "EN\r\n"),
        ("me %s\r\n" % ("k" * 251), "CLIENT_ERROR bad command line format\r\n"),
    ])


@test
def stats_counting():
    srv = Server().start()
    try:
        transcript([
            ("ms x 1\r\nx\r\n", "HD\r\n"),
            ("mg x v\r\n", "VA 1\r\nx\r\n"),
            ("mg y v\r\n", "EN\r\n"),
            ("mg x T5\r\n", "HD\r\n"),
            ("mg y T5\r\n", "EN\r\n"),
            ("mg v N5\r\n", "HD W\r\n"),
            ("md x\r\n", "HD\r\n"),
            ("md x\r\n", "NF\r\n"),
            ("md v C9\r\n", "EX\r\n"),
            ("md v I\r\n", "HD\r\n"),
            ("ma c N0\r\n", "HD\r\n"),
            ("ma c\r\n", "HD\r\n"),
            ("ma d\r\n", "NF\r\n"),
            ("ma c MD\r\n", "HD\r\n"),
            ("me c\r\n", "ME c exp=-1 la={N} cas=6 fetch=no cls=1 size=61\r\n"),
            ("mn\r\n", "MN\r\n"),
            ("ms x 1 C5\r\nx\r\n", "NF\r\n"),
            ("ms c 1 C5\r\nx\r\n", "EX\r\n"),
            ("ms c 1 C6\r\nx\r\n", "HD\r\n"),
            ("ms c 1 ME\r\nx\r\n", "NS\r\n"),
        ], srv=srv)
        c = RawClient(srv.port)
        st = c.stats()
        c.close()
        want = {"cmd_get": "4", "get_hits": "2", "get_misses": "2",
                "cmd_touch": "1", "touch_hits": "1", "touch_misses": "0",
                "cmd_set": "5", "cmd_meta": "1", "delete_hits": "1",
                "delete_misses": "2", "incr_hits": "1", "incr_misses": "1",
                "decr_hits": "1", "cas_misses": "1", "cas_badval": "1",
                "cas_hits": "1"}
        eq({k: st.get(k) for k in want}, want, "stats")
    finally:
        srv.stop()


@test
def mixed_with_text_commands():
    transcript([
        ("set k 42 0 5\r\nhello\r\n", "STORED\r\n"),
        ("gets k\r\n", "VALUE k 42 5 1\r\nhello\r\nEND\r\n"),
        ("mg k c f v\r\n", "VA 5 c1 f42\r\nhello\r\n"),
        ("ms k 3 F7 c\r\nbye\r\n", "HD c2\r\n"),
        ("gets k\r\n", "VALUE k 7 3 2\r\nbye\r\nEND\r\n"),
        ("cas k 9 0 2 2\r\nok\r\n", "STORED\r\n"),
        ("mg k c f v\r\n", "VA 2 c3 f9\r\nok\r\n"),
        ("incr k 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
        ("ma k\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
        ("set n 0 0 1\r\n5\r\n", "STORED\r\n"),
        ("ma n v\r\n", "VA 1\r\n6\r\n"),
        ("incr n 1\r\n", "7\r\n"),
        ("mg n v\r\n", "VA 1\r\n7\r\n"),
        ("delete n\r\n", "DELETED\r\n"),
        ("mg n v\r\n", "EN\r\n"),
    ])


@test
def pipelined_quiet_gets():
    transcript([
        ("ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nmg a v q k\r\nmg zz v q k\r\n"
         "mg b v q k O2\r\nmn\r\n",
         "VA 1 ka\r\n1\r\nVA 1 kb O2\r\n2\r\nMN\r\n"),
    ])


@test
def explicit_cas_and_x_extensions():
    mc = is_memcached()
    transcript([
        ("ms e 1 E777 c\r\nx\r\n",
         "CLIENT_ERROR invalid flag\r\n" if mc else "HD c777\r\n"),
        ("ms e 1 c\r\nx\r\n", "HD c1\r\n" if mc else "HD c2\r\n"),
        ("ma e2 N0 E900 c\r\n",
         "CLIENT_ERROR invalid or duplicate flag\r\n" if mc else "HD c900\r\n"),
        ("md e I E5000\r\n",
         "CLIENT_ERROR invalid or duplicate flag\r\n" if mc else "HD\r\n"),
        ("mg e c\r\n", "HD c1\r\n" if mc else "HD c5000 X W\r\n"),
        ("md e x\r\n",
         "CLIENT_ERROR invalid or duplicate flag\r\n" if mc else "HD\r\n"),
        ("mg e s v\r\n", "VA 1 s1\r\nx\r\n" if mc else "VA 0 s0\r\n\r\n"),
    ])


def main():
    print("== meta commands (server: %s)" % harness.server_binary())
    runner = TestRunner("meta")
    for name, fn in TESTS:
        runner.run(name, fn)
    runner.finish()


if __name__ == "__main__":
    main()
