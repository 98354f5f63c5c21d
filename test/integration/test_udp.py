#!/usr/bin/python3
"""UDP (-U): memcached's frame header, request ids, multi-datagram replies,
both protocols, what is dropped, and that UDP is off by default.

Everything asserted here is memcached's behaviour (it passes against
Debian's memcached with SHMC_SERVER=/usr/bin/memcached).

Run: /usr/bin/python3 test_udp.py
"""

import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RawClient, Server, check, eq  # noqa: E402

SRV = None
UDP_PORT = None
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def free_udp_port():
    """A port free for UDP and for TCP both (with -U alone the server takes
    the TCP port of the same number)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            s.close()
    raise AssertionError("no port free for both UDP and TCP")


def udp_sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    s.connect(("127.0.0.1", UDP_PORT))
    return s


def request(s, req_id, payload, seq=0, count=1):
    """Sends one framed datagram; returns {seq: payload} of the reply,
    checking every header (id echoed, one count, reserved 0)."""
    if isinstance(payload, str):
        payload = payload.encode()
    s.send(struct.pack(">HHHH", req_id, seq, count, 0) + payload)
    got, total = {}, None
    while total is None or len(got) < total:
        data = s.recv(2000)
        check(len(data) <= 1400, "datagram of %d bytes" % len(data))
        rid, rseq, rtotal, resv = struct.unpack(">HHHH", data[:8])
        eq(rid, req_id, "request id echoed")
        eq(resv, 0, "reserved bytes")
        check(total is None or rtotal == total, "count changed midstream")
        total = rtotal
        got[rseq] = data[8:]
    return got


def joined(parts):
    return b"".join(parts[i] for i in range(len(parts)))


def silent(s):
    """True when nothing arrives within 0.3 s."""
    s.settimeout(0.3)
    try:
        s.recv(2000)
        return False
    except socket.timeout:
        return True
    finally:
        s.settimeout(2.0)


@test
def request_ids_echoed():
    with RawClient(SRV.port) as c:
        eq(c.cmd("set foo 0 0 6\r\nfooval\r\n"), "STORED\r\n")
    s = udp_sock()
    for rid in (161, 161, 162, 0, 65535):
        r = request(s, rid, "get foo\r\n")
        eq(sorted(r), [0], "one datagram")
        eq(r[0], b"VALUE foo 0 6\r\nfooval\r\nEND\r\n")


@test
def set_get_delete_incr_over_udp():
    s = udp_sock()
    eq(joined(request(s, 1, "set u1 5 0 3\r\nabc\r\n")), b"STORED\r\n")
    eq(joined(request(s, 2, "get u1\r\n")), b"VALUE u1 5 3\r\nabc\r\nEND\r\n")
    eq(joined(request(s, 3, "set n 0 0 1\r\n7\r\n")), b"STORED\r\n")
    eq(joined(request(s, 4, "incr n 5\r\n")), b"12\r\n")
    eq(joined(request(s, 5, "delete u1\r\n")), b"DELETED\r\n")
    eq(joined(request(s, 6, "get n\r\n")), b"VALUE n 0 2\r\n12\r\nEND\r\n")
    if harness.is_shmcached():
        # several keys or commands in one datagram: one framed reply
        # (memcached frames each key's piece apart, seq 0 each time)
        eq(joined(request(s, 7, "get u1 n\r\nversion\r\n"))[:22],
           b"VALUE n 0 2\r\n12\r\nEND\r\n")


@test
def multi_datagram_reply():
    value = bytes((65 + i % 26) for i in range(20000))
    with RawClient(SRV.port) as c:
        c.send(b"set big 0 0 20000\r\n" + value + b"\r\n")
        eq(c.read_until("\r\n"), b"STORED\r\n")
    s = udp_sock()
    r = request(s, 53, "get big\r\n")
    eq(len(r), (len(value) + 40 + 1391) // 1392, "datagrams")
    eq(joined(r), b"VALUE big 0 20000\r\n" + value + b"\r\nEND\r\n")
    for seq in range(len(r) - 1):
        eq(len(r[seq]), 1392, "full datagram %d" % seq)


@test
def binary_protocol_over_udp():
    s = udp_sock()
    key, val = b"bk", b"binval"
    extras = struct.pack(">II", 0, 0)
    hdr = struct.pack(">BBHBBHIIQ", 0x80, 0x01, len(key), len(extras), 0, 0,
                      len(key) + len(extras) + len(val), 0xABCD, 0)
    r = joined(request(s, 9, hdr + extras + key + val))
    magic, op, _, _, _, status = struct.unpack(">BBHBBH", r[:8])
    eq((magic, op, status), (0x81, 0x01, 0), "binary set")
    hdr = struct.pack(">BBHBBHIIQ", 0x80, 0x00, len(key), 0, 0, 0, len(key),
                      7, 0)
    r = joined(request(s, 10, hdr + key))
    status = struct.unpack(">H", r[6:8])[0]
    eq(status, 0, "binary get")
    eq(r[-len(val):], val)


@test
def dropped_datagrams():
    s = udp_sock()
    # part of a multi-datagram request: memcached drops it
    s.send(struct.pack(">HHHH", 5, 0, 2, 0) + b"get foo\r\n")
    check(silent(s), "a multi-datagram request was answered")
    s.send(struct.pack(">HHHH", 5, 1, 1, 0)[:6])     # shorter than a header
    check(silent(s), "a runt datagram was answered")
    s.send(struct.pack(">HHHH", 6, 0, 1, 0))         # header, no request
    check(silent(s), "an empty request was answered")
    # noreply: nothing comes back
    s.send(struct.pack(">HHHH", 9, 0, 1, 0) + b"set q 0 0 1 noreply\r\nx\r\n")
    check(silent(s), "noreply answered")
    eq(joined(request(s, 10, "get q\r\n")), b"VALUE q 0 1\r\nx\r\nEND\r\n")
    # a value that does not fit its datagram: nothing stored, no reply
    s.send(struct.pack(">HHHH", 7, 0, 1, 0) + b"set half 0 0 100\r\nabc")
    check(silent(s), "a half value was answered")
    if harness.is_shmcached():
        # each datagram stands alone (memcached would take the next
        # datagram as the rest of this value)
        eq(joined(request(s, 8, "get half\r\n")), b"END\r\n")
    check(SRV.alive(), "server died")


@test
def stats_show_udp():
    with RawClient(SRV.port) as c:
        st = c.cmd("stats settings\r\n", b"END\r\n")
        check("STAT udpport %d\r\n" % UDP_PORT in st, "udpport in settings")
        conns = c.cmd("stats conns\r\n", b"END\r\n")
        check(":addr udp:127.0.0.1:%d\r\n" % UDP_PORT in conns,
              "udp socket in stats conns: %r" % conns[:400])
        check(":UDP UDP\r\n" in conns, "UDP marker in stats conns")


@test
def udp_off_by_default():
    with Server([]) as srv:   # the harness passes -U 0; memcached's default
        with RawClient(srv.port) as c:
            st = c.cmd("stats settings\r\n", b"END\r\n")
            check("STAT udpport 0\r\n" in st, "udpport 0 by default")
    # -U alone (no -p): TCP follows the UDP port, as memcached
    if harness.is_shmcached():
        port = free_udp_port()
        argv = [harness.server_binary(), "-U", str(port), "-l", "127.0.0.1"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            ok = False
            for _ in range(200):
                if p.poll() is not None:
                    break           # it could not start: reported below
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    ok = True
                    break
                except OSError:
                    time.sleep(0.05)
            check(ok, "-U without -p: TCP not on the UDP port (exit %s)"
                  % p.poll())
        finally:
            p.terminate()
            p.wait(5)


def main():
    global UDP_PORT
    UDP_PORT = free_udp_port()
    harness.run_with_server("test_udp", TESTS, sys.modules[__name__],
                            ["-U", str(UDP_PORT), "-t", "2"])


if __name__ == "__main__":
    main()
