#!/usr/bin/python3
"""Replication between two servers (-x, as repcached), black-box.

Two real servers on 127.0.0.1, each the other's peer (their own client and
replication ports):
  - every kind of change made on one node is on the other: text, binary
    and meta commands, with flags, expiry and CAS; flush_all; both ways;
  - writes to both nodes at once, to the same keys, converge to the same
    value and CAS on both;
  - repl_sync: under a load that knows what it wrote, kill -9 the whole
    node (master and every child): every acknowledged write is on the
    peer; without repl_sync the writes lost are counted and printed;
  - a node restarted warm (-e) catches up from the change log, deletions
    included, without a full copy; a node restarted empty gets a full copy
    while the survivor takes writes; a change log that overflows (the
    peer's replication process stopped with SIGSTOP) ends in a full copy
    that also removes what was deleted meanwhile;
  - killing the replication process under load loses nothing and needs no
    copy; a reload keeps replicating;
  - a connection to the replication port from an address that is not the
    peer is refused and counted; garbage from the peer's address drops
    that link only;
  - a network partition (two network namespaces joined by a veth pair,
    root only): both nodes notice the silent link, keep serving, and
    converge when it heals;
  - twemproxy (nutcracker) in front of a replicated pair: when one node
    dies the proxy ejects it and every key is still a hit on the other.
Stdlib only; 127.0.0.1 (or the test's own namespaces); every loop bounded;
processes stopped by PID.
"""

import ctypes
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

from harness import (RawClient, Server, SkipTest, check, child_pids, eq,
                     free_port, is_shmcached, kill_tree, run_tests,
                     server_binary)
from loadgen import start_load, stop_load

TMP = tempfile.mkdtemp(prefix="shmc_repl_")
FIGURES = {}


def need_shmcached():
    if not is_shmcached():
        raise SkipTest("shmcached only (memcached has no -x)")


def repl_args(mine, peer, extra=()):
    return (["-t", "2", "-o", "repl_port=%d" % mine,
             "-x", "127.0.0.1:%d" % peer, "-o", "repl_timeout_ms=1000"] +
            list(extra))


class Pair(object):
    """Two servers, each the other's peer."""

    def __init__(self, extra_a=(), extra_b=()):
        self.ra, self.rb = free_port(), free_port()
        self.extra_a, self.extra_b = list(extra_a), list(extra_b)
        self.a = Server(repl_args(self.ra, self.rb, extra_a))
        self.b = Server(repl_args(self.rb, self.ra, extra_b))

    def __enter__(self):
        self.a.start()
        self.b.start()
        wait_state(self.a, "connected")
        wait_state(self.b, "connected")
        return self

    def __exit__(self, *exc):
        self.a.stop()
        self.b.stop()
        return False

    def restart_b(self, extra=None):
        port = self.b.port
        self.b = Server(repl_args(self.rb, self.ra,
                                  self.extra_b if extra is None else extra),
                        port=port)
        self.b.start()


def stats(srv):
    with RawClient(srv.port) as c:
        return c.stats()


def own(srv):
    """"stats shmcached": the repl_* lines."""
    with RawClient(srv.port) as c:
        return c.stats("shmcached")


