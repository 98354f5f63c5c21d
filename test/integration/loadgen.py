"""A client load that knows what it wrote: threads doing versioned sets and
checked gets (a get must return the last acknowledged version or a newer
one), some sets in two pieces, some gets pipelined, some values large.
Shared by the tests that replace processes under load (reload, restart,
upgrade). Stdlib only; 127.0.0.1 only; every loop bounded.
"""

import random
import re
import socket
import threading
import time

from harness import RawClient, check

NTHREADS = 8


class Loader(threading.Thread):
    """One client connection doing versioned sets and checked gets."""

    def __init__(self, port, tid, allow_reset):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.tid = tid
        self.allow_reset = allow_reset
        self.halt = threading.Event()
        self.rng = random.Random(tid * 7919 + 1)
        self.keys = ["ld%d_%d" % (tid, j) for j in range(12)]
        self.acked = dict((k, 0) for k in self.keys)
        self.written = dict((k, 0) for k in self.keys)
        self.acked_at = {}          # key: [(version, when acknowledged)]
        self.ver = 0
        self.ops = 0
        self.errors = []            # unexpected: error replies, bad values
        self.resets = 0             # connection lost (expected when killing)
        self.stall = 0.0            # longest request or reconnect gap
        self.sock = None
        self.buf = b""
        self.failed_at = None

    # -- socket helpers --
    def connect(self):
        deadline = time.monotonic() + 5
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port),
                                                     timeout=5)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buf = b""
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("EOF")
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("EOF")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    # -- operations --
    def value(self, ver):
        big = self.rng.random() < 0.05
        pad = self.rng.randint(20000, 60000) if big else self.rng.randint(0, 80)
        return ("v%d:" % ver).encode() + b"x" * pad

    def do_set(self, key):
        self.ver += 1
        ver = self.ver
        val = self.value(ver)
        self.written[key] = ver
        req = b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(val), val)
        if self.rng.random() < 0.15:            # value arrives in two pieces
            cut = self.rng.randint(1, len(req) - 1)
            self.sock.sendall(req[:cut])
            time.sleep(0.003)
            self.sock.sendall(req[cut:])
        else:
            self.sock.sendall(req)
        r = self.line()
        if r != b"STORED":
            self.errors.append("set %s: %r" % (key, r))
            return
        self.acked[key] = ver
        self.acked_at.setdefault(key, []).append((ver, time.monotonic()))

    def check_value(self, key, data):
        m = re.match(rb"v(\d+):", data)
        if not m:
            self.errors.append("get %s: bad value %r" % (key, data[:40]))
            return
        v = int(m.group(1))
        if v < self.acked[key] or v > self.written[key]:
            self.errors.append("get %s: version %d, acked %d, written %d"
                               % (key, v, self.acked[key], self.written[key]))

    def do_gets(self, keys):
        self.sock.sendall(b"".join(b"get %s\r\n" % k.encode() for k in keys))
        for k in keys:
            floor = self.acked[k]
            r = self.line()
            if r == b"END":
                if floor > 0:
                    self.errors.append("get %s: miss, acked %d" % (k, floor))
                continue
            p = r.split()
            if len(p) != 4 or p[0] != b"VALUE" or p[1] != k.encode():
                self.errors.append("get %s: %r" % (k, r))
                raise ConnectionResetError("protocol out of step")
            data = self.exact(int(p[3]) + 2)[:-2]
            self.check_value(k, data)
            if self.line() != b"END":
                self.errors.append("get %s: no END" % k)

    def step(self):
        t0 = time.monotonic()
        if self.rng.random() < 0.5:
            self.do_set(self.rng.choice(self.keys))
        else:
            n = 3 if self.rng.random() < 0.2 else 1     # pipelined gets
            self.do_gets([self.rng.choice(self.keys) for _ in range(n)])
        now = time.monotonic()
        self.stall = max(self.stall, now - t0)
        if self.failed_at is not None:
            self.stall = max(self.stall, now - self.failed_at)
            self.failed_at = None
        self.ops += 1

    def run(self):
        self.connect()
        while not self.halt.is_set() and self.ops < 10 ** 7:
            try:
                self.step()
            except (OSError, ConnectionResetError) as e:
                if self.failed_at is None:
                    self.failed_at = time.monotonic()
                self.resets += 1
                if not self.allow_reset:
                    self.errors.append("connection lost: %s" % e)
                try:
                    self.sock.close()
                except OSError:
                    pass
                try:
                    self.connect()
                except OSError as e2:
                    self.errors.append("reconnect: %s" % e2)
                    return
        try:
            self.sock.close()
        except OSError:
            pass

    def lost_writes(self):
        """Keys whose acknowledged version is gone (fresh connection)."""
        lost = 0
        with RawClient(self.port) as c:
            for k in self.keys:
                if self.acked[k] == 0:
                    continue
                r = c.cmd("get %s\r\n" % k, b"END\r\n").encode("latin-1")
                m = re.search(rb"\r\nv(\d+):", r)
                if not m or int(m.group(1)) < self.acked[k]:
                    lost += 1
        return lost


def start_load(port, allow_reset, nthreads=NTHREADS):
    ls = [Loader(port, t, allow_reset) for t in range(nthreads)]
    for l in ls:
        l.start()
    return ls


def stop_load(ls, verify=True):
    for l in ls:
        l.halt.set()
    for l in ls:
        l.join(15)
        check(not l.is_alive(), "load thread %d did not stop" % l.tid)
    return {
        "ops": sum(l.ops for l in ls),
        "errors": sum(len(l.errors) for l in ls),
        "first_errors": [e for l in ls for e in l.errors][:5],
        "resets": sum(l.resets for l in ls),
        "stall": max(l.stall for l in ls),
        "lost": sum(l.lost_writes() for l in ls) if verify else 0,
    }


