"""Observability end to end: the coordinator's and an agent's /metrics
against the JSON API, a real Prometheus scraping both, the /ui dashboard in
headless Chromium (numbers, plots, screenshot, the unreachable state), and
the API's 404/400 answers."""
import http.server
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from cluster import Cluster, free_port, quadratic_spec
from conftest import AGENT, BUILD, ROOT, run, wait_for

OUT_DIR = os.path.join(BUILD, "test-output")
UI_SRC = os.path.join(ROOT, "coordinator", "ui", "index.html")

# ---- helpers -----------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> ({(name, frozenset(labels)): value}, {name: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"malformed sample line: {line!r}"
        labels = {}
        if m.group(2):
            for k, v in LABEL.findall(m.group(2)):
                labels[k] = v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        key = (m.group(1), frozenset(labels.items()))
        assert key not in samples, f"duplicate series {line!r}"
        samples[key] = float(m.group(3))
    return samples, types


def val(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def series(samples, name):
    return {k[1]: v for k, v in samples.items() if k[0] == name}


def http_get(url, timeout=10, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def scrape(port):
    st, hdr, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert st == 200, body
    assert hdr["Content-Type"].startswith("text/plain; version=0.0.4"), hdr["Content-Type"]
    return parse_metrics(body.decode())


def ensure_tool(binary, package):
    """The path of binary; installs the Debian package when running as root
    and allowed (PETRI_TEST_INSTALL != 0), else skips with the reason."""
    path = shutil.which(binary)
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get") and os.environ.get("PETRI_TEST_INSTALL",
                                                                       "1") != "0":
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                       env=env, capture_output=True, timeout=1200)
        path = shutil.which(binary)
        if path:
            return path
    pytest.skip(f"{binary} is not installed (Debian package {package}: "
                f"apt-get install {package}); not root, or the install failed")


# ---- the cluster: a coordinator and two agents with /metrics, one run ------------

@pytest.fixture(scope="module")
def obs():
    tmp = tempfile.mkdtemp(prefix="petri-obs-")
    c = Cluster(tmp, agents=0)
    c.coord = c.coord_proc().start()
    c.mports = []
    for _ in range(2):
        port = free_port()
        c.mports.append(port)
        c.add_agent(**{"metrics.bind": f"127.0.0.1:{port}"})
    c.wait_ready(2)
    # a cubic: not solved at once, so the run lasts a few seconds of history
    spec = quadratic_spec(name="obs", size=60, demes=3,
                          stop={"target_fitness": 0, "max_evaluations": 3000})
    spec["fitness"] = {"cases": [{"in": [x], "out": x ** 3 - 3 * x * x + 2 * x + 7}
                                 for x in range(-6, 7)]}
    st, body = c.api("POST", "/v1/populations", spec)
    assert st == 201, body
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def finished(c, name="obs"):
    return wait_for(lambda: c.pop(name)["state"] != "running" and c.pop(name), timeout=240,
                    interval=0.5, what=f"{name} finished")


def agents_idle(c):
    def idle():
        for port in c.mports:
            s, _ = scrape(port)
            if val(s, "petri_agent_inflight") or val(s, "petri_agent_queue_depth") or \
                    val(s, "petri_agent_work_held"):
                return False
        return True
    wait_for(idle, timeout=60, interval=0.2, what="agents idle")


# ---- /metrics ----------------------------------------------------------------------

