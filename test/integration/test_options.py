#!/usr/bin/env python3
"""Every option Debian's memcached accepts, shmcached accepts (or refuses
by name when it belongs to a build shmcached is not: TLS, extstore).

The lists come from `/usr/bin/memcached -h` itself, not from shmcached: its
one-letter flags, its long options and the "- name:" lines of its -o list.
Each -o option is tried without a value: shmcached must either start (a
switch) or complain about the value (an option that takes one); "unknown"
fails. ext_* and ssl_* must be refused with a message saying shmcached has
no extstore / TLS. Skipped when memcached is not installed.
"""

import os
import re
import subprocess
import sys

import harness
from harness import check, eq, RawClient, Server, SkipTest

MEMCACHED = "/usr/bin/memcached"
TESTS = []


def test(fn):
    TESTS.append((fn.__name__, fn))
    return fn


def memcached_help():
    if not os.access(MEMCACHED, os.X_OK):
        raise SkipTest("no %s" % MEMCACHED)
    return subprocess.run([MEMCACHED, "-h"], capture_output=True, text=True,
                          timeout=10).stdout


def base_args():
    args = [harness.server_binary(), "-p", "0", "-U", "0", "-t", "1",
            "-m", "8"]
    if os.geteuid() == 0:
        args += ["-u", "root"]
    return args


def try_start(extra, wait=0.7):
    """Starts shmcached with extra flags: (exited, stderr). A server that is
    still up after `wait` seconds accepted them; it is stopped by PID."""
    p = subprocess.Popen(base_args() + extra, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=wait)
        return True, err
    except subprocess.TimeoutExpired:
        p.terminate()
        try:
            _, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        return False, err


@test
def every_extended_option_known():
    names = re.findall(r"^\s+- ([a-z_]+):", memcached_help(), re.M)
    check(len(names) > 30, "memcached -h lists %d -o options" % len(names))
    unknown, wrong_refusal = [], []
    for name in names:
        exited, err = try_start(["-o", name])
        if "unknown" in err.lower():
            unknown.append("%s: %s" % (name, err.strip()[:100]))
        if name.startswith(("ext_", "ssl_")):
            want = "extstore" if name.startswith("ext_") else "TLS"
            if not exited or want not in err:
                wrong_refusal.append("%s: %s" % (name, err.strip()[:100]))
    check(not unknown, "unknown to shmcached: %s" % unknown)
    check(not wrong_refusal, "not refused by name: %s" % wrong_refusal)


@test
def values_parsed_as_memcached():
    # a good value starts, a bad one gets memcached's own message
    for name, good, bad in [("slab_automove_freeratio", "0.05", "x"),
                            ("hot_lru_pct", "25", "90"),
                            ("tail_repair_time", "30", "5"),
                            ("slab_sizes", "100-1080", "200-100"),
                            ("slab_sizes", "100-1080", "100-104"),
                            ("slab_sizes", "100-1080", "40-100")]:
        exited, err = try_start(["-o", "%s=%s" % (name, good)])
        check(not exited, "-o %s=%s stopped the server: %s" % (name, good, err))
        exited, err = try_start(["-o", "%s=%s" % (name, bad)], wait=5)
        ref = subprocess.run([MEMCACHED, "-u", "root", "-p", "0", "-o",
                              "%s=%s" % (name, bad)], capture_output=True,
                             text=True, timeout=10)
        check(exited and ref.returncode != 0,
              "-o %s=%s: shmcached exited %s, memcached %s" %
              (name, bad, exited, ref.returncode))
        first = ref.stderr.strip().splitlines()[0]
        check(first in err, "-o %s=%s: memcached says %r, shmcached %r" %
              (name, bad, first, err.strip()))


@test
def every_flag_known():
    text = memcached_help()
    short = sorted(set(re.findall(r"^-([a-zA-Z]),? ", text, re.M)))
    long_ = sorted(set(re.findall(r"--([a-z][a-z-]+)", text)))
    ours = subprocess.run([harness.server_binary(), "-h"], capture_output=True,
                          text=True, timeout=10).stdout
    missing = [f for f in short if not re.search(r"^-%s\b" % f, ours, re.M)]
    missing += ["--" + f for f in long_ if "--" + f not in ours]
    check(not missing, "in memcached -h, not in shmcached -h: %s" % missing)


def chunk_sizes(port, values):
    """Stores one item of each value size; returns {class: chunk_size} of
    the classes that got a page ("stats slabs")."""
    with RawClient(port) as c:
        for n in values:
            eq(c.cmd("set v%d 0 0 %d\r\n%s\r\n" % (n, n, "x" * n)),
               "STORED\r\n")
        out = c.cmd("stats slabs\r\n", b"END\r\n")
    return dict(re.findall(r"STAT (\d+):chunk_size (\d+)\r\n", out))


@test
def slab_sizes_classes_as_memcached():
    memcached_help()
    flags = ["-o", "slab_sizes=100-1080-2000"]
    # values whose items land in the same class in both servers
    values = [20, 1000, 1500, 3000]
    with Server(flags, binary=MEMCACHED) as mc, Server(flags) as sh:
        want = chunk_sizes(mc.port, values)
        got = chunk_sizes(sh.port, values)
    eq(want, {"1": "104", "2": "1080", "3": "2000", "4": "524288"},
       "memcached's classes")
    eq(got, want, "shmcached's classes")


def main():
    harness.run_tests("test_options", TESTS)


if __name__ == "__main__":
    main()
