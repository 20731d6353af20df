#!/usr/bin/python3
"""bench_metrics.py - what observability costs.

1. Scrape time of the coordinator's /metrics with 10 populations and 1,000
   gossip members: measured by build/bench/bench_metrics (the real metrics
   code on synthetic state: 1,000 member entries, 10 x 200 individuals, a
   real store; no sockets), whose JSON line is folded in here. Goal < 50 ms.
2. On a real cluster (a coordinator and 2 agents on loopback, 10 running
   populations): the wall time of real GET /metrics scrapes (coordinator and
   agents), and evolution throughput with vs without a 1 s scrape loop of all
   three endpoints, in the same run, in phases ordered off-on, on-off,
   off-on, ... (ABBA: a linear drift, e.g. genomes growing, cancels out).
   Goal: slowdown <= 2%.

Prints a table and one JSON line. Never fails because of a number.
Options: --phase-s S (default 5), --pairs N (default 4), --agents N (2).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("PETRI_BUILD", BUILD)

from cluster import Cluster, free_port, quadratic_spec  # noqa: E402


def c_bench():
    exe = os.path.join(BUILD, "bench", "bench_metrics")
    if not os.path.exists(exe):
        return None
    r = subprocess.run([exe], capture_output=True, text=True, timeout=600)
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return None


def timed_get(url):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
    return (time.perf_counter() - t0) * 1000.0, len(body)


def total_evals(c):
    st, pops = c.api("GET", "/v1/populations", token=False)
    assert st == 200, pops
    return sum(p["evaluations"] for p in pops)


class Scraper(threading.Thread):
    """Scrapes every url once a second while `on` is set."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls = urls
        self.on = threading.Event()
        self.stop = threading.Event()
        self.times = {u: [] for u in urls}
        self.sizes = {}

    def run(self):
        while not self.stop.is_set():
            if not self.on.wait(0.1):
                continue
            t0 = time.monotonic()
            for u in self.urls:
                try:
                    ms, n = timed_get(u)
                    self.times[u].append(ms)
                    self.sizes[u] = n
                except OSError:
                    pass
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase-s", type=float, default=5.0)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--agents", type=int, default=2)
    a = ap.parse_args()

    cb = c_bench()
    tmp = tempfile.mkdtemp(prefix="petri-bench-metrics-")
    c = Cluster(tmp, agents=0)
    rows = []
    try:
        c.coord = c.coord_proc().start()
        mports = []
        for _ in range(a.agents):
            port = free_port()
            mports.append(port)
            c.add_agent(**{"metrics.bind": f"127.0.0.1:{port}", "log.level": "info"})
        c.wait_ready(a.agents, timeout=120)
        for i in range(10):
            spec = quadratic_spec(name=f"bench-{i}", size=100, demes=2,
                                  stop={"target_fitness": None, "max_evaluations": 10 ** 12})
            st, body = c.api("POST", "/v1/populations", spec)
            assert st == 201, body
        time.sleep(5)  # fill the demes: steady state before measuring
        urls = [f"http://127.0.0.1:{c.hport}/metrics"] + \
            [f"http://127.0.0.1:{p}/metrics" for p in mports]
        sc = Scraper(urls)
        sc.start()
        rates = {"off": [], "on": []}
        for i in range(a.pairs):
            for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):
                (sc.on.set if mode == "on" else sc.on.clear)()
                e0, t0 = total_evals(c), time.monotonic()
                time.sleep(a.phase_s)
                e1, t1 = total_evals(c), time.monotonic()
                rates[mode].append((e1 - e0) / (t1 - t0))
        sc.on.clear()
        sc.stop.set()
        sc.join(5)
        off, on = statistics.mean(rates["off"]), statistics.mean(rates["on"])
        slowdown = (off - on) / off * 100.0 if off > 0 else 0.0
        pair_slowdowns = [(f - n) / f * 100.0 for f, n in zip(rates["off"], rates["on"]) if f]
        coord_ms = sc.times[urls[0]]
        agent_ms = [t for u in urls[1:] for t in sc.times[u]]
        detail_ms = [timed_get(f"http://127.0.0.1:{c.hport}/v1/populations/bench-0")[0]
                     for _ in range(20)]
        ui_ms = [timed_get(f"http://127.0.0.1:{c.hport}/ui")[0] for _ in range(20)]
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    if cb:
        rows.append(("metrics body, 10 pops + 1000 members (C, goal < 50 ms)",
                     f"{cb['metrics_ms']:.3f} ms", f"{cb['metrics_bytes']} B"))
        rows.append(("  baseline: same members as /v1/members JSON",
                     f"{cb['members_json_ms']:.3f} ms", ""))
        rows.append(("population detail, 10000 members (C)", f"{cb['detail_10k_ms']:.3f} ms",
                     f"{cb['detail_10k_bytes']} B"))
    rows.append(("GET /metrics coordinator, 10 pops (real, median)",
                 f"{med(coord_ms):.2f} ms" if coord_ms else "-", f"{sc.sizes.get(urls[0], 0)} B"))
    rows.append(("GET /metrics agent (real, median)",
                 f"{med(agent_ms):.2f} ms" if agent_ms else "-",
                 f"{sc.sizes.get(urls[1], 0)} B" if len(urls) > 1 else ""))
    rows.append(("GET /v1/populations/NAME (real, median)", f"{med(detail_ms):.2f} ms", ""))
    rows.append(("GET /ui (real, median)", f"{med(ui_ms):.2f} ms", ""))
    rows.append(("evolution, no scraping (evals/s, mean of phases)", f"{off:.1f}", ""))
    rows.append(("evolution, 1 s scrape loop x3 endpoints (evals/s)", f"{on:.1f}", ""))
    rows.append(("slowdown (goal <= 2%; noise of a shared 2-core box)", f"{slowdown:.2f} %", ""))
    rows.append(("  median of per-pair slowdowns", f"{med(pair_slowdowns):.2f} %", ""))
    w = max(len(r[0]) for r in rows)
    print(f"{'case':<{w}}  {'value':>14}  {'size':>10}")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>14}  {r[2]:>10}")
    out = {"bench": "metrics", "agents": a.agents, "populations": 10, "phase_s": a.phase_s,
           "pairs": a.pairs,
           "scrape_ms_coordinator_real": round(med(coord_ms), 3) if coord_ms else None,
           "scrape_ms_agent_real": round(med(agent_ms), 3) if agent_ms else None,
           "detail_ms_real": round(med(detail_ms), 3), "ui_ms_real": round(med(ui_ms), 3),
           "evals_per_s_off": round(off, 2), "evals_per_s_on": round(on, 2),
           "phase_rates_off": [round(x, 1) for x in rates["off"]],
           "phase_rates_on": [round(x, 1) for x in rates["on"]],
           "slowdown_pct": round(slowdown, 3),
           "pair_slowdown_pct": [round(x, 2) for x in pair_slowdowns], "goal_slowdown_pct": 2}
    if cb:
        out.update({"scrape_ms_1000_members": cb["metrics_ms"],
                    "members_json_ms": cb["members_json_ms"],
                    "detail_10k_ms": cb["detail_10k_ms"], "goal_scrape_ms": 50})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
