#!/usr/bin/python3
"""-S: SASL on the binary protocol with Cyrus SASL, as memcached. A sasldb
made by saslpasswd2 and a memcached.conf found through SASL_CONF_PATH;
python-binary-memcached authenticates with PLAIN; an unauthenticated
request gets "Auth failure." and the connection closes; mechanisms are
listed; auth_cmds/auth_errors count; -S refuses -B ascii and UDP.

Run: /usr/bin/python3 test_sasl.py
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, check, eq  # noqa: E402

import bmemcached  # noqa: E402

SRV = None
TESTS = []
CONFDIR = None


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def request(s, opcode, key=b"", value=b""):
    s.sendall(struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), 0, 0, 0,
                          len(key) + len(value), 0, 0) + key + value)
    hdr = b""
    while len(hdr) < 24:
        chunk = s.recv(24 - len(hdr))
        if not chunk:
            return None, None
        hdr += chunk
    status, blen = struct.unpack(">H", hdr[6:8])[0], struct.unpack(
        ">I", hdr[8:12])[0]
    body = b""
    while len(body) < blen:
        body += s.recv(blen - len(body))
    return status, body


@test
def plain_auth_with_a_client():
    c = bmemcached.Client(("127.0.0.1:%d" % SRV.port,), "testuser",
                          "testpass")
    check(c.set("k", "v"), "set after auth")
    eq(c.get("k"), "v")
    c.disconnect_all()


@test
def unauthenticated_refused():
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    status, body = request(s, 0x0B)             # version: allowed
    eq(status, 0)
    status, body = request(s, 0x20)             # list mechanisms
    eq(status, 0)
    check(b"PLAIN" in body.split(), "PLAIN listed: %r" % body)
    status, body = request(s, 0x00, b"k")       # get: refused, closed
    eq((status, body), (0x20, b"Auth failure."))
    eq(s.recv(10), b"", "closed after the refusal")
    s.close()


@test
def wrong_password_counts():
    a = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    eq(request(a, 0x21, b"PLAIN", b"\0testuser\0testpass")[0], 0)
    st0 = stats(a)      # stats needs authentication too
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    status, _ = request(s, 0x21, b"PLAIN", b"\0testuser\0wrong")
    eq(status, 0x20, "bad password")
    status, body = request(s, 0x21, b"PLAIN", b"\0testuser\0testpass")
    eq((status, body), (0, b"Authenticated"))
    st1 = stats(a)
    eq(int(st1["auth_cmds"]) - int(st0["auth_cmds"]), 2)
    eq(int(st1["auth_errors"]) - int(st0["auth_errors"]), 1)
    status, _ = request(s, 0x21, b"X" * 40, b"")
    eq(status, 0x04, "a too long mechanism: EINVAL")
    s.close()
    a.close()


def stats(s):
    s.sendall(struct.pack(">BBHBBHIIQ", 0x80, 0x10, 0, 0, 0, 0, 0, 0, 0))
    out = {}
    while True:
        hdr = s.recv(24, socket.MSG_WAITALL)
        klen = struct.unpack(">H", hdr[2:4])[0]
        blen = struct.unpack(">I", hdr[8:12])[0]
        body = s.recv(blen, socket.MSG_WAITALL) if blen else b""
        if klen == 0:
            return out
        out[body[:klen].decode()] = body[klen:].decode()


@test
def refused_combinations():
    if not harness.is_shmcached():
        return
    for extra, msg in ((["-B", "ascii"], "ASCII protocol while using SASL"),
                       (["-U", "11298"], "Cannot enable UDP")):
        argv = [harness.server_binary(), "-p", "0", "-S"] + extra
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        p = subprocess.run(argv, capture_output=True, timeout=10)
        check(p.returncode != 0 and msg in p.stderr.decode(),
              p.stderr.decode())


def main():
    global CONFDIR
    CONFDIR = tempfile.mkdtemp(prefix="shmc_sasl_")
    db = os.path.join(CONFDIR, "memcached.sasldb")
    with open(os.path.join(CONFDIR, "memcached.conf"), "w") as f:
        f.write("mech_list: plain cram-md5\nsasldb_path: %s\n" % db)
    subprocess.run(["/usr/sbin/saslpasswd2", "-f", db, "-a", "memcached",
                    "-c", "-p", "testuser"], input=b"testpass", check=True)
    os.environ["SASL_CONF_PATH"] = CONFDIR
    try:
        harness.run_with_server("test_sasl", TESTS, sys.modules[__name__],
                                ["-S", "-t", "2"])
    finally:
        shutil.rmtree(CONFDIR, ignore_errors=True)


if __name__ == "__main__":
    main()
