"""The dashboard and the HTTP API under attack.

- Markup and script in a member's name (a real agent's node.name) render as
  text on /ui and run nothing; the page keeps to its own Content-Security-
  Policy (no violation while it draws).
- The same for member metadata, population, lineage and live population
  fields (agents, ops, mutators, outcomes, reasons), from a stub API that
  serves the page without any policy (the page's own escaping).
- The policy is a second wall: markup injected into the page itself runs
  nothing under the coordinator's CSP header.
- ?api= cannot point the page at another server.
- A flood of half-open connections from one address leaves the API
  answering others, and the server closes them all.

Chromium is driven over the DevTools protocol with a minimal stdlib
websocket client (as tests/bench/bench_dashboard.py does)."""
import base64
import hashlib
import http.server
import importlib.util
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from cluster import Cluster
from conftest import ROOT, wait_for
from test_observability import ensure_tool

UI_SRC = os.path.join(ROOT, "coordinator", "ui", "index.html")

# Each would change the title and set window.__pwned if it ever ran.
NAME_PAYLOAD = "<img src=x onerror=\"document.title='pwned';window.__pwned=1\">"  # <= 64 bytes
PAYLOADS = [
    "<img src=x onerror=\"document.title='pwned';window.__pwned=2\">",
    "</td></tr><script>document.title='pwned';window.__pwned=3</script>",
    "<svg onload=\"document.title='pwned';window.__pwned=4\"></svg>",
    "\"><iframe srcdoc=\"<script>parent.__pwned=5</script>\"></iframe>",
    "x' onmouseover='window.__pwned=6",
]

# Recorded from before any page script (DevTools-injected scripts are exempt
# from the page's policy): what the policy refused.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI + " " + e.sample);
});
"""

# ---- a minimal DevTools client ----------------------------------------------------


class WebSocket:
    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError("websocket handshake refused: " + head.decode(errors="replace"))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload)))

    def recv(self):
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            data = self._read(n)
            if b0 & 0x0F == 0x8:
                raise ConnectionError("browser closed the DevTools connection")
            if b0 & 0x0F in (0x9, 0xA):
                continue
            parts.append(data)
            if b0 & 0x80:
                return b"".join(parts).decode()


class Page:
    """Headless Chromium with one page, driven over its DevTools websocket."""

    def __init__(self, tmp_path):
        exe = ensure_tool("chromium", "chromium")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-background-networking",
             f"--user-data-dir={tmp_path}/chrome-{time.monotonic_ns()}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found, self.stderr, port = threading.Event(), [], []

        def reader():
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                if m and not found.is_set():
                    port.append(int(m.group(1)))
                    found.set()
        threading.Thread(target=reader, daemon=True).start()
        if not found.wait(60):
            self.close()
            pytest.fail("chromium printed no DevTools address: " + "".join(self.stderr)[-2000:])
        pages = wait_for(lambda: [t for t in json.load(urllib.request.urlopen(
            f"http://127.0.0.1:{port[0]}/json/list", timeout=10)) if t["type"] == "page"],
            timeout=30, what="chromium's page target")
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"])
        self.next_id = 0
        self.call("Page.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})

    def call(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate: " + json.dumps(r["exceptionDetails"])[:500])
        return r["result"].get("value")

    def open(self, url):
        self.js("window.__old = 1")  # wait() ignores the document navigated away from
        self.call("Page.navigate", {"url": url})

    def wait(self, expr, what):
        return wait_for(lambda: self.js(f"window.__old === undefined && ({expr})"), timeout=30,
                        interval=0.2, what=what)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def page(tmp_path):
    p = Page(tmp_path)
    yield p
    p.close()


def assert_nothing_ran(page):
    st = page.js("""({title: document.title, pwned: window.__pwned === undefined ? null : window.__pwned,
                      scripts: document.scripts.length,
                      foreign: document.querySelectorAll("img, iframe, object, embed, svg svg, " +
                                                         "#members svg, #pops svg").length})""")
    assert st == {"title": "petri", "pwned": None, "scripts": 1, "foreign": 0}, st


def cells(page, table):
    """The text of every cell of #table's body, row by row."""
    return page.js(f"""Array.prototype.map.call(document.querySelectorAll("#{table} tbody tr"),
        function (tr) {{ return Array.prototype.map.call(tr.cells,
                                                        function (td) {{ return td.textContent; }}); }})""")


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---- a real cluster: an agent named with markup ------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("ui-sec")), agents=0)
    c.coord = c.coord_proc().start()
    c.add_agent(**{"node.name": NAME_PAYLOAD})
    try:
        wait_for(lambda: any(m["name"] == NAME_PAYLOAD and m["status"] == "alive"
                             for m in c.members()),
                 timeout=60, what="the agent named with markup in /v1/members")
        yield c
    finally:
        c.stop()


