#!/usr/bin/python3
"""bench_dashboard.py - the dashboard (/ui) in headless Chromium.

Goal: first paint under 1 s on loopback with a population of 10,000
individuals, and the page never holds more than a bounded window of history.

A coordinator and one agent (2 VMs) on loopback; population "big" of 10,000
individuals (4 demes of 2,500) and "tiny" of 10 (1 deme), both running; once
"big" is filled (every deme at its size), the page is loaded in a fresh
browser context per load, interleaved, several times each:
  - /ui?pop=big    the dashboard drawing the 10,000-individual population
  - /ui?pop=tiny   baseline: the same page and coordinator, 10 individuals
  - a static page  baseline: a few lines of HTML from a Python server
Reported from the page (DevTools protocol, Runtime.evaluate): first paint and
first contentful paint (performance paint entries), DOMContentLoaded, load,
and the page's own readiness signal: `data-drawn="1"` on <body>, set by
renderDetail() once both plots and the best genome are drawn; a
MutationObserver injected before the page's script records when it is set
and when the next frame after it is presented. Also the API answers the page
fetches (sizes, times) and the JS heap once drawn.

Bounded history: the page keeps at most HISTORY_MAX (600) samples per
population (coordinator/ui/index.html: remember()); the coordinator itself
sends at most POP_HISTORY (600). To check it the page is pointed at a fake
API whose population detail returns 600 NEW samples on every poll, with the
page's 1 s poll timer shortened to 1 ms, and after N polls the points on the
plot and the JS heap (after a forced GC) are read; the control is the same
page with the cap removed (HISTORY_MAX = 1e9), which must grow.

Speaks CDP over a websocket with a minimal stdlib client (below); needs
Debian's `chromium`. Prints the load average, tables and one JSON line; never
fails because of a number. Options: --reps N (7), --polls 1,10,50,100,200 (the
control with the cap removed stops at 100), --size N (10000).
"""
import argparse
import base64
import http.server
import json
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))

from benchlib import (FAST_GOSSIP, PETRI, ROOT, SPEC, Daemon, clean_env, free_port,  # noqa: E402,E501
                      loadavg, new_key, opts, wait_for)
from benchlib import http as api  # noqa: E402

UI_SRC = os.path.join(ROOT, "coordinator", "ui", "index.html")

# ---- a minimal websocket client and CDP ----------------------------------------------


class WebSocket:
    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
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
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("websocket handshake refused: " + head.decode(errors="replace"))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        """The next text message (fragments joined); None when the peer closed."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 0x8:
                return None
            if op == 0x9:
                self._send_frame(0xA, data)
                continue
            if op == 0xA:
                continue
            parts.append(data)
            if b0 & 0x80:
                return b"".join(parts).decode()

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Cdp:
    """CDP over one browser websocket; target sessions are flattened
    (`session` = the sessionId of Target.attachToTarget)."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events = []

    def call(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        self.ws.sock.settimeout(timeout)
        while True:
            raw = self.ws.recv()
            if raw is None:
                raise ConnectionError("browser closed the DevTools connection")
            m = json.loads(raw)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, name, session=None, timeout=30):
        end = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == name and (session is None or e.get("sessionId") == session):
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.ws.sock.settimeout(left)
            try:
                raw = self.ws.recv()
            except socket.timeout:
                return None
            if raw is None:
                raise ConnectionError("browser closed the DevTools connection")
            m = json.loads(raw)
            if "method" in m:
                self.events.append(m)

    def evaluate(self, expr, session, await_promise=False, timeout=30):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": await_promise}, session, timeout)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate: " + json.dumps(r["exceptionDetails"])[:500])
        return r["result"].get("value")

    def close(self):
        self.ws.close()


