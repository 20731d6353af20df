#!/usr/bin/python3
"""bench_metrics.py - what observability costs.

1. Scrape time of the coordinator's /metrics with 10 populations and 1,000
   gossip members: measured by build/bench/bench_metrics (the real metrics
   code on synthetic state: 1,000 member entries, 10 x 200 individuals, a
   real store; no sockets), whose JSON line is folded in here. Goal < 50 ms.
2. On a real cluster (a coordinator and 2 agents on loopback, 10 running
   populations of 100, 1,000 individuals in all), goal: a 1 s scrape loop of
   the three /metrics endpoints slows evolution by <= 2%. Two measures:
   a. Direct A/B: many short phases without (A) and with (B) the scrape loop,
      ordered AB BA AB BA ... (a linear drift cancels), evals/s per phase from
      the coordinator's counters. Per pair the ratio B/A; reported: the median
      ratio, a bootstrap 95% interval of that median, min/max, and the same
      statistic over adjacent phases of the SAME mode (A/A, B/B: the noise
      floor of this machine, measured in the same run).
   b. CPU accounting, independent of that noise: the CPU (all threads, ns, from
      the per-process CPU clock) each daemon spends per scrape it serves, from
      bursts of N scrapes minus the daemon's CPU rate in the windows around the
      burst; once with evolution running, once after stopping every population
      (idle daemons: the clean figure). Against the cluster's CPU per second of
      evolution (coordinator + agents + VMs, from the A phases) this gives
      "scrape loop = X ms CPU per second = Y% of the cluster's CPU", and the
      share of the coordinator's event loop it takes (X_coord / 1000 ms): the
      two ways a scrape can slow evolution (CPU taken from the VMs, or the
      coordinator's loop busy when a result arrives), so their larger bounds
      the slowdown.

Prints the load average, a table and one JSON line. Never fails because of a
number. Options: --phase-s S (2), --pairs N (18), --burst N (300), --reps N (3),
--agents N (2). Defaults take about 2.5 minutes.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
sys.path.insert(0, os.path.join(HERE, "lib"))

from benchlib import (CLK_TCK, FAST_GOSSIP, PETRI, SPEC, Daemon, clean_env,  # noqa: E402
                      free_port, loadavg, new_key, opts, wait_for)
from benchlib import http as api  # noqa: E402

med = statistics.median


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


# ---- CPU of processes, in ns ------------------------------------------------------

def cpu_ns(pid):
    """CPU time of a whole process (every thread, live and exited), in ns, from
    its CPU clock (clock_getcpuclockid(pid) = (~pid << 3) | CPUCLOCK_SCHED);
    /proc ticks when that clock is refused. None if the process is gone."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2)
    except OSError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def descendants(root):
    """root and every process below it (the agents' VMs)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def sample(pids):
    return {p: v for p in pids for v in [cpu_ns(p)] if v is not None}


def delta_ms(before, after):
    """CPU spent between two samples; a process born in between counts from 0,
    one that died in between is lost (the VMs are long-lived)."""
    return sum(v - before.get(p, 0) for p, v in after.items()) / 1e6


# ---- statistics -----------------------------------------------------------------

def boot_median_ci(xs, n=4000, seed=1):
    """Percentile bootstrap 95% interval of the median of xs."""
    if len(xs) < 2:
        return (xs[0], xs[0]) if xs else (None, None)
    rnd = random.Random(seed)
    ms = sorted(med(rnd.choices(xs, k=len(xs))) for _ in range(n))
    return ms[int(0.025 * n)], ms[int(0.975 * n) - 1]


# ---- the measurements --------------------------------------------------------------

class Cluster:
    """A coordinator and `agents` agents (1 VM each, /metrics on a free port)
    on loopback, with a fresh cluster key and API token."""

    def __init__(self, tmp, agents):
        key, self.token = new_key(), os.urandom(16).hex()
        gport, wport, self.hport = free_port(), free_port(), free_port()
        o = {"node.name": "coordinator", "node.data_dir": os.path.join(tmp, "coordinator"),
             "gossip.bind": f"127.0.0.1:{gport}", "work.bind": f"127.0.0.1:{wport}",
             "http.bind": f"127.0.0.1:{self.hport}", "log.level": "info", **FAST_GOSSIP}
        self.logf = open(os.path.join(tmp, "coordinator.log"), "ab")
        self.coord = subprocess.Popen([PETRI, "coordinator", *opts(o)], stdout=self.logf,
                                      stderr=subprocess.STDOUT,
                                      env=clean_env(PETRI_GOSSIP_KEY=key,
                                                    PETRI_HTTP_TOKEN=self.token))
        self.mports = [free_port() for _ in range(agents)]
        self.agents = [Daemon(tmp, f"agent-{i + 1}", key=key, seeds=f"127.0.0.1:{gport}",
                              extra={"beam.vms": "1", "log.level": "info",
                                     "metrics.bind": f"127.0.0.1:{port}", **FAST_GOSSIP}).start()
                       for i, port in enumerate(self.mports)]

        def ready():
            st, ms = self.api("GET", "/v1/members")
            return st == 200 and sum(m["role"] == "agent" and m["status"] == "alive" and
                                     m["meta"].get("vms", 0) > 0 for m in ms) >= agents
        if not wait_for(ready, 120, 0.2):
            self.stop()
            raise RuntimeError("the agents never became ready; see " + tmp)

    def api(self, method, path, body=None):
        return api(self.hport, method, path, self.token, body)

    def stop(self):
        for d in self.agents:
            d.kill9()
        if self.coord.poll() is None:
            self.coord.kill()
            self.coord.wait()
        self.logf.close()


def pop_spec(name):
    with open(SPEC) as f:
        s = json.load(f)
    s.update(name=name, size=100, demes=2,
             stop={"target_fitness": None, "max_evaluations": 10 ** 12})
    return s


def total_evals(c):
    st, pops = c.api("GET", "/v1/populations")
    assert st == 200, pops
    return sum(p["evaluations"] for p in pops)


def ab_phases(c, urls, trees, phase_s, pairs):
    """Phases ordered AB BA AB BA ...; returns per-phase records."""
    order = []
    for i in range(pairs):
        order += ["off", "on"] if i % 2 == 0 else ["on", "off"]
    phases = []
    cpu0 = time.process_time()
    nscr = 0
    for mode in order:
        pids = [p for t in trees for p in descendants(t)]
        s0, e0, t0 = sample(pids), total_evals(c), time.monotonic()
        c0 = sample([trees[0]])
        scrapes, end = 0, t0 + phase_s
        if mode == "on":
            tick = t0
            while tick < end:
                for u in urls:
                    try:
                        timed_get(u)
                        scrapes += 1
                    except OSError:
                        pass
                tick += 1.0
                time.sleep(max(0.0, min(tick, end) - time.monotonic()))
        else:
            time.sleep(phase_s)
        e1, t1 = total_evals(c), time.monotonic()
        s1, c1 = sample(pids), sample([trees[0]])
        nscr += scrapes
        phases.append({"mode": mode, "rate": (e1 - e0) / (t1 - t0), "wall": t1 - t0,
                       "cluster_ms_per_s": delta_ms(s0, s1) / (t1 - t0),
                       "coord_ms_per_s": delta_ms(c0, c1) / (t1 - t0), "scrapes": scrapes})
    client_ms = (time.process_time() - cpu0) * 1000.0
    return phases, nscr, client_ms


def burst_cost(url, pids, n, idle_s):
    """CPU (ms) that `pids` spend per scrape of url: a burst of n scrapes minus
    the CPU rate of the idle windows before and after it."""
    s0, t0 = sample(pids), time.monotonic()
    time.sleep(idle_s)
    s1, t1 = sample(pids), time.monotonic()
    for _ in range(n):
        timed_get(url)
    s2, t2 = sample(pids), time.monotonic()
    time.sleep(idle_s)
    s3, t3 = sample(pids), time.monotonic()
    idle_rate = (delta_ms(s0, s1) + delta_ms(s2, s3)) / ((t1 - t0) + (t3 - t2))
    burst = delta_ms(s1, s2)
    return (burst - idle_rate * (t2 - t1)) / n, idle_rate, (t2 - t1) * 1000.0 / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase-s", type=float, default=2.0)
    ap.add_argument("--pairs", type=int, default=18)
    ap.add_argument("--burst", type=int, default=300)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--agents", type=int, default=2)
    a = ap.parse_args()

    la0 = loadavg()
    t_start = time.monotonic()
    cb = c_bench()
    tmp = tempfile.mkdtemp(prefix="petri-bench-metrics-")
    c = None
    try:
        c = Cluster(tmp, a.agents)
        for i in range(10):
            st, body = c.api("POST", "/v1/populations", pop_spec(f"bench-{i}"))
            assert st == 201, body
        time.sleep(5)  # fill the demes: steady state before measuring
        urls = [f"http://127.0.0.1:{c.hport}/metrics"] + \
            [f"http://127.0.0.1:{p}/metrics" for p in c.mports]
        trees = [c.coord.pid] + [d.proc.pid for d in c.agents]
        sizes = {u: timed_get(u)[1] for u in urls}

        # a. direct A/B
        phases, nscr, client_ms = ab_phases(c, urls, trees, a.phase_s, a.pairs)

        # b. CPU per scrape, evolution running: the serving daemon alone
        run_cost = {u: [] for u in urls}
        scrape_ms = {u: [] for u in urls}
        for _ in range(a.reps):
            for u, pid in zip(urls, trees):
                cost, _, wall = burst_cost(u, [pid], a.burst, 0.8)
                run_cost[u].append(cost)
                scrape_ms[u].append(wall)
        detail_ms = [timed_get(f"http://127.0.0.1:{c.hport}/v1/populations/bench-0")[0]
                     for _ in range(20)]
        ui_ms = [timed_get(f"http://127.0.0.1:{c.hport}/ui")[0] for _ in range(20)]

        # ... and with every population stopped: the whole cluster, idle
        for i in range(10):
            c.api("POST", f"/v1/populations/bench-{i}/stop")
        time.sleep(1.5)
        allpids = [p for t in trees for p in descendants(t)]
        idle_cost = {u: [] for u in urls}
        idle_rates = []
        for _ in range(a.reps):
            for u in urls:
                cost, rate, _ = burst_cost(u, allpids, a.burst, 0.4)
                idle_cost[u].append(cost)
                idle_rates.append(rate)
        sizes_stopped = {u: timed_get(u)[1] for u in urls}
    finally:
        if c:
            c.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    la1 = loadavg()

    # ---- figures ----
    for p in phases:  # evaluations per second of cluster CPU: load on the machine cancels
        p["eff"] = p["rate"] / p["cluster_ms_per_s"] * 1000.0 if p["cluster_ms_per_s"] else 0

    def ratios(key):
        pair, same = [], []
        for i in range(0, len(phases), 2):
            x, y = phases[i], phases[i + 1]
            off, on = (x, y) if x["mode"] == "off" else (y, x)
            if off[key] > 0:
                pair.append(on[key] / off[key])
        for i in range(1, len(phases) - 1, 2):  # i, i+1 straddle two pairs: same mode
            x, y = phases[i], phases[i + 1]
            if x["mode"] == y["mode"] and x[key] > 0:
                same.append(y[key] / x[key])
        return pair, same
    pair_ratios, same_ratios = ratios("rate")
    eff_ratios, eff_same = ratios("eff")
    e_med = med(eff_ratios)
    e_lo, e_hi = boot_median_ci(eff_ratios)
    eff_dev = [abs(r - 1) for r in eff_same]
    r_med = med(pair_ratios)
    r_lo, r_hi = boot_median_ci(pair_ratios)
    same_dev = [abs(r - 1) for r in same_ratios]
    offs = [p for p in phases if p["mode"] == "off"]
    ons = [p for p in phases if p["mode"] == "on"]
    rate_off, rate_on = med([p["rate"] for p in offs]), med([p["rate"] for p in ons])
    cluster_cpu = med([p["cluster_ms_per_s"] for p in offs])
    coord_cpu_off = med([p["coord_ms_per_s"] for p in offs])
    coord_cpu_on = med([p["coord_ms_per_s"] for p in ons])
    per_s_scrapes = nscr / (len(ons) * a.phase_s) if ons else 0
    cost_idle = {u: med(v) for u, v in idle_cost.items()}
    cost_run = {u: med(v) for u, v in run_cost.items()}
    loop_idle = sum(cost_idle.values())  # ms of CPU per second of the 1 s loop
    loop_run = sum(cost_run.values())
    loop_hi = max(loop_idle, loop_run)
    share_cluster = loop_hi / cluster_cpu * 100.0 if cluster_cpu > 0 else None
    share_coord = max(cost_idle[urls[0]], cost_run[urls[0]]) / 1000.0 * 100.0
    client_per_scrape = client_ms / nscr if nscr else None

    print(f"load average before: {' '.join(la0)}   after: {' '.join(la1)}   "
          f"(2 cores; {time.monotonic() - t_start:.0f} s)")
    rows = []
    if cb:
        rows.append(("metrics body, 10 pops + 1000 members (C, goal < 50 ms)",
                     f"{cb['metrics_ms']:.3f} ms", f"{cb['metrics_bytes']} B"))
        rows.append(("  baseline: same members as /v1/members JSON",
                     f"{cb['members_json_ms']:.3f} ms", ""))
        rows.append(("population detail, 10000 members (C)", f"{cb['detail_10k_ms']:.3f} ms",
                     f"{cb['detail_10k_bytes']} B"))
    rows.append(("GET /metrics coordinator, 10 pops, real (median wall)",
                 f"{med(scrape_ms[urls[0]]):.2f} ms", f"{sizes[urls[0]]} B"))
    for u in urls[1:]:
        rows.append((f"GET /metrics agent, real (median wall)", f"{med(scrape_ms[u]):.2f} ms",
                     f"{sizes[u]} B"))
    rows.append(("GET /v1/populations/NAME, real (median)", f"{med(detail_ms):.2f} ms", ""))
    rows.append(("GET /ui, real (median)", f"{med(ui_ms):.2f} ms", ""))
    rows.append((f"a. evals/s without scraping (median of {len(offs)} x {a.phase_s:g} s)",
                 f"{rate_off:.1f}", ""))
    rows.append((f"   evals/s with the 1 s scrape loop ({per_s_scrapes:.1f} scrapes/s)",
                 f"{rate_on:.1f}", ""))
    rows.append((f"   ratio with/without, median of {len(pair_ratios)} pairs",
                 f"{r_med:.4f}", ""))
    rows.append(("   bootstrap 95% interval of that median", f"{r_lo:.3f}..{r_hi:.3f}", ""))
    rows.append(("   min..max of the pair ratios",
                 f"{min(pair_ratios):.3f}..{max(pair_ratios):.3f}", ""))
    rows.append((f"   noise floor: same-mode neighbours, median |r-1| ({len(same_ratios)})",
                 f"{med(same_dev) * 100:.2f} %" if same_dev else "-", ""))
    rows.append(("   evals per cluster CPU-second without / with scraping",
                 f"{med([p['eff'] for p in offs]):.1f} / {med([p['eff'] for p in ons]):.1f}", ""))
    rows.append((f"   ratio of that with/without, median of {len(eff_ratios)} pairs",
                 f"{e_med:.4f}", ""))
    rows.append(("   bootstrap 95% interval of that median", f"{e_lo:.3f}..{e_hi:.3f}", ""))
    rows.append(("   noise floor: same-mode neighbours, median |r-1|",
                 f"{med(eff_dev) * 100:.2f} %" if eff_dev else "-", ""))
    rows.append(("b. CPU per scrape, populations stopped, every process: coordinator's",
                 f"{cost_idle[urls[0]]:.3f} ms", ""))
    for u in urls[1:]:
        rows.append(("   CPU per scrape, populations stopped, every process: an agent's",
                     f"{cost_idle[u]:.3f} ms", ""))
    rows.append(("   CPU per scrape, evolution running: the coordinator",
                 f"{cost_run[urls[0]]:.3f} ms", ""))
    for u in urls[1:]:
        rows.append(("   CPU per scrape, evolution running: an agent daemon",
                     f"{cost_run[u]:.3f} ms", ""))
    rows.append(("   1 s scrape loop: CPU per second (stopped / running figures)",
                 f"{loop_idle:.2f} / {loop_run:.2f} ms", ""))
    rows.append(("   cluster CPU per second of evolution (A phases)", f"{cluster_cpu:.0f} ms", ""))
    rows.append(("   of which the coordinator (A / B phases)",
                 f"{coord_cpu_off:.0f} / {coord_cpu_on:.0f} ms", ""))
    rows.append(("   bound 1: loop CPU / cluster CPU", f"{share_cluster:.3f} %", ""))
    rows.append(("   bound 2: coordinator loop busy serving scrapes", f"{share_coord:.3f} %", ""))
    rows.append(("   (client side, not counted: bench CPU per scrape)",
                 f"{client_per_scrape:.2f} ms" if client_per_scrape else "-", ""))
    w = max(len(r[0]) for r in rows)
    print(f"{'case':<{w}}  {'value':>16}  {'size':>10}")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>16}  {r[2]:>10}")

    rnd = lambda x, n=4: round(x, n) if x is not None else None  # noqa: E731
    out = {"bench": "metrics", "agents": a.agents, "populations": 10, "individuals": 1000,
           "phase_s": a.phase_s, "pairs": a.pairs, "burst": a.burst, "loadavg": la0 + la1,
           "scrape_ms_coordinator_real": rnd(med(scrape_ms[urls[0]]), 3),
           "scrape_ms_agent_real": rnd(med([x for u in urls[1:] for x in scrape_ms[u]]), 3),
           "metrics_bytes_coordinator": sizes[urls[0]],
           "metrics_bytes_coordinator_stopped": sizes_stopped[urls[0]],
           "detail_ms_real": rnd(med(detail_ms), 3), "ui_ms_real": rnd(med(ui_ms), 3),
           "evals_per_s_off": rnd(rate_off, 1), "evals_per_s_on": rnd(rate_on, 1),
           "ratio_on_off_median": rnd(r_med), "ratio_ci95": [rnd(r_lo), rnd(r_hi)],
           "ratio_min_max": [rnd(min(pair_ratios)), rnd(max(pair_ratios))],
           "pair_ratios": [rnd(x, 3) for x in pair_ratios],
           "same_mode_ratios": [rnd(x, 3) for x in same_ratios],
           "slowdown_pct_median": rnd((1 - r_med) * 100, 2),
           "evals_per_cpu_s_ratio_median": rnd(e_med), "evals_per_cpu_s_ratio_ci95":
           [rnd(e_lo), rnd(e_hi)], "evals_per_cpu_s_pair_ratios": [rnd(x, 3) for x in eff_ratios],
           "evals_per_cpu_s_same_mode_ratios": [rnd(x, 3) for x in eff_same],
           "cpu_ms_per_scrape_idle": [rnd(cost_idle[u]) for u in urls],
           "cpu_ms_per_scrape_running": [rnd(cost_run[u]) for u in urls],
           "idle_cluster_cpu_ms_per_s": rnd(med(idle_rates), 2),
           "scrape_loop_cpu_ms_per_s": [rnd(loop_idle, 3), rnd(loop_run, 3)],
           "cluster_cpu_ms_per_s": rnd(cluster_cpu, 1),
           "coordinator_cpu_ms_per_s_off_on": [rnd(coord_cpu_off, 1), rnd(coord_cpu_on, 1)],
           "bound_pct_of_cluster_cpu": rnd(share_cluster), "bound_pct_coordinator_loop":
           rnd(share_coord), "client_cpu_ms_per_scrape": rnd(client_per_scrape, 3),
           "goal_slowdown_pct": 2}
    if cb:
        out.update({"scrape_ms_1000_members": cb["metrics_ms"],
                    "members_json_ms": cb["members_json_ms"],
                    "detail_10k_ms": cb["detail_10k_ms"], "goal_scrape_ms": 50})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