def test_metrics_during_run(obs):
    """Scraped while evolution runs: well-formed, and counters only grow."""
    c = obs
    wait_for(lambda: c.pop("obs")["evaluations"] > 0, timeout=120, what="first evaluations")
    s1, types = scrape(c.hport)
    a1, atypes = scrape(c.mports[0])
    time.sleep(1.2)
    s2, _ = scrape(c.hport)
    a2, _ = scrape(c.mports[0])
    for name, typ in list(types.items()) + list(atypes.items()):
        assert name.startswith("petri_"), name
        assert (typ == "counter") == name.endswith("_total"), (name, typ)
        assert typ in ("counter", "gauge", "histogram", "summary"), (name, typ)
    for before, after, t in ((s1, s2, types), (a1, a2, atypes)):
        for (name, labels), v in before.items():
            if any(k == "vm" for k, _ in labels):
                continue  # per-VM counters start again with a new VM
            if t.get(name) == "counter" or name.endswith(("_bucket", "_count")):
                assert after[(name, labels)] >= v, (name, labels, v)
    assert val(s2, "petri_population_evaluations_total", population="obs") >= \
        val(s1, "petri_population_evaluations_total", population="obs")
    promtool = shutil.which("promtool")
    if promtool:
        for port in (c.hport, c.mports[0]):
            _, _, body = http_get(f"http://127.0.0.1:{port}/metrics")
            r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
            assert r.returncode == 0, r.stdout + r.stderr


def test_coordinator_metrics_match_api(obs):
    c = obs
    p = finished(c)
    st, pops = c.api("GET", "/v1/populations")
    assert st == 200
    # records are committed on a timer: wait until the store caught up
    def settled():
        s, _ = scrape(c.hport)
        st, status = c.api("GET", "/v1/status")
        return val(s, "petri_work_pending_records") == 0 and \
            val(s, "petri_lineage_records") == status["records"] and (s, status)
    s, status = wait_for(settled, timeout=30, what="store settled")
    assert val(s, "petri_populations") == len(pops)
    assert val(s, "petri_population_evaluations_total", population="obs") == p["evaluations"]
    best = val(s, "petri_population_best_fitness", population="obs")
    assert best == p["best"]["fitness"]
    assert math.isclose(val(s, "petri_population_mean_fitness", population="obs"),
                        p["mean_fitness"], rel_tol=1e-9, abs_tol=1e-9)
    assert val(s, "petri_population_size", population="obs") == p["size"]
    live = sum(d["size"] for d in p["demes"])
    assert val(s, "petri_population_individuals", population="obs") == live
    div = val(s, "petri_population_diversity", population="obs")
    assert 1 <= div <= live
    assert div == p["diversity"]["genomes"]
    assert val(s, "petri_population_fitness_values", population="obs") == \
        p["diversity"]["fitness_values"]
    assert math.isclose(val(s, "petri_population_fitness_entropy", population="obs"),
                        p["diversity"]["fitness_entropy_bits"], rel_tol=1e-9, abs_tol=1e-9)
    assert val(s, "petri_population_collapsed_demes", population="obs") == \
        p["diversity"]["collapsed_demes"] == sum(1 for d in p["demes"] if d["collapsed"])
    assert math.isnan(val(s, "petri_population_archive_coverage", population="obs"))
    states = series(s, "petri_population_state")
    on = [dict(k)["state"] for k, v in states.items() if v == 1 and
          dict(k)["population"] == "obs"]
    assert on == [p["state"]], states
    assert val(s, "petri_population_evals_per_second", population="obs") >= 0
    assert val(s, "petri_store_group_commit_seconds_count") > 0
    assert val(s, "petri_store_group_commit_seconds_bucket", le="+Inf") == \
        val(s, "petri_store_group_commit_seconds_count")
    assert val(s, "petri_store_size_bytes") > 0
    assert val(s, "petri_lineage_records") >= p["evaluations"]
    assert val(s, "petri_work_results_total") >= p["evaluations"]
    assert val(s, "petri_work_queue_depth") == status["queued"]
    assert val(s, "petri_work_reissued_total") == status["reissued"]
    assert val(s, "petri_work_results_dropped_total", reason="late") == status["discarded_late"]
    assert val(s, "petri_work_results_dropped_total", reason="bad_signature") == \
        status["work"]["dropped_bad_sig"]
    members = c.members()
    for state in ("alive", "suspect", "dead", "left"):
        assert val(s, "petri_gossip_members", state=state) == \
            sum(1 for m in members if m["status"] == state), state
    assert val(s, "petri_work_agents") == 2
    for m in members:
        if m["role"] == "agent":
            assert val(s, "petri_work_agent_vms_ready", agent=m["name"]) == m["meta"]["vms"]
    assert val(s, "petri_gossip_probes_total") > 0
    assert val(s, "petri_gossip_sent_bytes_total") > 0
    assert val(s, "petri_gossip_received_bytes_total") > 0
    assert val(s, "petri_build_info", version=status["version"], role="coordinator") == 1


