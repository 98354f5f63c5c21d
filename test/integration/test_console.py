#!/usr/bin/python3
"""The operator's console (-o http_port): HTTP, /metrics, the JSON behind
the dashboard, the key browser, the decoders on real values, the pool, and
the console process's life.

  - metrics: after a known workload every memcached_exporter metric equals
    the figure `stats` prints (and the workload's own counts), every
    shmcached_* one the figure of `stats shmcached`;
  - http: 404, 405, 413, 431, 505, keep-alive, pipelining, no traversal,
    the connection limit;
  - api: /api/snapshot (`stats` and `stats shmcached` apart),
    /api/workers (pids of the real processes);
  - keys: paging with the cursor covers every key once; glob, substring
    and value filters; one item; delete only with http_write and the
    X-Shmcached header;
  - decode: values made by php-cli serialize(), python3 pickle (protocols
    0, 2, 4, 5) and json, stored through a real client, shown decoded;
  - pool: a second server as a configured peer (stats, keys, item); an
    unconfigured one refused without http_write;
  - life: the console is SIGKILLed and comes back, the cache untouched;
    SIGHUP with a new http_port moves it; off by default.
Stdlib only; 127.0.0.1 only; processes stopped by PID.
"""

import http.client
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from harness import (RawClient, Server, check, child_pids, eq, free_port,
                     run_tests, SkipTest, is_shmcached)


def console_server(*extra):
    hp = free_port()
    srv = Server(["-t", "2", "-o", "http_port=%d" % hp] + list(extra))
    srv.start()
    srv.http_port = hp
    wait_http(hp)
    return srv