def test_policy_headers(hostile):
    st, hdr, page = http_get(f"http://127.0.0.1:{hostile.hport}/ui")
    assert st == 200
    csp = {d.split()[0]: d.split()[1:] for d in hdr["Content-Security-Policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert len(csp["script-src"]) == 1 and csp["script-src"][0].startswith("'sha256-")
    assert len(csp["style-src"]) == 1 and csp["style-src"][0].startswith("'sha256-")
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["require-trusted-types-for"] == ["'script'"]
    assert "unsafe" not in hdr["Content-Security-Policy"]
    # the hash is that of the page's one inline script
    body = re.search(rb"<script>(.*?)</script>", page, re.S).group(1)
    want = "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
    assert csp["script-src"] == [want]
    assert hdr["X-Content-Type-Options"] == "nosniff"
    for path in ("/v1/members", "/v1/nothing", "/metrics"):
        st, hdr, _ = http_get(f"http://127.0.0.1:{hostile.hport}{path}")
        assert hdr["X-Content-Type-Options"] == "nosniff", path
        assert hdr["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", path
        assert hdr["X-Frame-Options"] == "DENY", path


def test_member_name_renders_as_text(hostile, page):
    page.open(f"http://127.0.0.1:{hostile.hport}/ui")
    page.wait("document.body.dataset.state === 'connected' && "
              "document.querySelectorAll('#members tbody tr').length === 2", "the cluster table")
    rows = cells(page, "members")
    assert [NAME_PAYLOAD, "agent"] in [r[:2] for r in rows], rows
    assert NAME_PAYLOAD in page.js(
        "Array.prototype.map.call(document.querySelectorAll('#members tbody tr'), "
        "function (tr) { return tr.dataset.member; })")
    assert_nothing_ran(page)
    # the page keeps to its own policy: the hashes match, no inline style, no HTML sink
    assert page.js("window.__violations") == []


# ---- a stub API: metadata, populations and lineage with markup ---------------------


def hostile_api():
    p = PAYLOADS
    hist = [{"t_ms": 1000 * i, "evaluations": 10 * i, "best": 9.0 - i, "mean": 20.0 - i}
            for i in range(5)]
    pop = {"name": p[0], "state": p[1], "evaluations": p[2], "evals_per_s": p[3],
           "best": {"hash": p[4], "fitness": 5.0, "source": p[0]}, "mean_fitness": 16.0,
           "history": hist, "distribution": {"min": 1, "max": 9, "counts": [1, 2, 3]}}
    return {
        "/v1/members": [{"name": p[3], "role": p[1], "status": p[2], "addr": p[4], "id": "x",
                         "meta": {"role": "agent", "vms": p[0], "vms_total": p[1],
                                  "load": p[2]}}],
        "/v1/populations": [{k: pop[k] for k in ("name", "state", "evaluations",
                                                 "evals_per_s", "best")}],
        "/v1/populations/": pop,
        "/v1/lineage/": {"hash": p[1], "operator": p[2], "fitness": p[3],
                         "parents": [{"hash": p[0], "operator": p[4], "truncated": False}]},
        "/v1/live": {"live": [{"name": p[0], "state": p[1], "individuals": p[2], "upgrades": 3,
                               "promoted": 1, "rolled_back": 1, "refused": 1,
                               "best_fitness": 0.9}]},
        "/v1/live/": hostile_live(),
    }


def hostile_live():
    """A live population whose agent, states, ops, mutators, outcomes and
    reasons are markup."""
    p = PAYLOADS

    def version(n, op, mutator, outcome, reason):
        return {"version": n, "hash": "ab" * 32, "parent": n - 1 if n > 1 else None, "op": op,
                "mutator": mutator, "outcome": outcome, "reason": reason, "at_ms": 1000 * n,
                "parent_score": 0.5, "child_score": 0.75, "seq": n}
    ind = {"index": 0, "agent": p[3], "state": p[4], "version": 2, "pinned": 1, "fitness": 0.9,
           "requests": 10, "correct": 9, "wrong": 1, "failed": 0, "lost": 0, "twice": 0,
           "latency_p50_us": 5, "latency_p99_us": 9, "on_probation": False, "reason": p[2],
           "versions": [version(1, p[4], p[3], "promoted", p[1]),
                        version(2, "literal", "", p[0], p[2])],
           "fitness_series": [[1000 * i, 0.5 + i / 10, 1 + i // 3] for i in range(5)]}
    return {"name": p[0], "state": p[1], "upgrade_every_ms": 500, "upgrades": 3, "promoted": 1,
            "rolled_back": 1, "refused": 1, "individuals": [ind]}


class Stub(http.server.BaseHTTPRequestHandler):
    """Serves the page (with `csp` as its policy, if any) and a fixed API;
    counts requests."""
    page = b""
    csp = None
    routes = {}
    requests = 0

    def log_message(self, *a):
        pass

    def do_GET(self):
        type(self).requests += 1
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/ui", "/ui/"):
            return self.reply(200, self.page, "text/html; charset=utf-8", self.csp)
        for prefix, body in self.routes.items():
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return self.reply(200, json.dumps(body).encode(), "application/json")
        return self.reply(404, b'{"error":"no"}', "application/json")

    def reply(self, status, body, ctype, csp=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        self.wfile.write(body)


def serve(page=None, csp=None, routes=None):
    with open(UI_SRC, "rb") as f:
        cls = type("S", (Stub,), {"page": page or f.read(), "csp": csp,
                                  "routes": routes or {}, "requests": 0})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, cls


def stop(srv):
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("policy", ["none", "the coordinator's"])
def test_api_fields_render_as_text(hostile, page, policy):
    # without a policy the page's own escaping must hold on its own; under
    # the coordinator's, drawing everything must not trip it either
    csp = None
    if policy != "none":
        csp = http_get(f"http://127.0.0.1:{hostile.hport}/ui")[1]["Content-Security-Policy"]
    srv, _ = serve(csp=csp, routes=hostile_api())
    try:
        page.open(f"http://127.0.0.1:{srv.server_port}/ui")
        page.wait("document.body.dataset.drawn === '1' && !!document.querySelector('#ancestry ul')",
                  "the page drawn from the stub")
        p = PAYLOADS
        assert cells(page, "members") == [[p[3], p[1], p[2], p[0] + "/" + p[1], "\u2013", p[4]]]
        assert cells(page, "pops") == [[p[0], p[1], p[2], "0", "5"]]
        assert page.js("document.getElementById('best-source').textContent") == p[0]
        assert page.js("document.getElementById('best-hash').textContent") == p[4][:16]
        assert page.js("document.getElementById('sel-name').textContent") == "\u2013 " + p[0]
        tree = page.js("document.getElementById('ancestry').textContent")
        assert p[1][:12] in tree and p[2] in tree and p[0][:12] in tree and p[4] in tree
        assert page.js("document.querySelector('#pops tbody tr').dataset.pop") == p[0]
        assert page.js("Number(document.getElementById('plot').dataset.points)") == 5
        assert page.js("document.querySelectorAll('#dist rect').length") == 3
        # the live population: names, states, ops, mutators, outcomes and reasons as text
        page.wait("document.body.dataset.liveDrawn === '1'", "the live population drawn")
        assert cells(page, "lives") == [[p[0], p[1], p[2], "3", "1", "1", "1", "0.9000"]]
        ind = page.js("document.querySelector('#live-inds .live-ind').textContent")
        assert p[3] in ind and p[4] in ind and p[2] in ind, ind
        titles = page.js("Array.prototype.map.call(document.querySelectorAll("
                         "'#live-inds svg.timeline rect.mark title'), "
                         "function (t) { return t.textContent; })")
        assert len(titles) == 2, titles
        assert p[4] in titles[0] and p[3] in titles[0] and p[1] in titles[0], titles
        assert p[0] in titles[1] and p[2] in titles[1], titles
        assert page.js("Array.prototype.map.call(document.querySelectorAll("
                       "'#live-inds rect.mark'), function (r) { return r.getAttribute('class'); })"
                       ) == ["mark oc-promoted", "mark oc-other"]
        assert page.js("document.querySelector('#live-inds svg.livefit').dataset.points") == "5"
        assert page.js("document.querySelector('#lives tbody tr').dataset.live") == p[0]
        assert_nothing_ran(page)
        assert page.js("window.__violations") == []
    finally:
        stop(srv)


def test_policy_blocks_injected_markup(hostile, page):
    # the coordinator's own policy on a page into which markup got through
    _, hdr, _ = http_get(f"http://127.0.0.1:{hostile.hport}/ui")
    with open(UI_SRC, "rb") as f:
        html = f.read()
    injected = b"".join(x.encode() for x in PAYLOADS[:3])
    html = html.replace(b"<main>", b"<main>" + injected, 1)
    srv, _ = serve(page=html, csp=hdr["Content-Security-Policy"],
                   routes={"/v1/members": [], "/v1/populations": []})
    try:
        page.open(f"http://127.0.0.1:{srv.server_port}/ui")
        page.wait("document.body.dataset.state === 'connected'", "the page connected")
        st = page.js("({title: document.title, pwned: window.__pwned === undefined ? null : 1})")
        assert st == {"title": "petri", "pwned": None}, st
        # no /v1/live here (404): the Live section stays hidden, the page connected
        assert page.js("document.getElementById('live').classList.contains('absent')")
        v = page.js("window.__violations")
        assert any(x.startswith("script-src") for x in v), v
    finally:
        stop(srv)


@pytest.mark.parametrize("where", ["coordinator", "stub without a policy"])
def test_api_parameter_is_ignored(hostile, page, where):
    evil, evil_cls = serve(routes=hostile_api())
    own = None
    try:
        if where == "coordinator":
            base = f"http://127.0.0.1:{hostile.hport}"
        else:
            own, _ = serve(routes={"/v1/members": [{"name": "own", "role": "agent",
                                                    "status": "alive", "addr": "x", "meta": {}}],
                                   "/v1/populations": []})
            base = f"http://127.0.0.1:{own.server_port}"
        for api in (f"http://127.0.0.1:{evil.server_port}", "http://evil.example",
                    f"//127.0.0.1:{evil.server_port}"):
            page.open(f"{base}/ui?api={urllib.parse.quote(api, safe='')}")
            page.wait("document.body.dataset.state === 'connected' && "
                      "document.querySelectorAll('#members tbody tr').length > 0",
                      "the page connected to its own origin")
            names = [r[0] for r in cells(page, "members")]
            assert PAYLOADS[3] not in names and names, names
            assert evil_cls.requests == 0
            assert page.js("window.__violations") == []
    finally:
        stop(evil)
        if own:
            stop(own)


# ---- the HTTP API under a half-open flood -------------------------------------------


def test_half_open_flood_leaves_the_api_answering(tmp_path):
    c = Cluster(str(tmp_path), agents=0)
    p = c.coord_proc()
    p.args += ["-o", "http.header_timeout_s=3", "-o", "http.max_connections_per_ip=4"]
    c.coord = p.start()
    try:
        wait_for(lambda: c.api("GET", "/healthz", token=False)[0] == 200, timeout=30,
                 what="the coordinator's API")
        flood = []
        for _ in range(70):  # more than the server's 64 connections
            s = socket.socket()
            s.settimeout(60)  # a hang guard: the server must close each one
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", c.hport))
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")  # never finished
            flood.append(s)
        # another client is answered while the flood's sockets are open
        st, members = c.api("GET", "/v1/members", token=False)
        assert st == 200 and [m["name"] for m in members] == ["coordinator"]
        # every flooding socket is closed by the server, unanswered: at once
        # past the address's limit, at the header deadline within it
        for s in flood:
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            assert got == b""
            s.close()
        # (the server logs before it closes; the log reaches the file a little later)
        wait_for(lambda: p.logtext().count("request head not complete in time") >= 4,
                 timeout=30, what="4 header timeouts logged")
        log = p.logtext()
        assert log.count("request head not complete in time") == 4, log[-3000:]
        # the address is not shut out for good: answered once the server's
        # thread has closed the connections it shut down (the peer sees the
        # shutdown before the per-address count goes down, so a request sent
        # at once may still meet the limit and be reset)
        answers = []

        def answered():
            s = socket.create_connection(("127.0.0.1", c.hport), timeout=60,
                                         source_address=("127.0.0.2", 0))
            got = b""
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (ConnectionResetError, BrokenPipeError):
                pass
            finally:
                s.close()
            answers.append(got[:200])
            return got.startswith(b"HTTP/1.1 200 ")
        wait_for(answered, timeout=15, what="an answer to 127.0.0.2 after the flood")
        assert all(a == b"" for a in answers[:-1]), answers
    finally:
        c.stop()


# ---- embed.py keeps the page within its policy --------------------------------------


def test_embed_refuses_pages_the_policy_would_break():
    spec = importlib.util.spec_from_file_location(
        "embed", os.path.join(ROOT, "coordinator", "ui", "embed.py"))
    embed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(embed)
    with open(UI_SRC, encoding="utf-8") as f:
        page = f.read()
    assert "'sha256-" in embed.csp(page)
    for bad in (page.replace("<main>", '<main style="color:red">', 1),
                page.replace("<main>", '<main onclick="x()">', 1),
                page.replace("<main>", '<main><script src="/x.js"></script>', 1),
                page.replace("<main>", "<main><script>1</script>", 1),
                page.replace("<main>", "<main><style>p{}</style>", 1),
                page.replace("<main>", '<main><img src="/x.png">', 1)):
        with pytest.raises(embed.PageError):
            embed.csp(bad)