def test_agent_metrics_match_status(obs):
    c = obs
    finished(c)
    agents_idle(c)
    total_ok = total = 0
    for proc, port in zip(c.agents, c.mports):
        s, types = scrape(port)
        r = run([AGENT, "status", "--json", "-o", f"node.run_dir={proc.run_dir}"], timeout=30)
        assert r.returncode == 0, r.stderr
        pool = json.loads(r.stdout)["pool"]
        assert val(s, "petri_agent_vms_ready") == pool["ready"]
        assert val(s, "petri_agent_vms_target") == pool["total"]
        assert val(s, "petri_agent_vm_restarts_total") == pool["restarts"]
        assert val(s, "petri_agent_vm_recycles_total") == pool["recycles"]
        assert sum(series(s, "petri_agent_vm_kills_total").values()) == pool["kills"]
        assert val(s, "petri_agent_vm_starts_total") >= pool["ready"] >= 1
        statuses = {dict(k)["status"] for k in series(s, "petri_agent_evaluations_total")}
        assert statuses == {"ok", "parse_error", "unsafe", "compile_error", "timeout",
                            "heap_limit", "crash", "bad_result", "unsupported", "internal",
                            "vm_killed"}
        causes = {dict(k)["cause"] for k in series(s, "petri_agent_vm_kills_total")}
        assert {"heartbeat", "rss", "protocol", "boot_timeout"} <= causes
        evals = sum(series(s, "petri_agent_evaluations_total").values())
        ok = val(s, "petri_agent_evaluations_total", status="ok")
        # an agent may own no deme (rendezvous placement): totals checked below
        total, total_ok = total + evals, total_ok + ok
        assert types["petri_agent_evaluation_seconds"] == "histogram"
        # every VM-run ok result was timed; +Inf bucket == count
        n = val(s, "petri_agent_evaluation_seconds_count")
        assert ok <= n <= evals
        assert val(s, "petri_agent_evaluation_seconds_bucket", le="+Inf") == n
        assert val(s, "petri_agent_load_seconds_count") >= n
        assert n == 0 or val(s, "petri_agent_evaluation_seconds_sum") > 0
        # per-VM telemetry from the pongs (a heartbeat a second)
        for vm in pool["vms"]:
            if vm["state"] != "ready":
                continue
            i = str(vm["index"])
            assert val(s, "petri_agent_vm_up", vm=i) == 1
            mem = wait_for(lambda: val(scrape(port)[0], "petri_agent_vm_memory_bytes", vm=i),
                           timeout=10, what="a pong")
            assert mem > 1e6
            s2, _ = scrape(port)
            assert val(s2, "petri_agent_vm_processes", vm=i) > 10
            assert val(s2, "petri_agent_vm_atoms", vm=i) > 1000
            assert val(s2, "petri_agent_vm_live_sandboxes", vm=i) >= 0
            assert val(s2, "petri_agent_vm_pending_purges", vm=i) >= 0
        assert val(s, "petri_gossip_members", state="alive") >= 3
        assert val(s, "petri_agent_work_received_total") >= val(s, "petri_agent_work_done_total")
    # the coordinator recorded no more results than the agents produced
    cs, _ = scrape(c.hport)
    assert total > 0 and total_ok > 0
    assert val(cs, "petri_work_results_total") <= total
    assert val(cs, "petri_population_evaluations_total", population="obs") <= total


def test_agent_metrics_endpoint_is_read_only(obs):
    port = obs.mports[0]
    st, hdr, body = http_get(f"http://127.0.0.1:{port}/v1/status")
    assert st == 404 and "error" in json.loads(body)
    st, _, body = http_get(f"http://127.0.0.1:{port}/metrics", method="HEAD")
    assert st == 200 and body == b""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code in (401, 404)


