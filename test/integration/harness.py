"""Black-box test harness for shmcached (and, for validation, memcached).

* SHMC_SERVER selects the server binary (default: build/shmcached relative
  to the repository root). SHMC_SERVER_ARGS: flags added to every
  shmcached started here (e.g. "-o io_uring": the whole suite through the
  ring; run_all.sh --io_uring).  When running as root, "-u root" is added
  automatically: memcached refuses to run as root without -u, and shmcached
  follows memcached's rule ("can't run as root without the -u switch").
* Server: picks a free 127.0.0.1 port, starts the binary with
  "-p PORT -l 127.0.0.1 -U 0" + extra args, waits (<= 10 s) until it accepts
  connections, and stops it by PID (SIGTERM, then SIGKILL).  Every started
  server is also registered with atexit, so it is stopped even when a test
  crashes.
* RawClient: raw-socket client (send bytes, read until a terminator, with a
  timeout).
* TestRunner: a tiny runner printing "PASS name" / "FAIL name" lines and a
  final "N passed, N failed" line; exit status is non-zero on any failure.
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def server_binary():
    path = os.environ.get("SHMC_SERVER", "build/shmcached")
    if not os.path.isabs(path) and os.sep in path:
        path = os.path.join(REPO_ROOT, path)
    return path


def is_memcached(binary=None):
    return os.path.basename(binary or server_binary()) == "memcached"


def is_shmcached(binary=None):
    return os.path.basename(binary or server_binary()) == "shmcached"


def server_extra_args(binary=None):
    """SHMC_SERVER_ARGS, for shmcached only (memcached knows no -o io_uring)."""
    if not is_shmcached(binary):
        return []
    import shlex
    return shlex.split(os.environ.get("SHMC_SERVER_ARGS", ""))


def default_threads():
    """-t when none is given: memcached's 4; shmcached's number of CPUs."""
    return 4 if is_memcached() else os.cpu_count()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


_live_servers = []


def _stop_all():
    for srv in list(_live_servers):
        srv.stop()


atexit.register(_stop_all)


class Server(object):
    """One server process; use as a context manager or call start()/stop()."""

    def __init__(self, extra_args=(), binary=None, port=None):
        self.binary = binary or server_binary()
        self.extra_args = list(extra_args)
        self.fixed_port = port      # a restart on the same port
        self.port = None
        self.proc = None
        self.logfile = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def argv(self):
        args = [self.binary, "-p", str(self.port), "-l", "127.0.0.1", "-U", "0"]
        if os.geteuid() == 0 and "-u" not in self.extra_args:
            args += ["-u", "root"]
        return args + self.extra_args + server_extra_args(self.binary)

    def start(self):
        if not os.path.exists(self.binary):
            raise RuntimeError("server binary not found: %s" % self.binary)
        last_err = None
        for _attempt in range(3):  # retry if another process took the port
            self.port = self.fixed_port or free_port()
            self.logfile = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=self.logfile,
                                         stderr=self.logfile,
                                         cwd=REPO_ROOT)
            _live_servers.append(self)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_err = "server exited with status %s" % self.proc.returncode
                    break
                try:
                    c = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
                    c.close()
                    return self
                except OSError as e:
                    last_err = str(e)
                    time.sleep(0.05)
            else:
                last_err = "server did not accept connections within %.0fs" % START_TIMEOUT
            log = self.log_tail()
            self.stop()
        raise RuntimeError("could not start %s: %s; server output: %r"
                           % (" ".join(self.argv()), last_err, log))

    def log_tail(self, n=500):
        """Last n bytes the server wrote to stdout/stderr."""
        try:
            self.logfile.flush()
            self.logfile.seek(0)
            return self.logfile.read()[-n:].decode("utf-8", "replace")
        except (OSError, ValueError, AttributeError):
            return ""

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
        if self.logfile is not None:
            self.logfile.close()
            self.logfile = None
        if self in _live_servers:
            _live_servers.remove(self)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def child_pids(pid):
    """PIDs of the direct child processes of pid (via /proc)."""
    kids = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
        return kids
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                data = f.read()
            ppid = int(data[data.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(entry))
    return kids


def kill_tree(srv):
    """SIGKILL the master and every process it forked, at once."""
    pids = [srv.pid] + child_pids(srv.pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:      # the workers, reaped by init
        if not any(os.path.exists("/proc/%d" % p) and
                   open("/proc/%d/stat" % p).read().split()[2] != "Z"
                   for p in pids[1:] if os.path.exists("/proc/%d" % p)):
            break
        time.sleep(0.02)


class ConnectionClosed(Exception):
    pass


class RawClient(object):
    """A telnet-like raw socket client."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out; have %r" % self.buf[:300])
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("connection closed; have %r" % self.buf[:300])
        self.buf += chunk

    def read_until(self, terminator, timeout=None):
        """Return everything up to and including terminator."""
        if isinstance(terminator, str):
            terminator = terminator.encode()
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(terminator)
            if i >= 0:
                out = self.buf[:i + len(terminator)]
                self.buf = self.buf[i + len(terminator):]
                return out
            self._fill(deadline)

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self, timeout=None):
        return self.read_until(b"\r\n", timeout)

    def cmd(self, data, terminator=b"\r\n", timeout=None):
        """Send data, return the reply up to terminator (decoded str)."""
        self.send(data)
        return self.read_until(terminator, timeout).decode("latin-1")

    def read_available(self, wait=0.3):
        """Return whatever arrives within `wait` seconds (may be b"")."""
        deadline = time.monotonic() + wait
        try:
            while True:
                self._fill(deadline)
        except (socket.timeout, ConnectionClosed):
            pass
        out, self.buf = self.buf, b""
        return out

    def is_closed(self, timeout=2.0):
        """True when the peer closes the connection within timeout.

        Data that arrives first is discarded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
        return False

    def stats(self, sub=""):
        line = "stats %s\r\n" % sub if sub else "stats\r\n"
        data = self.cmd(line, b"END\r\n")
        out = {}
        for l in data.split("\r\n"):
            if l.startswith("STAT "):
                parts = l.split(" ", 2)
                out[parts[1]] = parts[2] if len(parts) > 2 else ""
        return out


class TestFailure(AssertionError):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


def eq(actual, expected, msg=""):
    if actual != expected:
        raise TestFailure("%sexpected %r, got %r"
                          % (msg + ": " if msg else "", expected, actual))


def eq_padded(actual, padded, unpadded, msg=""):
    """Check a value memcached rewrote in place after incr/decr.

    memcached rewrites a shorter incr/decr result in place, padded with
    trailing spaces (e.g. "99 " after decr 100 -> 99).  It only does so when
    no other thread holds a reference to the item (refcount == 2 in
    do_add_delta); when its LRU maintainer/crawler holds one at that moment
    it allocates a new item of the exact length instead.  So real memcached
    occasionally returns the unpadded form: accept it only from memcached;
    any other server must answer like memcached's usual (padded) path."""
    if actual == padded:
        return
    if actual == unpadded and is_memcached():
        return
    raise TestFailure("%sexpected %r, got %r"
                      % (msg + ": " if msg else "", padded, actual))