def wait_http(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("console did not listen on %d" % port)


def get(port, path, headers=None, method="GET", body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def get_json(port, path):
    st, ct, data = get(port, path)
    eq(st, 200, path)
    check(ct.startswith("application/json"), ct)
    return json.loads(data)


def raw(port, data, wait=0.5):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    s.settimeout(wait)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def store(port, key, value, flags=0):
    if isinstance(value, str):
        value = value.encode()
    with RawClient(port) as c:
        r = c.cmd(b"set %s %d 0 %d\r\n%s\r\n" % (key.encode(), flags,
                                                len(value), value))
        eq(r, "STORED\r\n")


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = value
    return out


# ---- metrics -------------------------------------------------------------

def workload(port):
    with RawClient(port) as c:
        for i in range(20):
            c.cmd("set wk%d 0 0 5\r\nvalue\r\n" % i)
        c.cmd("set big 0 0 3000\r\n%s\r\n" % ("x" * 3000))
        for i in range(7):
            c.cmd("get wk%d\r\n" % i, b"END\r\n")
        for i in range(3):
            c.cmd("get nope%d\r\n" % i, b"END\r\n")
        c.cmd("delete wk0\r\n")
        c.cmd("delete nope\r\n")
        c.cmd("set n 0 0 1\r\n5\r\n")
        c.cmd("incr n 3\r\n")
        c.cmd("incr nx 3\r\n")
        c.cmd("decr n 1\r\n")
        c.cmd("touch wk1 100\r\n")
        c.cmd("touch nope 100\r\n")
        c.cmd("cas wk2 0 0 1 999999\r\nz\r\n")
        c.cmd("cas nope 0 0 1 1\r\nz\r\n")


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


def test_metrics_equal_stats():
    srv = console_server()
    try:
        workload(srv.port)
        with RawClient(srv.port) as c:
            deadline = time.monotonic() + 5  # the workload's close lands
            while (c.stats()["curr_connections"] != "1" and
                   time.monotonic() < deadline):
                time.sleep(0.02)
            st = c.stats()
            own = c.stats("shmcached")
            items = c.stats("items")
            slabs = c.stats("slabs")
            settings = c.stats("settings")
            pids = [srv.pid] + child_pids(srv.pid)
            cpu0 = cpu_ticks(pids)
            st_, ct, body = get(srv.http_port, "/metrics")
            cpu1 = cpu_ticks(pids)
            eq(st_, 200)
            check(ct.startswith("text/plain; version=0.0.4"), ct)
            m = parse_metrics(body.decode())
            st2 = c.stats()
        eq(m["memcached_up"], "1")
        eq(m['memcached_version{version="%s"}' % st["version"]], "1")
        same = {
            "memcached_current_items": "curr_items",
            "memcached_current_bytes": "bytes",
            "memcached_limit_bytes": "limit_maxbytes",
            "memcached_items_total": "total_items",
            "memcached_items_evicted_total": "evictions",
            "memcached_items_reclaimed_total": "reclaimed",
            "memcached_current_connections": "curr_connections",
            "memcached_connections_total": "total_connections",
            "memcached_connections_rejected_total": "rejected_connections",
            "memcached_item_too_large_total": "store_too_large",
            "memcached_item_no_memory_total": "store_no_memory",
            "memcached_accepting_connections": "accepting_conns",
        }
        for metric, field in same.items():
            eq(m[metric], st[field], metric)
        same_own = {    # "stats shmcached"
            "shmcached_worker_restarts_total": "worker_restarts",
            "shmcached_reloads_total": "reloads",
            "shmcached_lock_repairs_total": "lock_repairs",
            "shmcached_slot_reaps_total": "slot_reaps",
            "shmcached_workers": "workers",
        }
        for metric, field in same_own.items():
            eq(m[metric], own[field], metric)
        # bytes_read grew by the second stats command only
        check(int(st["bytes_read"]) <= int(m["memcached_read_bytes_total"])
              <= int(st2["bytes_read"]), "bytes_read")
        cmd = 'memcached_commands_total{command="%s",status="%s"}'
        expect = {("get", "hit"): 7, ("get", "miss"): 3,
                  ("delete", "hit"): 1, ("delete", "miss"): 1,
                  ("incr", "hit"): 1, ("incr", "miss"): 1,
                  ("decr", "hit"): 1, ("decr", "miss"): 0,
                  ("touch", "hit"): 1, ("touch", "miss"): 1,
                  ("cas", "badval"): 1, ("cas", "miss"): 1,
                  ("cas", "hit"): 0}
        for (c_, s_), n in expect.items():
            eq(m[cmd % (c_, s_)], str(n), "%s %s" % (c_, s_))
            if s_ != "badval":
                eq(m[cmd % (c_, s_)], st["%s_%s" % (c_, "hits" if s_ == "hit"
                                                     else "misses")])
        cas = sum(int(st[k]) for k in ("cas_hits", "cas_misses",
                                        "cas_badval"))
        eq(m[cmd % ("set", "hit")], str(int(st["cmd_set"]) - cas), "set")
        eq(m["memcached_current_items"], "21")   # 20 + big + n - wk0
        eq(m["memcached_max_connections"], settings["maxconns"])
        # per slab class: stats items and stats slabs exactly
        nclasses = 0
        for k, v in items.items():
            _, cls, field = k.split(":")
            if field == "number":
                eq(m['memcached_slab_current_items{slab="%s"}' % cls], v)
                nclasses += 1
            if field == "mem_requested":
                eq(m['memcached_slab_mem_requested_bytes{slab="%s"}' % cls], v)
        check(nclasses >= 2, "two classes used")
        for k, v in slabs.items():
            if ":" not in k:
                continue
            cls, field = k.split(":")
            names = {"chunk_size": "chunk_size_bytes",
                     "total_pages": "current_pages",
                     "used_chunks": "chunks_used"}
            if field in names:
                eq(m['memcached_slab_%s{slab="%s"}' % (names[field], cls)], v)
            if field == "get_hits":
                eq(m['memcached_slab_commands_total{slab="%s",command="get",'
                     'status="hit"}' % cls], v)
        eq(m["memcached_malloced_bytes"], slabs["total_malloced"])
        # CPU: all the server's processes (stats says the answering one's)
        hz = os.sysconf("SC_CLK_TCK")
        cpu = (float(m["memcached_process_user_cpu_seconds_total"]) +
               float(m["memcached_process_system_cpu_seconds_total"]))
        check(cpu0 / hz - 0.02 <= cpu <= cpu1 / hz + 0.02,
              "cpu %.3f within %.3f..%.3f" % (cpu, cpu0 / hz, cpu1 / hz))
        # every family has HELP and TYPE, each written once
        text = body.decode()
        types = [l.split()[2] for l in text.splitlines()
                 if l.startswith("# TYPE")]
        eq(len(types), len(set(types)), "each family once")
        for name in m:
            check(name.split("{")[0] in types, "TYPE of " + name)
        # the processes: workers and the console, with their pids
        pids = set(child_pids(srv.pid))
        got = set(int(v) for k, v in m.items()
                  if k.startswith("shmcached_process_id"))
        eq(got, pids, "process ids")
    finally:
        srv.stop()


# ---- HTTP ----------------------------------------------------------------

def test_http_statuses():
    srv = console_server()
    p = srv.http_port
    try:
        eq(get(p, "/no/such/page")[0], 404)
        eq(get(p, "/../../etc/passwd")[0], 404)
        eq(get(p, "/%2e%2e/%2e%2e/etc/passwd")[0], 404)
        eq(get(p, "/", method="PUT")[0], 405)
        eq(get(p, "/metrics", method="DELETE")[0], 405)
        r = raw(p, b"PATCH / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(r.startswith(b"HTTP/1.1 405 "), r[:40])
        check(b"Allow: GET, POST" in r, "Allow header")
        r = raw(p, b"POST /api/delete HTTP/1.1\r\nContent-Length: 999999\r\n"
                   b"\r\n")
        check(r.startswith(b"HTTP/1.1 413 "), r[:40])
        r = raw(p, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        check(r.startswith(b"HTTP/1.1 431 "), r[:40])
        r = raw(p, b"GET / HTTP/2.0\r\n\r\n")
        check(r.startswith(b"HTTP/1.1 505 "), r[:40])
        r = raw(p, b"GARBAGE\r\n\r\n")
        check(r.startswith(b"HTTP/1.1 400 "), r[:40])
        # keep-alive and pipelining: three answers on one connection
        r = raw(p, b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"\r\n")
        eq(r.count(b"HTTP/1.1 200 OK"), 2)
        eq(r.count(b"HTTP/1.1 404 "), 1)
        # HTTP/1.0 closes after the answer
        r = raw(p, b"GET /api/info HTTP/1.0\r\n\r\n", wait=3)
        check(b"Connection: close" in r, "1.0 closes")
        # the page and its files
        st, ct, body = get(p, "/")
        eq(st, 200)
        check(ct.startswith("text/html"), ct)
        for path in ("/app.js", "/app.css"):
            eq(get(p, path)[0], 200, path)
        info = get_json(p, "/api/info")
        eq(info["write"], False)
    finally:
        srv.stop()


def test_http_connection_limit():
    srv = console_server()
    p = srv.http_port
    socks = []
    try:
        for _ in range(64):
            socks.append(socket.create_connection(("127.0.0.1", p)))
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", p), timeout=3)
        try:
            extra.sendall(b"GET /api/info HTTP/1.1\r\n\r\n")
            got = extra.recv(100)
        except ConnectionResetError:
            got = b""
        check(got == b"", "65th connection closed at once")
        extra.close()
        for s in socks:
            s.close()
        socks = []
        time.sleep(0.3)
        eq(get(p, "/api/info")[0], 200)
    finally:
        for s in socks:
            s.close()
        srv.stop()


# ---- the JSON behind the page ----------------------------------------------

def test_api_snapshot():
    srv = console_server()
    try:
        for i in range(30):
            store(srv.port, "snap:%d" % i, "v" * (i * 10))
        with RawClient(srv.port) as c:
            st = c.stats()
        snap = get_json(srv.http_port, "/api/snapshot")
        eq(snap["up"], True)
        eq(snap["server"], "local")
        eq(snap["stats"]["curr_items"], "30")
        eq(snap["stats"]["pid"], st["pid"])
        check("workers" not in snap["stats"], "stats: memcached's lines")
        eq(snap["shmcached"]["workers"], "2")
        eq(snap["shmcached"]["worker_restarts"], "0")
        eq(snap["settings"]["maxconns"], "1024")
        eq(snap["settings"]["http_port"], str(srv.http_port))
        check(any(k.endswith(":number") for k in snap["items"]), "items")
        check("total_malloced" in snap["slabs"], "slabs")
        roles = sorted(w["role"] for w in snap["workers"])
        eq(roles, ["console", "worker", "worker"])
        pids = set(w["pid"] for w in snap["workers"])
        eq(pids, set(child_pids(srv.pid)))
        for part in ("stats", "settings", "items", "slabs", "sizes",
                     "shmcached"):
            j = get_json(srv.http_port, "/api/" + part)
            check(part in j, part)
        j = get_json(srv.http_port, "/api/workers")
        eq(len(j["workers"]), 3)
    finally:
        srv.stop()


# ---- key browser -------------------------------------------------------------

def walk_all(port, query, limit):
    keys, cursor, pages = [], "0", 0
    while cursor is not None:
        j = get_json(port, "/api/keys?limit=%d&cursor=%s%s"
                     % (limit, cursor, query))
        keys += [it["key"] for it in j["items"]]
        cursor = j["next"]
        pages += 1
        check(pages < 10000, "walk ends")
    return keys, pages


def test_keys_paging_and_filters():
    srv = console_server()
    p = srv.http_port
    try:
        with RawClient(srv.port) as c:
            for i in range(300):
                v = "needle-%d" % i if i % 50 == 0 else "hay-%d" % i
                c.cmd("set user:%d 7 0 %d\r\n%s\r\n" % (i, len(v), v))
            for i in range(40):
                c.cmd("set session:%d 0 0 2\r\nok\r\n" % i)
        keys, pages = walk_all(p, "", 25)
        eq(len(keys), 340, "every key once")
        eq(len(set(keys)), 340)
        check(pages >= 340 // 26, "paged (%d pages)" % pages)
        keys, _ = walk_all(p, "&match=" + urllib.parse.quote("user:1?"), 50)
        eq(sorted(keys), sorted("user:1%d" % i for i in range(10)))
        keys, _ = walk_all(p, "&match=session", 50)
        eq(len(keys), 40)
        keys, _ = walk_all(p, "&value=needle", 50)
        eq(sorted(keys), sorted("user:%d" % i for i in range(0, 300, 50)))
        j = get_json(p, "/api/keys?limit=1000&match=user:42")
        it = [x for x in j["items"] if x["key"] == "user:42"][0]
        eq(it["flags"], 7)
        eq(it["size"], len("hay-42"))
        eq(it["ttl"], -1)
        item = get_json(p, "/api/item?key=user:42")
        eq(item["text"], "hay-42")
        eq(item["flags"], 7)
        eq(item["format"], "none")
        eq(get(p, "/api/item?key=nope")[0], 404)
        # the browser counted nothing
        with RawClient(srv.port) as c:
            st = c.stats()
        eq(st["get_hits"], "0")
        eq(st["cmd_get"], "0")
        # delete: refused without -o http_write
        st_, _, body = get(p, "/api/delete", method="POST",
                           body="key=user:42",
                           headers={"X-Shmcached": "1",
                                    "Content-Type":
                                    "application/x-www-form-urlencoded"})
        eq(st_, 403)
        eq(get_json(p, "/api/item?key=user:42")["key"], "user:42")
    finally:
        srv.stop()


def test_delete_with_http_write():
    srv = console_server("-o", "http_write")
    p = srv.http_port
    try:
        store(srv.port, "gone", "soon")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        eq(get(p, "/api/delete", method="POST", body="key=gone",
               headers=form)[0], 403)            # no X-Shmcached header
        hdr = dict(form, **{"X-Shmcached": "1"})
        eq(get(p, "/api/delete", method="POST", body="key=gone",
               headers=hdr)[0], 200)
        eq(get(p, "/api/delete", method="POST", body="key=gone",
               headers=hdr)[0], 404)
        with RawClient(srv.port) as c:
            eq(c.cmd("get gone\r\n", b"END\r\n"), "END\r\n")
    finally:
        srv.stop()


# ---- decoders on real values ---------------------------------------------------

PHP_CODE = (r'echo serialize(["name" => "Zoë", "tags" => ["a", "b"], '
            r'"n" => 42, "pi" => 3.5, "ok" => true, "none" => null, '
            r'"obj" => (object)["x" => 1]]);')


def test_decode_real_values():
    srv = console_server()
    p = srv.http_port
    try:
        php = shutil.which("php")
        check(php is not None, "php-cli is installed (make deps)")
        ser = subprocess.check_output([php, "-r", PHP_CODE])
        store(srv.port, "php:user", ser)
        j = get_json(p, "/api/item?key=php:user")
        eq(j["format"], "php")
        d = j["decoded"]
        eq(d["name"], "Zoë")
        eq(d["tags"], {"0": "a", "1": "b"})
        eq(d["n"], 42)
        eq(d["pi"], 3.5)
        eq(d["ok"], True)
        eq(d["none"], None)
        eq(d["obj"], {"__class": "stdClass", "x": 1})

        value = {"name": "Zoë", "tags": ["a", "b"], "n": 42, "pi": 3.5,
                 "ok": True, "none": None, "t": (1, 2), "b": b"\x00\xff"}
        for proto in (0, 2, 4, 5):
            blob = subprocess.check_output(
                ["/usr/bin/python3", "-c",
                 "import pickle,sys; sys.stdout.buffer.write(pickle.dumps("
                 "%r, protocol=%d))" % (value, proto)])
            store(srv.port, "py:%d" % proto, blob, flags=1)
            j = get_json(p, "/api/item?key=py:%d" % proto)
            eq(j["format"], "pickle", "protocol %d" % proto)
            d = j["decoded"]
            eq(d["name"], "Zoë", "protocol %d" % proto)
            eq(d["tags"], ["a", "b"])
            eq(d["n"], 42)
            eq(d["pi"], 3.5)
            eq(d["ok"], True)
            eq(d["none"], None)
            eq(d["t"], [1, 2])
            eq(d["b"], {"__bytes": "00ff"}, "protocol %d" % proto)
        # a class instance is described, never run
        blob = subprocess.check_output(
            ["/usr/bin/python3", "-c",
             "import pickle,sys,collections; sys.stdout.buffer.write("
             "pickle.dumps(collections.OrderedDict(a=1), protocol=2))"])
        store(srv.port, "py:od", blob)
        j = get_json(p, "/api/item?key=py:od")
        eq(j["format"], "pickle")
        eq(j["decoded"]["__call"], {"__global": "collections.OrderedDict"})
        # python-memcached stores pickles with protocol 0 and flags 1
        try:
            import memcache
            mc = memcache.Client(["127.0.0.1:%d" % srv.port])
            mc.set("pm:obj", {"list": [1, 2, 3], "s": "x"})
            j = get_json(p, "/api/item?key=pm:obj")
            eq(j["format"], "pickle")
            eq(j["decoded"], {"list": [1, 2, 3], "s": "x"})
        except ImportError:
            pass
        store(srv.port, "js", json.dumps({"a": [1, 2, {"b": None}]}))
        j = get_json(p, "/api/item?key=js")
        eq(j["format"], "json")
        eq(j["decoded"], {"a": [1, 2, {"b": None}]})
        store(srv.port, "bin", b"\x01\x02\xff")
        j = get_json(p, "/api/item?key=bin")
        eq(j["format"], "none")
        eq(j["hex"], "0102ff")
        check("text" not in j, "binary has no text")
    finally:
        srv.stop()


# ---- the pool ----------------------------------------------------------------------

def test_pool_peers():
    peer = Server(["-t", "1"]).start()
    other = Server(["-t", "1"]).start()
    srv = console_server("-o", "http_peers=127.0.0.1:%d,127.0.0.1:1"
                         % peer.port)
    p = srv.http_port
    try:
        for i in range(12):
            store(peer.port, "peer:%d" % i, "v%d" % i)
        store(peer.port, "peer:json", '{"k": [1]}')
        pool = get_json(p, "/api/pool")
        names = [s["server"] for s in pool["servers"]]
        eq(names, ["local", "127.0.0.1:%d" % peer.port, "127.0.0.1:1"])
        eq(pool["servers"][1]["up"], True)
        eq(pool["servers"][1]["curr_items"], "13")
        eq(pool["servers"][2]["up"], False)
        q = "server=127.0.0.1:%d" % peer.port
        snap = get_json(p, "/api/snapshot?" + q)
        eq(snap["stats"]["curr_items"], "13")
        eq(snap["shmcached"]["workers"], "1")    # the peer's
        check("workers" not in snap, "no process table for a peer")
        keys = get_json(p, "/api/keys?limit=500&" + q)
        eq(sorted(it["key"] for it in keys["items"]),
           sorted(["peer:%d" % i for i in range(12)] + ["peer:json"]))
        keys = get_json(p, "/api/keys?match=peer:1*&" + q)
        eq(sorted(it["key"] for it in keys["items"]),
           ["peer:1", "peer:10", "peer:11"])
        j = get_json(p, "/api/item?key=peer:json&" + q)
        eq(j["decoded"], {"k": [1]})
        # another address is refused: the console is no proxy
        st, _, _ = get(p, "/api/stats?server=127.0.0.1:%d" % other.port)
        eq(st, 403)
        st, _, _ = get(p, "/api/keys?server=127.0.0.1:22")
        eq(st, 403)
    finally:
        srv.stop()
        peer.stop()
        other.stop()


# ---- the console's life ----------------------------------------------------------------

def console_pid(srv):
    snap = get_json(srv.http_port, "/api/workers")
    return [w["pid"] for w in snap["workers"] if w["role"] == "console"][0]


def test_console_killed_comes_back():
    srv = console_server()
    try:
        store(srv.port, "keep", "me")
        old = console_pid(srv)
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 10
        new = None
        while time.monotonic() < deadline:
            try:
                new = console_pid(srv)
                if new != old:
                    break
            except (OSError, AssertionError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        check(new is not None and new != old, "a new console")
        with RawClient(srv.port) as c:
            eq(c.cmd("get keep\r\n", b"END\r\n"),
               "VALUE keep 0 2\r\nme\r\nEND\r\n")
            st = c.stats("shmcached")
        eq(st["worker_restarts"], "0")
        check("console (pid %d) was killed by signal 9" % old
              in srv.log_tail(4000), "death logged")
    finally:
        srv.stop()


def test_off_by_default_and_reload():
    srv = Server(["-t", "1"]).start()
    try:
        eq(len(child_pids(srv.pid)), 1, "no console without http_port")
    finally:
        srv.stop()
    conf = "/tmp/shmc_console_%d.conf" % os.getpid()
    p1, p2 = free_port(), free_port()
    with open(conf, "w") as f:
        f.write("http_port = %d\n" % p1)
    srv = Server(["-t", "1", "--config", conf]).start()
    try:
        wait_http(p1)
        with open(conf, "w") as f:
            f.write("http_port = %d\n" % p2)
        os.kill(srv.pid, signal.SIGHUP)
        wait_http(p2)
        eq(get_json(p2, "/api/snapshot")["settings"]["http_port"], str(p2))
        with open(conf, "w") as f:
            f.write("http_port = 0\n")
        os.kill(srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while len(child_pids(srv.pid)) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        eq(len(child_pids(srv.pid)), 1, "console stopped by the reload")
    finally:
        srv.stop()
        os.unlink(conf)


if __name__ == "__main__":
    if not is_shmcached():
        print("0 passed, 0 failed (the console is shmcached's)")
        sys.exit(0)
    run_tests("console", [
        ("metrics_equal_stats", test_metrics_equal_stats),
        ("http_statuses", test_http_statuses),
        ("http_connection_limit", test_http_connection_limit),
        ("api_snapshot", test_api_snapshot),
        ("keys_paging_and_filters", test_keys_paging_and_filters),
        ("delete_with_http_write", test_delete_with_http_write),
        ("decode_real_values", test_decode_real_values),
        ("pool_peers", test_pool_peers),
        ("console_killed_comes_back", test_console_killed_comes_back),
        ("off_by_default_and_reload", test_off_by_default_and_reload),
    ])