def test_agent_metrics_bind_is_checked():
    r = run([AGENT, "-n", "-o", "metrics.bind=nonsense"])
    assert r.returncode == 2 and "metrics" in r.stderr, r.stderr
    r = run([AGENT, "-n", "-o", "metrics.bind=127.0.0.1:9100"])
    assert r.returncode == 0 and "9100" in r.stdout


# ---- API refusals --------------------------------------------------------------

def test_api_404_and_400(obs):
    c = obs
    st, body = c.api("GET", "/v1/populations/nope", token=False)
    assert st == 404 and "nope" in body["error"]
    st, body = c.api("GET", "/v1/populations/" + "x" * 80, token=False)
    assert st == 404 and "error" in body
    h = "ab" * 32
    for q in ("depth=abc", "depth=-1", "depth=65", "depth=%zz", "depth=", "depth=1e3",
              "depth=" + "9" * 40):
        st, body = c.api("GET", f"/v1/lineage/{h}?{q}", token=False)
        assert st == 400 and "depth" in body["error"], (q, st, body)
    for q in ("format=xml", "format=%zz", "format=" + "j" * 40):
        st, body = c.api("GET", f"/v1/lineage/export?{q}", token=False)
        assert st == 400 and "format" in body["error"], (q, st, body)
    st, body = c.api("POST", "/v1/lineage/verify?replay=many")
    assert st == 400 and "replay" in body["error"]
    st, body = c.api("GET", "/v1/lineage/nothex?depth=2", token=False)
    assert st == 400 and "hash" in body["error"]
    st, body = c.api("GET", "/v1/nothing", token=False)
    assert st == 404 and "error" in body
    # the dashboard and /metrics need no token
    st, hdr, page = http_get(f"http://127.0.0.1:{c.hport}/ui")
    assert st == 200 and hdr["Content-Type"].startswith("text/html")
    with open(UI_SRC, "rb") as f:
        assert page == f.read(), "ui_html.c is stale: run python3 coordinator/ui/embed.py"
    st, _, _ = http_get(f"http://127.0.0.1:{c.hport}/metrics")
    assert st == 200


def test_ui_embedding_is_current():
    r = run(["python3", os.path.join(ROOT, "coordinator", "ui", "embed.py"), "--check"])
    assert r.returncode == 0, r.stderr
    with open(UI_SRC) as f:
        page = f.read()
    # self-contained: nothing loaded from elsewhere
    assert not re.search(r'<(script|link|img)[^>]+(src|href)=', page), "external asset"
    assert "http://" not in page.replace("http://host:port", "")
    assert "https://" not in page


# ---- a real Prometheus -----------------------------------------------------------

def test_prometheus_scrapes_both(obs, tmp_path):
    prom = ensure_tool("prometheus", "prometheus")
    c = obs
    p = finished(c)
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: coordinator\n    static_configs: [{{targets: ['127.0.0.1:{c.hport}']}}]\n"
        # both agents: placement may give one of them no deme at all
        "  - job_name: agent\n    static_configs: [{targets: ["
        + ", ".join(f"'127.0.0.1:{m}'" for m in c.mports) + "]}]\n")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path}/db",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        def query(q):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            st, _, body = http_get(url)
            if st != 200:
                return None
            r = json.loads(body)
            return r["data"]["result"] if r["status"] == "success" else None

        def targets_up():
            r = query("up")
            return r and len(r) == 1 + len(c.mports) and all(x["value"][1] == "1" for x in r) and r
        wait_for(targets_up, timeout=60, interval=0.5, what="prometheus: both targets up")
        r = wait_for(lambda: query('petri_population_evaluations_total{population="obs"}'),
                     timeout=30, interval=0.5, what="prometheus has the population")
        assert float(r[0]["value"][1]) == p["evaluations"]
        assert r[0]["metric"]["job"] == "coordinator"
        r = wait_for(lambda: query('sum(petri_agent_evaluations_total{job="agent"})'),
                     timeout=30, interval=0.5, what="prometheus has the agent's counters")
        assert float(r[0]["value"][1]) > 0
        r = query('petri_gossip_members{job="coordinator",state="alive"}')
        assert r and float(r[0]["value"][1]) == 3
        r = query('histogram_quantile(0.5, sum by (le) (petri_agent_evaluation_seconds_bucket{job="agent"}))')
        assert r and float(r[0]["value"][1]) > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# ---- the dashboard in headless Chromium --------------------------------------------