def wait_for(what, fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def wait_state(srv, state, timeout=15.0):
    wait_for("%s repl_state %s" % (srv.address, state),
             lambda: own(srv).get("repl_state") == state, timeout)


def caught_up(*nodes):
    """Both directions connected and nothing left in either change log."""
    def done():
        for n in nodes:
            st = own(n)
            if st.get("repl_state") != "connected" or \
               st.get("repl_queued_bytes") != "0":
                return False
        return True
    wait_for("replication to catch up", done)
    time.sleep(0.05)        # the last ACK's change is applied before it


def meta(port, key):
    """(value, flags, ttl, cas) or None."""
    with RawClient(port) as c:
        r = c.cmd("mg %s v f t c\r\n" % key, b"\r\n")
        if r.startswith("EN"):
            return None
        m = re.match(r"VA (\d+) (.*)\r\n", r)
        check(m, "mg %s: %r" % (key, r))
        data = c.read_exact(int(m.group(1)) + 2)[:-2]
        fl = dict((t[0], t[1:]) for t in m.group(2).split())
        return (data, int(fl["f"]), int(fl["t"]), int(fl["c"]))


def same_items(p, q, keys):
    diff = []
    for k in keys:
        x, y = meta(p.port, k), meta(q.port, k)
        if (x is None) != (y is None) or (x and (x[0], x[1], x[3]) !=
                                          (y[0], y[1], y[3])):
            diff.append((k, x, y))
    return diff



def repl_pid(srv):
    """The replication process's PID (named shmc-repl)."""
    for pid in child_pids(srv.pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "shmc-repl":
                    return pid
        except OSError:
            pass
    raise AssertionError("no replication process")


def bin_set(port, key, value, flags):
    """A binary protocol set."""
    ext = struct.pack(">II", flags, 0)
    body = ext + key + value
    pkt = struct.pack(">BBHBBHIIQ", 0x80, 0x01, len(key), len(ext), 0, 0,
                      len(body), 0, 0) + body
    with RawClient(port) as c:
        c.send(pkt)
        hdr = c.read_exact(24)
        status = struct.unpack(">H", hdr[6:8])[0]
        c.read_exact(struct.unpack(">I", hdr[8:12])[0])
    eq(status, 0, "binary set status")


# ---- tests --------------------------------------------------------------


def every_change_replicates():
    need_shmcached()
    with Pair() as p:
        a = p.a.port
        with RawClient(a) as c:
            for cmd, want in [
                ("set k1 7 0 2\r\nv1\r\n", "STORED"),
                ("add k2 0 0 2\r\nv2\r\n", "STORED"),
                ("replace k1 8 0 3\r\nv1b\r\n", "STORED"),
                ("append k1 0 0 2\r\n+a\r\n", "STORED"),
                ("prepend k1 0 0 2\r\np+\r\n", "STORED"),
                ("set n1 0 0 2\r\n10\r\n", "STORED"),
                ("incr n1 5\r\n", "15"),
                ("decr n1 3\r\n", "12"),
                ("set k4 0 0 1\r\nx\r\n", "STORED"),
                ("touch k4 1000\r\n", "TOUCHED"),
                ("set k5 0 0 1\r\nx\r\n", "STORED"),
                ("delete k5\r\n", "DELETED"),
                ("ms km 3 F5 T0\r\nabc\r\n", "HD"),
                ("set kd 0 0 1\r\nx\r\n", "STORED"),
                ("md kd\r\n", "HD"),
                ("set kn 0 0 1\r\n5\r\n", "STORED"),
                ("ma kn D4\r\n", "HD"),
            ]:
                eq(c.cmd(cmd).strip(), want, cmd)
            r = c.cmd("gets k3\r\n", b"END\r\n")
            eq(r, "END\r\n")
            eq(c.cmd("set k3 0 0 1\r\nx\r\n").strip(), "STORED")
            cas = int(re.search(r"VALUE k3 0 1 (\d+)",
                                c.cmd("gets k3\r\n", b"END\r\n")).group(1))
            eq(c.cmd("cas k3 3 0 2 %d\r\ncc\r\n" % cas).strip(), "STORED")
            c.cmd("set k6 0 0 1\r\ny\r\n")
            eq(c.cmd("gat 2000 k6\r\n", b"END\r\n"),
               "VALUE k6 0 1\r\ny\r\nEND\r\n")
        bin_set(a, b"kb", b"binval", 9)
        caught_up(p.a, p.b)
        keys = ["k1", "k2", "k3", "k4", "k5", "k6", "n1", "km", "kd", "kn",
                "kb"]
        eq(same_items(p.a, p.b, keys), [], "A and B differ")
        b = p.b.port
        eq(meta(b, "k1")[:2], (b"p+v1b+a", 8))
        eq(meta(b, "n1")[0], b"12")
        eq(meta(b, "kn")[0], b"9")
        eq(meta(b, "k3")[:2], (b"cc", 3))
        eq(meta(b, "km")[:2], (b"abc", 5))
        eq(meta(b, "kb")[:2], (b"binval", 9))
        check(meta(b, "k5") is None and meta(b, "kd") is None,
              "deletions replicate")
        check(abs(meta(b, "k4")[2] - 1000) <= 2, "touch's TTL replicates")
        check(abs(meta(b, "k6")[2] - 2000) <= 2, "gat's TTL replicates")
        # the other way, and flush_all
        with RawClient(b) as c:
            eq(c.cmd("set fromb 1 0 2\r\nbb\r\n").strip(), "STORED")
        caught_up(p.a, p.b)
        eq(meta(a, "fromb")[:2], (b"bb", 1))
        with RawClient(a) as c:
            eq(c.cmd("flush_all\r\n").strip(), "OK")
        caught_up(p.a, p.b)
        for k in keys + ["fromb"]:
            check(meta(b, k) is None, "flush_all replicates (%s)" % k)
        st = own(p.a)
        check(int(st["repl_sent"]) >= 20, "repl_sent counts: %s" %
              st["repl_sent"])
        check(int(own(p.b)["repl_applied"]) >= 20, "repl_applied counts")


def writes_on_both_converge():
    need_shmcached()
    with Pair() as p:
        keys = ["cv%d" % i for i in range(40)]
        stop = threading.Event()
        errors = []

        def writer(port, seed):
            rng = random.Random(seed)
            try:
                with RawClient(port) as c:
                    n = 0
                    while not stop.is_set() and n < 20000:
                        k = rng.choice(keys)
                        if rng.random() < 0.1:
                            c.cmd("delete %s\r\n" % k)
                        elif rng.random() < 0.1:
                            c.cmd("incr %s 1\r\n" % k)
                        else:
                            v = "%d-%d" % (seed, n)
                            c.cmd("set %s %d 0 %d\r\n%s\r\n"
                                  % (k, seed, len(v), v))
                        n += 1
            except Exception as e:      # reported below
                errors.append(repr(e))
        ts = [threading.Thread(target=writer, args=(srv.port, i + 1))
              for i, srv in enumerate((p.a, p.b, p.a, p.b))]
        for t in ts:
            t.start()
        time.sleep(2.0)
        stop.set()
        for t in ts:
            t.join(20)
        eq(errors, [])
        caught_up(p.a, p.b)
        eq(same_items(p.a, p.b, keys), [], "the nodes differ")
        present = sum(1 for k in keys if meta(p.a.port, k) is not None)
        check(present > 0, "some keys survive the deletes")


def sync_kill_loses_nothing():
    """repl_sync: acknowledged means on the peer, even if the node dies."""
    need_shmcached()
    for sync in (True, False):
        extra = ["-o", "repl_sync"] if sync else []
        with Pair(extra_a=extra) as p:
            ls = start_load(p.a.port, allow_reset=True)
            time.sleep(1.5)
            st = own(p.a)
            killed_at = time.monotonic()
            kill_tree(p.a)
            res = stop_load(ls, verify=False)
            check(res["ops"] > 100, "the load ran: %d ops" % res["ops"])
            lost, window = lost_on(p.b, ls, killed_at)
            acked = sum(1 for l in ls for v in l.acked.values() if v)
            name = "sync" if sync else "async"
            FIGURES[name] = ("%d ops, %d keys acked, %d lost (acknowledged "
                             "in the last %.0f ms before the kill), %s "
                             "timeouts" % (res["ops"], acked, lost,
                                           window * 1000,
                                           st.get("repl_sync_timeouts")))
            print("  repl %s: kill -9 of the writer's node under load: %s"
                  % (name, FIGURES[name]))
            if sync:
                eq(st["repl_sync_timeouts"], "0", "no sync timed out")
                eq(lost, 0, "acknowledged writes lost with repl_sync")


def lost_on(srv, loaders, killed_at):
    """Keys whose last acknowledged write is not on srv, and how long
    before killed_at the oldest such write was acknowledged."""
    lost, window = 0, 0.0
    with RawClient(srv.port) as c:
        for l in loaders:
            for k in l.keys:
                if l.acked[k] == 0:
                    continue
                r = c.cmd("get %s\r\n" % k, b"END\r\n").encode("latin-1")
                m = re.search(rb"\r\nv(\d+):", r)
                have = int(m.group(1)) if m else 0
                if have >= l.acked[k]:
                    continue
                lost += 1
                first = min(t for v, t in l.acked_at[k] if v > have)
                window = max(window, killed_at - first)
    return lost, window


def warm_restart_catches_up():
    need_shmcached()
    mf = os.path.join(TMP, "b.mem")
    with Pair(extra_b=["-e", mf]) as p:
        keys = ["w%d" % i for i in range(300)]
        with RawClient(p.a.port) as c:
            for k in keys:
                c.cmd("set %s 0 0 3\r\nold\r\n" % k)
        caught_up(p.a, p.b)
        copies = int(own(p.a)["repl_copies_sent"])
        kill_tree(p.b)
        with RawClient(p.a.port) as c:
            for k in keys[:100]:
                c.cmd("set %s 0 0 3\r\nnew\r\n" % k)
            for k in keys[100:200]:
                c.cmd("delete %s\r\n" % k)
            for i in range(100):
                c.cmd("set wn%d 0 0 3\r\nadd\r\n" % i)
        p.restart_b()
        check("warm" in p.b.log_tail(4000).lower(), "B restarted warm")
        caught_up(p.a, p.b)
        eq(int(own(p.a)["repl_copies_sent"]), copies,
           "a warm peer catches up from the log, without a full copy")
        b = p.b.port
        check(all(meta(b, k)[0] == b"new" for k in keys[:100]), "updates")
        check(all(meta(b, k) is None for k in keys[100:200]), "deletions")
        check(all(meta(b, k)[0] == b"old" for k in keys[200:]), "unchanged")
        check(all(meta(b, "wn%d" % i) for i in range(100)), "additions")


def empty_restart_full_copy():
    need_shmcached()
    with Pair() as p:
        n = 20000
        with RawClient(p.a.port) as c:
            for base in range(0, n, 500):
                c.send("".join("set fc%d 0 0 6 noreply\r\nfc%04d\r\n"
                               % (i, i % 10000)
                               for i in range(base, base + 500)))
            eq(c.cmd("mn\r\n").strip(), "MN")
        caught_up(p.a, p.b)
        kill_tree(p.b)
        ls = start_load(p.a.port, allow_reset=False)
        t0 = time.monotonic()
        p.restart_b()
        wait_state(p.b, "connected", 30)
        time.sleep(0.5)
        res = stop_load(ls, verify=False)
        eq(res["errors"], 0, "the survivor serves during the copy: %s"
           % res["first_errors"])
        caught_up(p.a, p.b)
        FIGURES["copy"] = "%d items in %.2f s" % (n, time.monotonic() - t0)
        st = own(p.a)
        check(int(st["repl_copies_sent"]) >= 2, "a full copy was sent")
        check(int(st["repl_copy_items"]) >= n, "copy_items %s" %
              st["repl_copy_items"])
        eq(int(stats(p.b)["curr_items"]), int(stats(p.a)["curr_items"]),
           "B has as many items as A")
        missing = [i for i in range(0, n, 97)
                   if meta(p.b.port, "fc%d" % i) is None]
        eq(missing, [])
        for l in ls:
            l.port = p.b.port
        eq(sum(l.lost_writes() for l in ls), 0, "writes during the copy")


def overflow_then_full_copy():
    need_shmcached()
    with Pair(extra_a=["-o", "repl_queue=1"]) as p:
        with RawClient(p.a.port) as c:
            for i in range(200):
                c.cmd("set ov%d 0 0 2\r\nv1\r\n" % i)
        caught_up(p.a, p.b)
        copies = int(own(p.a)["repl_copies_sent"])
        rp = repl_pid(p.b)
        os.kill(rp, signal.SIGSTOP)
        try:
            with RawClient(p.a.port) as c:
                for i in range(100):
                    c.cmd("delete ov%d\r\n" % i)
                # a log record holds a key, not its value: 60000 changes
                # are more than 1 MB of log
                for base in range(0, 60000, 1000):
                    c.send("".join("set big%d 0 0 5 noreply\r\nv%04d\r\n"
                                   % (i % 50, i % 10000)
                                   for i in range(base, base + 1000)))
                eq(c.cmd("mn\r\n").strip(), "MN")
            # the overflow is seen at A's next tick, which restarts the log
            # for a full copy: until then the log holds what B has not
            # applied, after it the copy is counted (and cannot end while B
            # is stopped). Either is the proof; which one depends on timing.
            wait_for("A's log holds the backlog or a copy began",
                     lambda: int(own(p.a)["repl_queued_bytes"]) > 0 or
                     int(own(p.a)["repl_copies_sent"]) > copies, 5.0)
        finally:
            os.kill(rp, signal.SIGCONT)
        caught_up(p.a, p.b)
        st = own(p.a)
        check(int(st["repl_copies_sent"]) >= 2, "the overflow ended in a "
              "full copy (copies_sent %s)" % st["repl_copies_sent"])
        b = p.b.port
        check(all(meta(b, "ov%d" % i) is None for i in range(100)),
              "what was deleted during the overflow is gone from B")
        check(all(meta(b, "ov%d" % i) for i in range(100, 200)), "the rest")
        eq(same_items(p.a, p.b, ["big%d" % i for i in range(50)]), [])


def repl_process_killed_under_load():
    need_shmcached()
    with Pair() as p:
        copies = int(own(p.a)["repl_copies_sent"])
        ls = start_load(p.a.port, allow_reset=False)
        for _ in range(3):
            time.sleep(0.4)
            os.kill(repl_pid(p.a), signal.SIGKILL)
            time.sleep(0.3)
        res = stop_load(ls, verify=False)
        eq(res["errors"], 0, "clients see nothing: %s" % res["first_errors"])
        caught_up(p.a, p.b)
        for l in ls:
            l.port = p.b.port
        eq(sum(l.lost_writes() for l in ls), 0, "every write reached B")
        eq(int(own(p.a)["repl_copies_sent"]), copies,
           "a respawned replication process resumes from the log")
        # a reload restarts it too, and replication goes on
        os.kill(p.a.pid, signal.SIGHUP)
        time.sleep(0.5)
        with RawClient(p.a.port) as c:
            eq(c.cmd("set afterhup 0 0 1\r\nh\r\n").strip(), "STORED")
        caught_up(p.a, p.b)
        eq(meta(p.b.port, "afterhup")[0], b"h")


def strangers_and_garbage():
    need_shmcached()
    with Pair(extra_a=["-l", "::1"]) as p:
        st0 = own(p.a)
        # ::1 is not the peer (127.0.0.1): refused and counted
        try:
            s6 = socket.create_connection(("::1", p.ra), timeout=2)
            s6.settimeout(2)
            check(s6.recv(10) == b"", "a stranger's connection is closed")
            s6.close()
            eq(int(own(p.a)["repl_refused"]),
               int(st0["repl_refused"]) + 1, "refused counted")
        except OSError:
            pass        # no ::1 here: the server listens on 127.0.0.1 only
        # garbage from the peer's own address drops that link only
        rng = random.Random(7)
        for i in range(20):
            with socket.create_connection(("127.0.0.1", p.ra),
                                          timeout=2) as g:
                junk = bytes(rng.randrange(256)
                             for _ in range(rng.randrange(1, 300)))
                if i % 2:
                    junk = struct.pack("<IB", 19, 1) + b"SHMCREPL" + junk
                try:
                    g.sendall(junk)
                    g.settimeout(1)
                    g.recv(100)
                except OSError:
                    pass
        check(p.a.alive() and p.b.alive(), "both servers alive")
        with RawClient(p.b.port) as c:
            eq(c.cmd("set afterjunk 0 0 1\r\nj\r\n").strip(), "STORED")
        caught_up(p.a, p.b)
        eq(meta(p.a.port, "afterjunk")[0], b"j")


# ---- a partition between two network namespaces --------------------------

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ns_socket(ns, addr):
    """A TCP connection made from inside network namespace ns."""
    me = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open("/var/run/netns/%s" % ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            return socket.create_connection(addr, timeout=5)
        finally:
            _libc.setns(me, CLONE_NEWNET)
    finally:
        os.close(fd)
        os.close(me)


class NsServer(object):
    """shmcached inside a network namespace (ip netns exec: same PID)."""

    def __init__(self, ns, ip, port, rport, peer):
        self.ns, self.ip, self.port = ns, ip, port
        self.log = tempfile.TemporaryFile()
        argv = ["ip", "netns", "exec", ns, server_binary(), "-u", "root",
                "-U", "0", "-t", "2", "-l", ip, "-p", str(port),
                "-o", "repl_port=%d" % rport, "-x", "%s:%d" % (peer, rport),
                "-o", "repl_timeout_ms=1000"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)

    def cmd(self, line, term=b"\r\n"):
        with ns_socket(self.ns, (self.ip, self.port)) as s:
            s.sendall(line.encode())
            out = b""
            deadline = time.monotonic() + 5
            while term not in out and time.monotonic() < deadline:
                d = s.recv(65536)
                if not d:
                    break
                out += d
            return out.decode("latin-1")

    def own(self):
        """"stats shmcached": the repl_* lines."""
        r = self.cmd("stats shmcached\r\n", b"END\r\n")
        return dict(l.split(" ", 2)[1:] for l in r.split("\r\n")
                    if l.startswith("STAT "))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def partition_and_heal():
    need_shmcached()
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise SkipTest("needs root and ip(8) for network namespaces")
    tag = "%d" % os.getpid()
    na, nb = "shmcA" + tag, "shmcB" + tag
    try:
        ip("netns", "add", na)
        ip("netns", "add", nb)
        ip("link", "add", "va" + tag, "type", "veth", "peer", "name",
           "vb" + tag)
    except subprocess.CalledProcessError:
        for n in (na, nb):
            subprocess.run(["ip", "netns", "del", n],
                           stderr=subprocess.DEVNULL)
        raise SkipTest("cannot create network namespaces here")
    servers = []
    try:
        for ns, dev, addr in ((na, "va", "10.213.0.1"),
                              (nb, "vb", "10.213.0.2")):
            ip("link", "set", dev + tag, "netns", ns)
            ip("-n", ns, "addr", "add", addr + "/24", "dev", dev + tag)
            ip("-n", ns, "link", "set", dev + tag, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        a = NsServer(na, "10.213.0.1", 11211, 11212, "10.213.0.2")
        b = NsServer(nb, "10.213.0.2", 11211, 11212, "10.213.0.1")
        servers = [a, b]

        def state(srv):
            try:
                return srv.own().get("repl_state")
            except OSError:
                return None
        wait_for("connected", lambda: state(a) == state(b) == "connected")
        eq(a.cmd("set before 0 0 1\r\nb\r\n").strip(), "STORED")
        wait_for("before on B", lambda: "VALUE" in b.cmd("get before\r\n",
                                                         b"END\r\n"))
        # the partition: the link goes down silently (no RST, no FIN)
        ip("-n", na, "link", "set", "va" + tag, "down")
        downs = int(a.own()["repl_link_downs"])
        wait_for("A notices the silent peer",
                 lambda: int(a.own()["repl_link_downs"]) > downs, 10)
        # the count goes up just before the state is published: wait
        wait_for("A's state is down", lambda: state(a) == "down", 5)
        eq(a.cmd("set during 0 0 1\r\na\r\n").strip(), "STORED",
           "A serves during the partition")
        eq(b.cmd("set duringb 0 0 1\r\nb\r\n").strip(), "STORED",
           "B serves during the partition")
        eq(a.cmd("delete before\r\n").strip(), "DELETED")
        # heal
        ip("-n", na, "link", "set", "va" + tag, "up")
        wait_for("reconnected", lambda: state(a) == state(b) == "connected",
                 20)
        wait_for("B has A's write", lambda: "VALUE" in b.cmd(
            "get during\r\n", b"END\r\n"))
        wait_for("A has B's write", lambda: "VALUE" in a.cmd(
            "get duringb\r\n", b"END\r\n"))
        wait_for("the deletion reached B", lambda: b.cmd(
            "get before\r\n", b"END\r\n") == "END\r\n")
    finally:
        for s in servers:
            s.stop()
        for n in (na, nb):
            subprocess.run(["ip", "netns", "del", n],
                           stderr=subprocess.DEVNULL)


# ---- twemproxy --------------------------------------------------------------


def nutcracker_binary():
    nc = shutil.which("nutcracker") or "/usr/sbin/nutcracker"
    if not os.path.exists(nc):
        raise SkipTest("nutcracker is not installed")
    return nc


def start_nutcracker(servers, name):
    """nutcracker with ketama in front of servers; (process, its port)."""
    port = free_port()
    conf = os.path.join(TMP, "%s.yml" % name)
    with open(conf, "w") as f:
        f.write("%s:\n  listen: 127.0.0.1:%d\n  hash: md5\n"
                "  distribution: ketama\n  auto_eject_hosts: true\n"
                "  server_retry_timeout: 30000\n"
                "  server_failure_limit: 1\n  timeout: 400\n  servers:\n"
                % (name, port))
        for i, srv in enumerate(servers):
            f.write("   - 127.0.0.1:%d:1 s%d\n" % (srv.port, i))
    proc = subprocess.Popen([nutcracker_binary(), "-c", conf, "-s",
                             str(free_port())], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for("nutcracker", lambda: _connects(port))
    return proc, port


def nutcracker_ketama():
    """Two independent servers behind twemproxy: keys spread, multi-get
    across both, each key on one server only."""
    need_shmcached()
    with Server(["-t", "2"]) as a, Server(["-t", "2"]) as b:
        proc, port = start_nutcracker([a, b], "spread")
        try:
            keys = ["sp%d" % i for i in range(200)]
            with RawClient(port) as c:
                for k in keys:
                    eq(c.cmd("set %s 3 0 %d\r\n%s\r\n" % (k, len(k), k))
                       .strip(), "STORED")
                r = c.cmd("get %s\r\n" % " ".join(keys[:50]), b"END\r\n")
                eq(r.count("VALUE "), 50, "a multi-get across both")
            on_a = set(k for k in keys if meta(a.port, k) is not None)
            on_b = set(k for k in keys if meta(b.port, k) is not None)
            eq(len(on_a) + len(on_b), len(keys), "each key once")
            eq(on_a & on_b, set())
            check(len(on_a) > 40 and len(on_b) > 40,
                  "ketama spreads the keys: %d / %d" % (len(on_a),
                                                        len(on_b)))
        finally:
            proc.terminate()
            proc.wait(5)


def nutcracker_failover():
    """A replicated pair behind twemproxy: a node dies, every key hits."""
    need_shmcached()
    nutcracker_binary()
    with Pair() as p:
        proc, port = start_nutcracker([p.a, p.b], "pair")
        try:
            keys = ["tw%d" % i for i in range(200)]
            with RawClient(port) as c:
                for k in keys:
                    eq(c.cmd("set %s 0 0 %d\r\n%s\r\n" % (k, len(k), k))
                       .strip(), "STORED")
            caught_up(p.a, p.b)
            on_a = sum(1 for k in keys if meta(p.a.port, k) is not None)
            eq(on_a, len(keys), "A holds every key, its own and B's")
            kill_tree(p.a)
            # the first requests to the dead node fail and eject it
            hits, errors = 0, 0
            for k in keys:
                for _ in range(5):
                    try:
                        with RawClient(port) as c:
                            r = c.cmd("get %s\r\n" % k, b"\r\n")
                            if r.startswith("VALUE"):
                                hits += 1
                                break
                            if r.startswith("END"):
                                break
                    except Exception:
                        pass
                    errors += 1
                    time.sleep(0.05)
            FIGURES["twemproxy"] = "%d/%d hits after the node died (%d " \
                "retried requests while it was ejected)" % (hits, len(keys),
                                                           errors)
            eq(hits, len(keys), "every key is still a hit")
        finally:
            proc.terminate()
            proc.wait(5)


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


TESTS_ALL = [
    ("every_change_replicates", every_change_replicates),
    ("writes_on_both_converge", writes_on_both_converge),
    ("sync_kill_loses_nothing", sync_kill_loses_nothing),
    ("warm_restart_catches_up", warm_restart_catches_up),
    ("empty_restart_full_copy", empty_restart_full_copy),
    ("overflow_then_full_copy", overflow_then_full_copy),
    ("repl_process_killed_under_load", repl_process_killed_under_load),
    ("strangers_and_garbage", strangers_and_garbage),
    ("partition_and_heal", partition_and_heal),
    ("nutcracker_ketama", nutcracker_ketama),
    ("nutcracker_failover", nutcracker_failover),
]

if __name__ == "__main__":
    try:
        only = os.environ.get("SHMC_ONLY")     # one test, by name
        run_tests("replication", [t for t in TESTS_ALL
                                  if only is None or t[0] == only])
    finally:
        for k, v in FIGURES.items():
            print("figure %s: %s" % (k, v))
        shutil.rmtree(TMP, ignore_errors=True)
