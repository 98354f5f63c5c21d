#!/usr/bin/python3
"""The console's page in a real browser: Debian's chromium, headless, loads
the dashboard from a running server (with a client load going on) and this
checks what a person would see:
  - overview: the items count the server reports, the ops/s chart drawn
    (line segments), memory by slab class drawn, the three processes;
  - keys: the filter user:4* finds exactly user:4 and user:40..49, and the
    PHP value of php:user is shown decoded;
  - pool: the configured peer is listed as up.
Screenshots go to build/console-*.png (look at them). chromium runs with a
fresh profile directory, no sandbox (root), no GPU, no background network,
and a virtual time budget so the page's 2 s refresh runs several times.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from harness import (REPO_ROOT, RawClient, Server, check, eq, free_port,
                     run_tests, is_shmcached)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = os.path.join(REPO_ROOT, "build")


def chromium(url, action, budget_ms=12000):
    """Runs headless chromium on url; action is ["--dump-dom"] or
    ["--screenshot=PATH"]; returns stdout."""
    profile = tempfile.mkdtemp(prefix="shmc_chromium_")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--no-first-run",
               "--disable-extensions", "--user-data-dir=" + profile,
               "--window-size=1400,900",
               "--virtual-time-budget=%d" % budget_ms] + action + [url]
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=90)
        return r.stdout.decode("utf-8", "replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Load(threading.Thread):
    """Gets and touches (the item count stays as it is) until stopped."""

    def __init__(self, port):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.stop = False

    def run(self):
        with RawClient(self.port) as c:
            i = 0
            while not self.stop:
                c.cmd("get user:%d\r\n" % (i % 150), b"END\r\n")
                if i % 7 == 0:
                    c.cmd("touch user:%d 0\r\n" % (i % 120))
                i += 1
                time.sleep(0.001)


def text_of(dom, elem_id):
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(elem_id), dom)
    return m.group(1) if m else None


def attr_of(dom, elem_id, attr):
    m = re.search(r'<[^>]*id="%s"[^>]*>' % re.escape(elem_id), dom)
    if not m:
        return None
    a = re.search(r'%s="([^"]*)"' % re.escape(attr), m.group(0))
    return a.group(1) if a else None


SRV = {}


def setup():
    check(os.path.exists(CHROMIUM),
          "chromium is not installed (make deps installs it)")
    peer = Server(["-t", "1"]).start()
    hp = free_port()
    srv = Server(["-t", "2", "-o", "http_port=%d" % hp, "-o",
                  "http_peers=127.0.0.1:%d" % peer.port]).start()
    with RawClient(srv.port) as c:
        for i in range(120):
            c.cmd("set user:%d 0 0 %d\r\n%s\r\n" % (i, len("v%d" % i),
                                                    "v%d" % i))
        php = (b'a:3:{s:4:"name";s:4:"Zo\xc3\xab";s:4:"tags";a:2:{i:0;'
               b's:1:"a";i:1;s:1:"b";}s:1:"n";i:42;}')
        c.send(b"set php:user 0 0 %d\r\n%s\r\n" % (len(php), php))
        eq(c.read_line(), b"STORED\r\n")
    SRV.update(srv=srv, peer=peer, http=hp)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket
            socket.create_connection(("127.0.0.1", hp), 0.5).close()
            break
        except OSError:
            time.sleep(0.05)


def test_overview():
    srv = SRV["srv"]
    load = Load(srv.port)
    load.start()
    try:
        url = "http://127.0.0.1:%d/" % SRV["http"]
        dom = chromium(url, ["--dump-dom"])
        chromium(url, ["--screenshot=" + os.path.join(SHOTS,
                                                      "console-overview.png")])
    finally:
        load.stop = True
        load.join()
    with RawClient(srv.port) as c:
        items = c.stats()["curr_items"]
    eq(text_of(dom, "c-items"), items, "items card")
    check(text_of(dom, "c-mem").endswith("KiB"), "memory card")
    eq(text_of(dom, "c-restarts"), "0 / 0", "restarts / reloads card "
       "(stats shmcached)")
    drawn = int(attr_of(dom, "ch-ops", "data-drawn") or 0)
    check(drawn >= 3, "ops/s chart drawn (%d segments)" % drawn)
    check(int(attr_of(dom, "ch-hits", "data-drawn") or 0) >= 1, "hit chart")
    check(int(attr_of(dom, "ch-mem", "data-drawn") or 0) >= 1, "memory chart")
    body = dom[dom.index('id="workers"'):]
    body = body[:body.index("</table>")]
    eq(body.count("<tr>"), 4, "processes table: header + 2 workers + console")
    check("console" in body, "the console is listed")
    check('class="dot up"' in dom, "status up")


def test_keys_filter_and_item():
    url = ("http://127.0.0.1:%d/#keys&match=user%%3A4*&show=php%%3Auser"
           % SRV["http"])
    dom = chromium(url, ["--dump-dom"], 6000)
    chromium(url, ["--screenshot=" + os.path.join(SHOTS, "console-keys.png")],
             6000)
    eq(attr_of(dom, "k-info", "data-count"), "11", "keys found")
    table = dom[dom.index('id="keys"'):]
    table = table[:table.index("</table>")]
    found = sorted(re.findall(r"<td>(user:\d+)</td>", table))
    eq(found, sorted(["user:4"] + ["user:4%d" % i for i in range(10)]))
    eq(text_of(dom, "i-fmt"), "decoded (php)")
    check("Zoë" in (text_of(dom, "i-decoded") or ""), "decoded value shown")


def test_pool():
    url = "http://127.0.0.1:%d/#pool" % SRV["http"]
    dom = chromium(url, ["--dump-dom"], 6000)
    table = dom[dom.index('id="pool"'):]
    table = table[:table.index("</table>")]
    check("127.0.0.1:%d" % SRV["peer"].port in table, "peer listed")
    eq(table.count("<td>yes</td>"), 2, "local and peer up")


if __name__ == "__main__":
    if not is_shmcached():
        print("0 passed, 0 failed (the console is shmcached's)")
        raise SystemExit(0)
    try:
        setup()
    except Exception as e:  # noqa: B902
        print("FAIL setup: %s\n0 passed, 1 failed" % e)
        raise SystemExit(1)
    run_tests("console in chromium", [
        ("overview", test_overview),
        ("keys_filter_and_item", test_keys_filter_and_item),
        ("pool", test_pool),
    ])