class TestRunner(object):
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            r = fn(*args)
        except SkipTest as e:
            self.skipped += 1
            print("SKIP %s (%s)" % (name, e))
            sys.stdout.flush()
            return
        except Exception as e:  # noqa: B902 - report everything
            self.failed += 1
            self.failures.append(name)
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            tb = traceback.format_exc().rstrip().splitlines()
            for l in tb[-6:]:
                print("     | " + l)
            sys.stdout.flush()
            return
        self.passed += 1
        print("PASS %s (%.2fs)" % (name, time.monotonic() - t0))
        sys.stdout.flush()
        return r

    def finish(self):
        _stop_all()
        if self.failures:
            print("failed tests: " + ", ".join(self.failures))
        if self.skipped:
            print("%d skipped" % self.skipped)
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


class SkipTest(Exception):
    pass


def under_asan():
    """True when the server under test is the AddressSanitizer build
    (run_asan.sh sets SHMC_ASAN=1)."""
    return os.environ.get("SHMC_ASAN") == "1"


def skip_under_asan(reason):
    """Skips the calling test, saying why, when the server runs under
    ASan: for tests whose premise a sanitizer build changes."""
    if under_asan():
        raise SkipTest("under ASan: " + reason)


def run_tests(title, tests, server_factory=None):
    """Run [(name, fn)] pairs; if server_factory is given, each fn receives
    the object it returns."""
    runner = TestRunner(title)
    print("== %s (server: %s)" % (title, server_binary()))
    sys.stdout.flush()
    for name, fn in tests:
        runner.run(name, fn)
    runner.finish()


def run_with_server(title, tests, module, args=None):
    """Runs tests, a list of (name, fn), against one server started here and
    exposed to them as module.SRV; a test that kills the server is counted
    as failed and the server is started again. Stops it by PID at the end
    and finishes with the runner's summary line."""
    print("== %s (server: %s)" % (title, server_binary()))
    sys.stdout.flush()
    runner = TestRunner(title)
    try:
        module.SRV = Server(args or ()).start()
    except Exception as e:
        print("FAIL start_server: %s" % e)
        runner.failed += 1
        runner.finish()
    try:
        for name, fn in tests:
            if not module.SRV.alive():
                print("FAIL %s: server died" % name)
                runner.failed += 1
                module.SRV = Server(args or ()).start()
                continue
            runner.run(name, fn)
    finally:
        module.SRV.stop()
    runner.finish()