class Browser:
    """Headless Chromium with --remote-debugging-port=0; the DevTools URL is
    read from its stderr ("DevTools listening on ws://...")."""

    def __init__(self, exe=None, extra=()):
        self.exe = exe or shutil.which("chromium") or shutil.which("chromium-browser")
        if not self.exe:
            raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium)")
        self.prof = tempfile.mkdtemp(prefix="petri-bench-chromium-")
        self.proc = subprocess.Popen(
            [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
             "--disable-extensions", "--disable-background-networking",
             "--enable-precise-memory-info", f"--user-data-dir={self.prof}",
             "--remote-debugging-port=0", "--window-size=1400,1000", *extra, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        found = threading.Event()
        self.ws_url = None

        def reader():
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = re.search(r"DevTools listening on (ws://\S+)", line)
                if m and not found.is_set():
                    self.ws_url = m.group(1)
                    found.set()
        threading.Thread(target=reader, daemon=True).start()
        if not found.wait(60):
            self.close()
            raise RuntimeError("chromium printed no DevTools URL: " + "".join(self.stderr)[-2000:])
        self.cdp = Cdp(self.ws_url)

    def new_page(self):
        """A fresh browser context (no shared cache or storage) with one
        about:blank page; returns (context id, target id, session id)."""
        ctx = self.cdp.call("Target.createBrowserContext")["browserContextId"]
        tid = self.cdp.call("Target.createTarget", {"url": "about:blank",
                                                    "browserContextId": ctx})["targetId"]
        sid = self.cdp.call("Target.attachToTarget", {"targetId": tid,
                                                      "flatten": True})["sessionId"]
        return ctx, tid, sid

    def close_page(self, ctx, tid):
        try:
            self.cdp.call("Target.closeTarget", {"targetId": tid})
            self.cdp.call("Target.disposeBrowserContext", {"browserContextId": ctx})
        except (RuntimeError, OSError):
            pass
        self.cdp.events.clear()

    def close(self):
        try:
            if getattr(self, "cdp", None):
                try:
                    self.cdp.call("Browser.close", timeout=5)
                except (RuntimeError, OSError, ConnectionError):
                    pass
                self.cdp.close()
        finally:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.prof, ignore_errors=True)


# ---- page loads ----------------------------------------------------------------------

# Injected before any page script: when <body> gets data-state="connected" and
# data-drawn="1", and the first frame presented after data-drawn.
MARKS = r"""
(function () {
  var m = window.__bench = {};
  new MutationObserver(function () {
    var b = document.body;
    if (!b) return;
    if (b.dataset.state === "connected" && m.connected === undefined) m.connected = performance.now();
    if (b.dataset.drawn === "1" && m.drawn === undefined) {
      m.drawn = performance.now();
      requestAnimationFrame(function () {
        setTimeout(function () { m.frame = performance.now(); }, 0);
      });
    }
  }).observe(document, {subtree: true, attributes: true,
                        attributeFilter: ["data-drawn", "data-state"]});
})();
"""

READ = r"""
(function () {
  var nav = performance.getEntriesByType("navigation")[0] || {};
  var paint = {};
  performance.getEntriesByType("paint").forEach(function (e) { paint[e.name] = e.startTime; });
  var res = performance.getEntriesByType("resource").filter(function (e) {
    return e.name.indexOf("/v1/") >= 0;
  }).map(function (e) {
    return [e.name.replace(/^https?:\/\/[^\/]+/, ""), e.startTime, e.responseEnd,
            e.decodedBodySize];
  });
  return JSON.stringify({paint: paint, dcl: nav.domContentLoadedEventEnd,
                         load: nav.loadEventEnd, response_end: nav.responseEnd,
                         html_bytes: nav.decodedBodySize, marks: window.__bench || {},
                         api: res});
})()
"""


def load_page(br, url, wait_drawn, timeout=20):
    """One navigation in a fresh context; the page's figures (ms from the
    navigation start) and its JS heap once drawn (or loaded)."""
    ctx, tid, sid = br.new_page()
    try:
        br.cdp.call("Page.enable", session=sid)
        br.cdp.call("Page.addScriptToEvaluateOnNewDocument", {"source": MARKS}, sid)
        br.cdp.call("Page.navigate", {"url": url}, sid)
        br.cdp.wait_event("Page.loadEventFired", sid, timeout)
        end = time.monotonic() + timeout
        while True:
            r = json.loads(br.cdp.evaluate(READ, sid))
            if "first-contentful-paint" in r["paint"] and \
                    (not wait_drawn or "frame" in r["marks"]) or time.monotonic() > end:
                break
            time.sleep(0.02)
        br.cdp.call("HeapProfiler.collectGarbage", session=sid)
        r["heap"] = br.cdp.call("Runtime.getHeapUsage", session=sid)["usedSize"]
        return r
    finally:
        br.close_page(ctx, tid)


class StaticPage(http.server.BaseHTTPRequestHandler):
    BODY = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>static"
            b"</title></head><body><h1>petri</h1><p>A static page: the baseline for first "
            b"paint.</p></body></html>")

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)