def chromium(tmp_path, *args, budget=8000, timeout=120):
    exe = ensure_tool("chromium", "chromium")
    prof = tmp_path / f"chrome-{time.monotonic_ns()}"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--hide-scrollbars", f"--user-data-dir={prof}",
           f"--virtual-time-budget={budget}", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r


def rendered(r):
    """The dumped DOM without the page's own script (whose strings look like markup)."""
    dom = r.stdout
    assert "<body" in dom, r.stderr[-2000:]
    return re.sub(r"<script>.*?</script>", "", dom, flags=re.S)


def attr(dom, elem_id, name):
    m = re.search(r'<[^>]*\bid="%s"[^>]*>' % re.escape(elem_id), dom)
    assert m, f"no element #{elem_id}"
    a = re.search(r'\b%s="([^"]*)"' % re.escape(name), m.group(0))
    return a.group(1) if a else None


def body_attr(dom, name):
    m = re.search(r"<body[^>]*>", dom)
    a = re.search(r'\b%s="([^"]*)"' % re.escape(name), m.group(0)) if m else None
    return a.group(1) if a else None


def test_dashboard_renders_and_matches_api(obs, tmp_path):
    c = obs
    p = finished(c)
    url = f"http://127.0.0.1:{c.hport}/ui?pop=obs"
    wait_for(lambda: c.api("GET", f"/v1/lineage/{p['best']['hash']}?depth=1")[0] == 200,
             timeout=30, what="best genome committed")
    r = chromium(tmp_path, "--dump-dom", url)
    dom = rendered(r)
    assert body_attr(dom, "data-state") == "connected", dom[:3000]
    assert body_attr(dom, "data-drawn") == "1"
    p = c.pop("obs")  # finished: stable
    row = re.search(r'<tr class="pop[^"]*" data-pop="obs">(.*?)</tr>', dom)
    assert row, "no row for the population"
    ev = re.search(r'data-k="evaluations">(\d+)<', row.group(1)).group(1)
    assert int(ev) == p["evaluations"]
    assert p["state"] in row.group(1)
    best = re.search(r'id="best-fitness">([^<]*)<', dom).group(1)
    assert float(best) == pytest.approx(p["best"]["fitness"], abs=1e-4)
    assert p["best"]["hash"][:16] in dom
    src = re.search(r'<pre id="best-source">(.*?)</pre>', dom, re.S).group(1)
    assert "f(X)" in src
    # fitness over time: points = history samples with a value; a best line
    assert int(attr(dom, "plot", "data-points")) >= 1
    assert 'data-series="best"' in dom
    # the distribution histogram shows every live member
    live = sum(p["distribution"]["counts"])
    assert int(attr(dom, "dist", "data-total")) == live
    bars = [int(x) for x in re.findall(r'<rect [^>]*data-count="(\d+)"', dom)]
    assert bars == p["distribution"]["counts"]
    # the cluster table: every member, agents with their VMs
    members = c.members()
    assert len(re.findall(r"<tr data-member=", dom)) == len(members)
    for m in members:
        if m["role"] == "agent":
            cell = re.search(r'data-member="%s">.*?data-k="vms">([^<]*)<' % m["name"], dom)
            assert cell and cell.group(1) == f'{m["meta"]["vms"]}/{m["meta"]["vms_total"]}'
    # ancestry of the best, from /v1/lineage/HASH?depth=4
    assert '<ul class="tree">' in dom and p["best"]["hash"][:12] in dom
    # a screenshot for people
    os.makedirs(OUT_DIR, exist_ok=True)
    shot = os.path.join(OUT_DIR, "ui.png")
    if os.path.exists(shot):
        os.unlink(shot)
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", url)
    assert os.path.exists(shot) and os.path.getsize(shot) > 10000, r.stderr[-2000:]


