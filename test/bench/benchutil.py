"""Helpers shared by the benchmark scripts in test/bench/ (stdlib only).

Imported by benchlib.py (the CLI of bench.sh and callgrind.sh), restart.py,
repl.py and slabs.py; it runs nothing when imported. Everything talks to
127.0.0.1 only, every wait is bounded, and servers are stopped by the pid
of the process started here, never by name.

  free_port()                   a free TCP port on 127.0.0.1
  recv_until(s, end)            read from socket s until the data ends with end
  stats(port, sub="")           {name: value} of "stats" / "stats SUB" (slabs,
                                shmcached: shmcached's own figures, repl_*)
  parse_stats(text)             the same, from a reply already read
  slab_pages(port)              the 1 MiB pages the slab classes hold
  wait_ready(port, seconds)     True once port answers "version"
  start_server(argv, port)      Popen(argv), then wait_ready; None if it failed
  stop(proc)                    SIGTERM, bounded wait, then SIGKILL (by pid)
  user_flag()                   ["-u", "root"] when running as root
  children/tree/proc_ticks/clk_tck   a process tree and its CPU time (/proc)
  machine()                     one line: nproc, CPU, kernel, load average
  write_build(name, text)       write build/NAME
"""
import os
import signal
import socket
import subprocess
import time

HOST = "127.0.0.1"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHMC = os.path.join(ROOT, "build", "shmcached")
MEMC = "/usr/bin/memcached"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def recv_until(s, end, limit=1 << 26, timeout=30.0):
    s.settimeout(timeout)
    buf = b""
    while not buf.endswith(end):
        d = s.recv(1 << 16)
        if not d:
            raise IOError("connection closed")
        buf += d
        if len(buf) > limit:
            raise IOError("reply too long")
    return buf


def parse_stats(text):
    """{name: value} from the STAT lines of a stats reply (bytes or str)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    d = {}
    for line in text.split("\r\n"):
        p = line.split(" ", 2)
        if len(p) == 3 and p[0] == "STAT":
            d[p[1]] = p[2]
    return d


def stats(port, sub="", timeout=10):
    """One connection, "stats" (or "stats SUB") until END."""
    cmd = ("stats %s\r\n" % sub if sub else "stats\r\n").encode()
    with socket.create_connection((HOST, int(port)), timeout=timeout) as s:
        s.sendall(cmd)
        return parse_stats(recv_until(s, b"END\r\n"))


def slab_pages(port):
    """The 1 MiB pages the server's slab classes hold (stats slabs)."""
    return sum(int(v) for k, v in stats(port, "slabs").items()
               if k.endswith(":total_pages"))


def wait_ready(port, seconds=10, proc=None):
    """True once PORT answers "version" (within SECONDS; False as soon as
    PROC, if given, has exited)."""
    deadline = time.time() + float(seconds)
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, int(port)), timeout=1) as s:
                s.sendall(b"version\r\n")
                if recv_until(s, b"\r\n", timeout=2).startswith(b"VERSION"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def start_server(argv, port, seconds=10, **popen_kw):
    """Popen(argv) (stdio on /dev/null unless popen_kw says otherwise) and
    wait until PORT answers; None (the process stopped) if it did not."""
    for k in ("stdin", "stdout", "stderr"):
        popen_kw.setdefault(k, subprocess.DEVNULL)
    proc = subprocess.Popen(argv, **popen_kw)
    if wait_ready(port, seconds, proc):
        return proc
    stop(proc, signal.SIGKILL)
    return None


def stop(proc, sig=signal.SIGTERM, timeout=20, force=True):
    """Stop a server we started, by its pid: SIG, wait up to TIMEOUT s, then
    SIGKILL (force=False: let subprocess.TimeoutExpired through instead)."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        if not force:
            raise
        proc.kill()
        proc.wait(5)


def user_flag():
    return ["-u", "root"] if os.geteuid() == 0 else []


def clk_tck():
    return os.sysconf("SC_CLK_TCK")


def children(pid):
    """Child pids of PID, from every thread (/proc/PID/task/*/children)."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def tree(pid):
    """PID and all its descendants, PID first."""
    seen, todo = [], [pid]
    while todo and len(seen) < 4096:          # bounded
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(children(p))
    return seen


def proc_ticks(pid):
    """utime+stime+cutime+cstime of PID in clock ticks (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    # comm may contain spaces/parens: split after the last ')'
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime=14 stime=15 cutime=16 cstime=17
    ut, st, cut, cst = (int(fields[i - 3]) for i in (14, 15, 16, 17))
    return ut + st + cut + cst


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    model = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = os.uname()
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    return (f"nproc {os.cpu_count()}, CPU {model}, kernel {u.sysname} {u.release} "
            f"{u.machine}, load average at the end {load}")


def write_build(name, text):
    """Write TEXT to build/NAME (creating build/); returns the path."""
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    path = os.path.join(ROOT, "build", name)
    with open(path, "w") as f:
        f.write(text)
    return path