def serve(handler):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ---- bounded history: a fake API that sends 600 new samples per poll ---------------

class FastApi(http.server.BaseHTTPRequestHandler):
    page = b""
    polls = 0
    WINDOW = 600

    def log_message(self, *a):
        pass

    def do_GET(self):
        cls = type(self)
        if self.path.startswith("/ui"):
            return self.reply(cls.page, "text/html")
        pop = {"name": "p1", "state": "running", "evaluations": 0, "evals_per_s": 100.0,
               "best": {"hash": None, "fitness": None}, "size": 10000, "demes": 4}
        if self.path == "/v1/members":
            body = []
        elif self.path == "/v1/populations":
            body = [pop]
        elif self.path == "/v1/populations/p1":
            cls.polls += 1
            n = cls.polls
            base = n * cls.WINDOW  # every sample of this answer is newer than the last one
            hist = [{"t_ms": 1000 * (base + i), "evaluations": 100 * (base + i),
                     "best": 1000.0 / (1 + base + i), "mean": 5000.0 / (1 + base + i)}
                    for i in range(cls.WINDOW)]
            body = dict(pop, evaluations=100 * (base + cls.WINDOW), history=hist,
                        mean_fitness=hist[-1]["mean"],
                        best={"hash": None, "fitness": hist[-1]["best"], "source": None},
                        distribution={"min": 0, "max": 1, "counts": [1] * 10},
                        demes=[{"index": 0, "size": 10000}])
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.reply(json.dumps(body).encode(), "application/json")

    def reply(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


FAST_POLL = r"""
(function () {  /* the page's 1 s poll timer shortened to 1 ms */
  var st = window.setTimeout;
  window.setTimeout = function (f, ms) {
    var a = Array.prototype.slice.call(arguments, 2);
    return st.apply(window, [f, ms === 1000 ? 1 : ms].concat(a));
  };
})();
"""


def history_growth(br, page, checkpoints, timeout=120):
    """[(polls, points on the plot, JS heap bytes)] for the page served by FastApi."""
    FastApi.page, FastApi.polls = page, 0
    srv = serve(FastApi)
    ctx, tid, sid = br.new_page()
    out = []
    try:
        br.cdp.call("Page.enable", session=sid)
        br.cdp.call("Page.addScriptToEvaluateOnNewDocument", {"source": FAST_POLL}, sid)
        br.cdp.call("Page.navigate", {"url": f"http://127.0.0.1:{srv.server_port}/ui"}, sid)
        end = time.monotonic() + timeout
        for n in checkpoints:
            while FastApi.polls < n and time.monotonic() < end:
                time.sleep(0.01)
            if FastApi.polls < n:
                break
            time.sleep(0.05)  # let that answer be drawn
            heap = None
            for _ in range(3):  # answers in flight come and go: the smallest of 3
                br.cdp.call("HeapProfiler.collectGarbage", session=sid)
                h = br.cdp.call("Runtime.getHeapUsage", session=sid)["usedSize"]
                heap = h if heap is None else min(heap, h)
            pts = br.cdp.evaluate("Number(document.getElementById('plot').dataset.points || 0)",
                                  sid)
            out.append((FastApi.polls, pts, heap))
    finally:
        br.close_page(ctx, tid)
        srv.shutdown()
        srv.server_close()
    return out


# ---- the cluster ---------------------------------------------------------------------

def start_cluster(tmp):
    key, token = new_key(), os.urandom(16).hex()
    gport, wport, hport = free_port(), free_port(), free_port()
    o = {"node.name": "coordinator", "node.data_dir": os.path.join(tmp, "coordinator"),
         "gossip.bind": f"127.0.0.1:{gport}", "work.bind": f"127.0.0.1:{wport}",
         "http.bind": f"127.0.0.1:{hport}", "log.level": "info", **FAST_GOSSIP}
    logf = open(os.path.join(tmp, "coordinator.log"), "ab")
    coord = subprocess.Popen([PETRI, "coordinator", *opts(o)], stdout=logf,
                             stderr=subprocess.STDOUT,
                             env=clean_env(PETRI_GOSSIP_KEY=key, PETRI_HTTP_TOKEN=token))
    agent = Daemon(tmp, "agent-1", key=key, seeds=f"127.0.0.1:{gport}",
                   extra={"beam.vms": "2", "log.level": "info", **FAST_GOSSIP}).start()

    def ready():
        st, ms = api(hport, "GET", "/v1/members")
        return st == 200 and any(m["role"] == "agent" and m["status"] == "alive" and
                                 m["meta"].get("vms", 0) > 0 for m in ms)
    if not wait_for(ready, 120, 0.2):
        raise RuntimeError("the agent never became ready; see " + tmp)
    return coord, logf, agent, hport, token


def spec(name, size, demes):
    with open(SPEC) as f:
        s = json.load(f)
    s.update(name=name, size=size, demes=demes,
             stop={"target_fitness": None, "max_evaluations": 10 ** 12})
    return s


def timed_bytes(url, n=10):
    ts, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as r:
            size = len(r.read())
        ts.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(ts), size


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, unit=""):
    return "-" if x is None else f"{x:.0f}{unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--polls", default="1,10,50,100,200")
    ap.add_argument("--size", type=int, default=10000)
    a = ap.parse_args()
    checkpoints = [int(x) for x in a.polls.split(",")]
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        print("chromium is not installed (Debian: apt-get install chromium): nothing measured")
        print(json.dumps({"bench": "dashboard", "skipped": "no chromium"}))
        return

    la0 = loadavg()
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="petri-bench-dashboard-")
    coord = logf = agent = br = static = None
    loads = {"static": [], "tiny": [], "big": []}
    try:
        coord, logf, agent, hport, token = start_cluster(tmp)
        st, body = api(hport, "POST", "/v1/populations", token, spec("big", a.size, 4))
        assert st == 201, body
        st, body = api(hport, "POST", "/v1/populations", token, spec("tiny", 10, 1))
        assert st == 201, body
        t0 = time.monotonic()
        took = {"start": t0 - t_start}

        def filled():
            st, p = api(hport, "GET", "/v1/populations/big")
            return st == 200 and sum(d["size"] for d in p["demes"]) >= a.size and p
        big = wait_for(filled, 600, 0.25)
        fill_s = time.monotonic() - t0
        if not big:
            raise RuntimeError("population big never filled")
        base = f"http://127.0.0.1:{hport}"
        api_sizes = {k: timed_bytes(base + p) for k, p in
                     (("detail_big", "/v1/populations/big"), ("detail_tiny", "/v1/populations/tiny"),
                      ("populations", "/v1/populations"), ("members", "/v1/members"),
                      ("ui", "/ui"))}

        static = serve(StaticPage)
        br = Browser()
        urls = {"static": f"http://127.0.0.1:{static.server_port}/",
                "tiny": f"{base}/ui?pop=tiny", "big": f"{base}/ui?pop=big"}
        order = list(urls)
        for k in order:  # warm-up: the browser's first renderer, the code caches
            load_page(br, urls[k], k != "static")
        for i in range(a.reps):
            for k in order[i % 3:] + order[:i % 3]:
                loads[k].append(load_page(br, urls[k], k != "static"))
        took["loads"] = time.monotonic() - t0 - fill_s
        t1 = time.monotonic()
        _, big_now = api(hport, "GET", "/v1/populations/big")
        with open(UI_SRC, "rb") as f:
            page = f.read()
        unbounded = page.replace(b"var HISTORY_MAX = 600;", b"var HISTORY_MAX = 1e9;")
        assert unbounded != page, "HISTORY_MAX not found in index.html"
        bounded_growth = history_growth(br, page, checkpoints)
        # the control redraws every point it holds on each poll: up to 100 polls is enough
        unbounded_growth = history_growth(br, unbounded, [n for n in checkpoints if n <= 100])
        took["history"] = time.monotonic() - t1
    finally:
        if br:
            br.close()
        if static:
            static.shutdown()
        if agent:
            agent.stop()
        if coord:
            coord.terminate()
            try:
                coord.wait(20)
            except subprocess.TimeoutExpired:
                coord.kill()
                coord.wait()
            logf.close()
        shutil.rmtree(tmp, ignore_errors=True)
    la1 = loadavg()

    # ---- figures ----
    def col(k, f):
        return med([f(r) for r in loads[k]])

    def api_ms(r, path):
        for name, start, end, size in r["api"]:
            if name.startswith(path):
                return end - start
        return None
    cols = {
        "first paint": lambda r: r["paint"].get("first-paint"),
        "first contentful paint": lambda r: r["paint"].get("first-contentful-paint"),
        "DOMContentLoaded": lambda r: r["dcl"],
        "load": lambda r: r["load"],
        "plots drawn (data-drawn)": lambda r: r["marks"].get("drawn"),
        "next frame after drawn": lambda r: r["marks"].get("frame"),
        "  detail fetch in the page": lambda r: api_ms(r, "/v1/populations/"),
    }
    names = {"static": "static page", "tiny": "/ui, 10 individuals",
             "big": f"/ui, {a.size:,} individuals"}
    print(f"load average before: {' '.join(la0)}   after: {' '.join(la1)}   "
          f"(2 cores; {time.monotonic() - t_start:.0f} s: cluster start {took['start']:.0f}, "
          f"fill {fill_s:.0f}, loads {took['loads']:.0f}, history {took['history']:.0f})")
    print(f"population big: {a.size} individuals in 4 demes, filled in {fill_s:.1f} s; "
          f"{big_now['evaluations']} evaluations when measured; tiny: 10 in 1 deme; both running")
    print(f"median of {a.reps} loads each (fresh browser context per load), ms from navigation "
          "start:")
    w = max(len(c) for c in cols)
    print(f"{'':<{w}}  " + "  ".join(f"{names[k]:>22}" for k in order))
    for c, f in cols.items():
        print(f"{c:<{w}}  " + "  ".join(f"{fmt(col(k, f)):>22}" for k in order))
    heaps = {k: col(k, lambda r: r["heap"]) for k in order}
    print(f"{'JS heap once drawn (KiB)':<{w}}  " +
          "  ".join(f"{fmt(heaps[k] / 1024):>22}" for k in order))
    fp_range = {k: (min(r["paint"].get("first-paint", 0) for r in loads[k]),
                    max(r["paint"].get("first-paint", 0) for r in loads[k])) for k in order}
    print(f"{'first paint min..max':<{w}}  " +
          "  ".join(f"{'%.0f..%.0f' % fp_range[k]:>22}" for k in order))
    print()
    print("API answers (curl-like GET from Python, median of 10):")
    for k, (ms, size) in api_sizes.items():
        print(f"  {k:<12} {size:>8} B  {ms:7.2f} ms")
    print()
    print("bounded history: fake API, 600 new samples per poll, poll timer 1 ms")
    print(f"  {'polls':>6} {'samples sent':>13} {'points, cap 600':>16} {'heap KiB':>9}"
          f" {'points, no cap':>15} {'heap KiB':>9}")
    for i in range(max(len(bounded_growth), len(unbounded_growth))):
        b = bounded_growth[i] if i < len(bounded_growth) else None
        u = unbounded_growth[i] if i < len(unbounded_growth) else None
        n = (b or u)[0]
        print(f"  {n:>6} {n * FastApi.WINDOW:>13} "
              f"{(b[1] if b else '-'):>16} {(fmt(b[2] / 1024) if b else '-'):>9}"
              f" {(u[1] if u else '-'):>15} {(fmt(u[2] / 1024) if u else '-'):>9}")

    out = {"bench": "dashboard", "size": a.size, "reps": a.reps, "loadavg": la0 + la1,
           "fill_s": round(fill_s, 1), "goal_first_paint_ms": 1000}
    for k in order:
        for c, key in (("first paint", "fp"), ("first contentful paint", "fcp"),
                       ("plots drawn (data-drawn)", "drawn"), ("next frame after drawn", "frame"),
                       ("load", "load")):
            v = col(k, cols[c])
            out[f"{k}_{key}_ms"] = round(v, 1) if v is not None else None
        out[f"{k}_heap_bytes"] = heaps[k]
    out["big_over_tiny_fp"] = round(out["big_fp_ms"] / out["tiny_fp_ms"], 3) \
        if out.get("tiny_fp_ms") else None
    out["big_over_tiny_frame"] = round(out["big_frame_ms"] / out["tiny_frame_ms"], 3) \
        if out.get("tiny_frame_ms") and out.get("big_frame_ms") else None
    out["api_bytes"] = {k: v[1] for k, v in api_sizes.items()}
    out["api_ms"] = {k: round(v[0], 2) for k, v in api_sizes.items()}
    out["history_bounded"] = bounded_growth
    out["history_unbounded"] = unbounded_growth
    print(json.dumps(out))


if __name__ == "__main__":
    main()