def test_dashboard_shows_unreachable(tmp_path):
    # the page reads only its own origin: serve it from a stub whose API
    # never answers (every API connection is closed unanswered)
    with open(UI_SRC, "rb") as f:
        DeadApi.page = f.read()
    DeadApi.api_calls = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DeadApi)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = chromium(tmp_path, "--dump-dom", f"http://127.0.0.1:{srv.server_port}/ui",
                     budget=4000)
    finally:
        srv.shutdown()
        srv.server_close()
    dom = rendered(r)
    assert DeadApi.api_calls > 0
    assert body_attr(dom, "data-state") == "unreachable", dom[:2000]
    assert "coordinator unreachable" in dom
    assert body_attr(dom, "data-drawn") is None


class FlakyApi(http.server.BaseHTTPRequestHandler):
    """Serves the dashboard and a tiny fixed API; the first `down` API
    requests get their connection closed without an answer (coordinator
    gone), later ones are answered (coordinator back)."""
    down = 4
    api_calls = 0
    page = b""

    def log_message(self, *a):
        pass

    def do_GET(self):
        cls = type(self)
        if self.path.startswith("/ui"):
            return self.reply(200, cls.page, "text/html")
        cls.api_calls += 1
        if cls.api_calls <= cls.down:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        hist = [{"t_ms": 1000 * i, "evaluations": 10 * i, "best": 100.0 / (i + 1),
                 "mean": 300.0 / (i + 1)} for i in range(30)]
        hist[-1].update(best=3.5, mean=9.0)  # the latest sample is the current state
        pop = {"name": "p1", "state": "running", "evaluations": 4242, "evals_per_s": 12.5,
               "best": {"hash": "ab" * 32, "fitness": 3.5, "source": "f(X) -> X."},
               "size": 10, "demes": 1, "mean_fitness": 9.0, "history": hist,
               "distribution": {"min": 3.5, "max": 20, "counts": [1, 2, 0, 0, 3, 0, 0, 0, 0, 4]},
               "demes": [{"index": 0, "size": 10}]}
        routes = {
            "/v1/members": [{"name": "a1", "role": "agent", "status": "alive", "addr": "x:1",
                             "meta": {"role": "agent", "vms": 2, "vms_total": 2, "load": 0.5}}],
            "/v1/populations": [{k: pop[k] for k in ("name", "state", "evaluations",
                                                     "evals_per_s", "best")}],
            "/v1/populations/p1": pop,
            "/v1/lineage/" + "ab" * 32 + "?depth=4": {"hash": "ab" * 32, "operator": "point",
                                                       "fitness": 3.5, "parents": []},
        }
        if self.path in routes:
            return self.reply(200, json.dumps(routes[self.path]).encode(), "application/json")
        return self.reply(404, b'{"error":"no"}', "application/json")

    def reply(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class DeadApi(FlakyApi):
    down = 1 << 30


def test_dashboard_recovers_when_the_api_comes_back(tmp_path):
    with open(UI_SRC, "rb") as f:
        FlakyApi.page = f.read()
    FlakyApi.api_calls = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyApi)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = chromium(tmp_path, "--dump-dom", f"http://127.0.0.1:{srv.server_port}/ui",
                     budget=10000)
        dom = rendered(r)
        assert FlakyApi.api_calls > FlakyApi.down, (FlakyApi.api_calls, r.stderr[-1000:])
        assert int(body_attr(dom, "data-outages") or 0) >= 1, dom[:1500]
        assert body_attr(dom, "data-state") == "connected"
        assert re.search(r'data-k="evaluations">4242<', dom)
        assert int(attr(dom, "plot", "data-points")) == 30
        assert int(attr(dom, "dist", "data-total")) == 10
    finally:
        srv.shutdown()
        srv.server_close()
