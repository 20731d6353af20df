#!/usr/bin/python3
"""bench_coordinator.py - what the coordinator costs.

1. Throughput: cluster evaluations per second with ONE local agent (a
   coordinator + 1 agent with 2 VMs, default gossip timings, a population
   with no target, so it never
   stops early) over a steady window (evaluations between t=5 s and t=25 s after
   the population is created), against what the same agent's VMs reach alone:
   `petri-agent eval --vms 2` over 2000 genomes the cluster evaluated in that
   window (evenly spaced over its records, fetched from the coordinator),
   measured in the same run. Goal: ratio >= 0.85.
   Wall-clock rates swing with the machine's load, so the bench also counts
   CPU: coordinator + agent + VMs (utime+stime, VMs that ended included via
   the agent's cutime/cstime) per evaluation in the window, against
   `petri-agent eval`'s CPU per genome (RUSAGE_CHILDREN, the cost of a
   1-genome run, i.e. VM boot, subtracted). Their quotient is the ratio the
   cluster reaches when the host's cores are not shared with anything else.
2. Re-issue latency: in a 2-agent cluster with compressed gossip timings, one
   agent is killed with SIGKILL mid-run; the time from membership declaring it
   dead (coordinator log coord.agent_down; GET /v1/members polled) to its
   in-flight work being re-issued (log work.agent_gone ... reclaimed=N; the
   "reissued" counter of GET /v1/status). Goal < 1 s.

Prints a table and one JSON line; never fails because of a number.
Options: --window A,B (default 5,25), --kills N (default 3), --genomes N (2000),
--size N and --demes N of the population (60 and 2), --reps N (3).
"""
import argparse
import datetime
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib as bl  # noqa: E402

AGENT_EXTRA = {}
LOGLINE = re.compile(r"^ts=(\S+) level=\w+ event=(\S+) (.*)$")


def quadratic(name, size=60, demes=2, max_evals=100000000):
    return {
        "name": name, "function": "f/1",
        "primitives": {"ops": ["+", "-", "*"], "vars": ["X"],
                       "constants": {"min": -5, "max": 5, "integer": True}},
        "fitness": {"cases": [{"in": [x], "out": x * x + 2 * x - 1} for x in range(-10, 11)]},
        "limits": {"timeout_ms": 500, "heap_words": 262144, "reductions": 1000000},
        "size": size, "demes": demes,
        "stop": {"target_fitness": None, "max_evaluations": max_evals},
    }


class Cluster:
    def __init__(self, tmp, name, agents, vms, fast):
        self.tmp = os.path.join(tmp, name)
        os.makedirs(self.tmp, exist_ok=True)
        self.key = bl.new_key()
        self.token = os.urandom(16).hex()
        self.gport, self.wport, self.hport = bl.free_port(), bl.free_port(), bl.free_port()
        self.timings = dict(bl.FAST_GOSSIP) if fast else {}
        self.n, self.vms = agents, vms
        self.coord = None
        self.agents = []

    def start(self):
        o = {"node.name": "coordinator", "node.data_dir": os.path.join(self.tmp, "coordinator"),
             "gossip.bind": "127.0.0.1:%d" % self.gport, "work.bind": "127.0.0.1:%d" % self.wport,
             "http.bind": "127.0.0.1:%d" % self.hport}
        o.update(self.timings)
        self.coord_log = os.path.join(self.tmp, "coordinator.log")
        self.coordf = open(self.coord_log, "ab")
        self.coord = subprocess.Popen(
            [bl.PETRI, "coordinator", *bl.opts(o)], stdout=self.coordf, stderr=subprocess.STDOUT,
            env=bl.clean_env(PETRI_GOSSIP_KEY=self.key, PETRI_HTTP_TOKEN=self.token))
        for i in range(self.n):
            extra = {"beam.vms": str(self.vms)}; extra.update(AGENT_EXTRA)
            extra.update(self.timings)
            d = bl.Daemon(self.tmp, "agent-%d" % (i + 1), key=self.key, extra=extra,
                          seeds="127.0.0.1:%d" % self.gport)
            self.agents.append(d.start())
        if not bl.wait_for(lambda: len(self.ready_agents()) >= self.n, 60, 0.1):
            raise RuntimeError("agents not ready; coordinator log:\n"
                               + open(self.coord_log).read()[-3000:])
        return self

    def api(self, method, path, body=None):
        return bl.http(self.hport, method, path, token=self.token, body=body)

    def members(self):
        st, m = self.api("GET", "/v1/members")
        return m if st == 200 else []

    def ready_agents(self):
        return [m for m in self.members() if m.get("role") == "agent"
                and m.get("status") == "alive" and m.get("meta", {}).get("vms", 0) > 0]

    def evaluations(self, name):
        st, p = self.api("GET", "/v1/populations/" + name)
        return p.get("evaluations") if st == 200 else None

    def stop(self):
        for a in self.agents:
            a.kill9()
        if self.coord and self.coord.poll() is None:
            self.coord.send_signal(signal.SIGTERM)
            try:
                self.coord.wait(20)
            except subprocess.TimeoutExpired:
                self.coord.kill()
                self.coord.wait()
            self.coordf.close()


def tree_ticks(pids, parent=None):
    """CPU ticks of pids, plus parent's reaped children (cutime + cstime)."""
    total = 0
    for pid in pids:
        t = bl.cpu_ticks(pid)
        total += t or 0
    if parent:
        try:
            with open("/proc/%d/stat" % parent) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            pass
    return total


def cluster_ticks(c):
    """(coordinator, agent, VMs) CPU ticks; VMs that ended count via the agent."""
    ag = c.agents[0]
    return (tree_ticks([c.coord.pid]), tree_ticks([ag.proc.pid]),
            tree_ticks(ag.vm_pids(), parent=ag.proc.pid))


def log_times(path, event):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LOGLINE.match(line.strip())
            if m and m.group(2) == event:
                ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
                out.append((ts.replace(tzinfo=datetime.timezone.utc).timestamp(), m.group(3)))
    return out


def throughput(tmp, window, ngenomes, size, demes, name="tput"):
    c = Cluster(tmp, name, 1, 2, fast=False).start()  # the default gossip timings
    try:
        st, body = c.api("POST", "/v1/populations", quadratic("bench", size=size, demes=demes))
        if st != 201:
            raise RuntimeError("population not created: %s %s" % (st, body))
        t0 = time.monotonic()
        marks = {}
        series = []
        while time.monotonic() - t0 < window[1] + 0.5:
            e = c.evaluations("bench")
            now = time.monotonic() - t0
            series.append((now, e))
            for w in window:
                if w not in marks and now >= w and e is not None:
                    marks[w] = (now, e, cluster_ticks(c))
            if len(marks) == len(window):
                break
            time.sleep(0.05)
        (ta, ea, ca), (tb, eb, cb) = marks[window[0]], marks[window[1]]
        rate = (eb - ea) / (tb - ta)
        per = [(y - x) * 1000.0 / os.sysconf("SC_CLK_TCK") / max(1, eb - ea) for x, y in zip(ca, cb)]
        cpu_ms = {"coordinator": per[0], "agent": per[1], "vms": per[2], "total": sum(per)}
        c.api("POST", "/v1/populations/bench/stop")
        # the baseline gets the genomes the cluster evaluated in the window
        # (records ea..eb, evenly spaced): genomes grow during a run, so any
        # other sample would compare different work
        st, doc = c.api("GET", "/v1/lineage/export?format=json")
        recs = doc["records"] if st == 200 else []
        mine = [r for r in recs if r.get("population") == "bench"]
        window_recs = mine[int(ea):int(eb)]
        step = max(1.0, len(window_recs) / float(ngenomes))
        hashes = []  # repeats kept: the cluster evaluates a repeated child again too
        i = 0.0
        while int(i) < len(window_recs) and len(hashes) < ngenomes:
            hashes.append(window_recs[int(i)]["child"])
            i += step
        gdir = os.path.join(tmp, "bred")
        os.makedirs(gdir, exist_ok=True)
        paths = []
        for i, h in enumerate(hashes):
            st, g = c.api("GET", "/v1/genomes/" + h)
            if st == 200:
                p = os.path.join(gdir, "b%05d.erl" % i)
                with open(p, "w") as f:
                    f.write(g["source"])
                paths.append(p)
    finally:
        c.stop()
    return rate, eb, paths, cpu_ms


def agent_alone(paths, reps=3):
    """`petri-agent eval --vms 2` over the bred genomes: whole-run and steady rates."""
    runs = []
    for _ in range(reps):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.Popen([bl.AGENT, "eval", "--spec", bl.SPEC, "--vms", "2", *paths],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=bl.clean_env())
        stamps = []
        for _line in p.stdout:
            stamps.append(time.monotonic())
        p.wait()
        t1 = time.monotonic()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        n = len(stamps)
        steady = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 and stamps[-1] > stamps[0] else 0
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        runs.append({"rate": n / (t1 - t0), "steady": steady, "n": n, "cpu_s": cpu})
    return runs


def boot_cpu(path, reps=3):
    """CPU seconds of `petri-agent eval --vms 2` over one genome: the fixed cost."""
    out = []
    for _ in range(reps):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([bl.AGENT, "eval", "--spec", bl.SPEC, "--vms", "2", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=bl.clean_env())
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return bl.median(out)


def reissue(tmp, rep):
    c = Cluster(tmp, "kill%d" % rep, 2, 1, fast=True).start()
    try:
        st, body = c.api("POST", "/v1/populations", quadratic("k", size=90, demes=4))
        if st != 201:
            raise RuntimeError("population not created: %s %s" % (st, body))
        bl.wait_for(lambda: (c.evaluations("k") or 0) > 300, 60, 0.05)
        st, s0 = c.api("GET", "/v1/status")
        re0 = s0.get("reissued", 0) if st == 200 else 0
        victim = c.agents[0]
        t_kill = time.time()
        victim.kill9()
        t_dead = t_re = None
        end = time.monotonic() + 30
        while time.monotonic() < end and (t_dead is None or t_re is None):
            if t_dead is None:
                for m in c.members():
                    if m.get("name") == victim.name and m.get("status") == "dead":
                        t_dead = time.time()
            if t_re is None:
                st, s = c.api("GET", "/v1/status")
                if st == 200 and s.get("reissued", 0) > re0:
                    t_re = time.time()
            time.sleep(0.005)
        time.sleep(0.2)
        down = [t for t, rest in log_times(c.coord_log, "coord.agent_down")
                if ("name=%s " % victim.name) in rest + " "]
        gone = [(t, rest) for t, rest in log_times(c.coord_log, "work.agent_gone")
                if ("agent=%s " % victim.name) in rest + " "]
        reclaimed = None
        if gone:
            m = re.search(r"reclaimed=(\d+)", gone[0][1])
            reclaimed = int(m.group(1)) if m else None
        return {
            "kill_to_dead_poll_s": (t_dead - t_kill) if t_dead else None,
            "kill_to_reissued_poll_s": (t_re - t_kill) if t_re else None,
            "dead_to_reissued_poll_s": (t_re - t_dead) if (t_re and t_dead) else None,
            "down_to_gone_log_s": (gone[0][0] - down[0]) if (gone and down) else None,
            "kill_to_down_log_s": (down[0] - t_kill) if down else None,
            "reclaimed": reclaimed,
        }
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", default="5,25")
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--genomes", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3, help="throughput repetitions (default 3)")
    ap.add_argument("--size", type=int, default=60, help="population size (default 60)")
    ap.add_argument("--demes", type=int, default=2, help="demes (default 2)")
    a = ap.parse_args()
    window = [float(x) for x in a.window.split(",")]
    for f in (bl.AGENT, bl.PETRI):
        if not os.path.exists(f):
            print("bench_coordinator: %s is missing (run make)" % f, file=sys.stderr)
            return 1
    med = bl.median
    reps = []
    with bl.TempDir() as tmp:
        for k in range(a.reps):
            rate, total, paths, cpu_parts = throughput(tmp, window, a.genomes, a.size, a.demes,
                                                       name="tput%d" % k)
            alone = agent_alone(paths) if paths else []
            boot = boot_cpu(paths[0]) if paths else 0.0
            steady = med([r["steady"] for r in alone])
            whole = med([r["rate"] for r in alone])
            cpu_alone = med([(r["cpu_s"] - boot) * 1000.0 / max(1, r["n"] - 1) for r in alone])
            reps.append({"cluster_rate": round(rate, 1), "alone_rate_steady": round(steady, 1),
                         "alone_rate": round(whole, 1), "evaluations": total,
                         "ratio": round(rate / steady, 3) if steady else None,
                         "ratio_whole_run": round(rate / whole, 3) if whole else None,
                         "cpu_ms_alone": round(cpu_alone, 3), "boot_cpu_s": round(boot, 3),
                         "cpu_ms_cluster": {k2: round(v, 3) for k2, v in cpu_parts.items()},
                         "cpu_ratio": round(cpu_alone / cpu_parts["total"], 3)
                         if cpu_parts["total"] else None})
        kills = [reissue(tmp, i) for i in range(a.kills)]
    ms = lambda v: round(v * 1000, 1) if v is not None else None  # noqa: E731
    print("bench_coordinator: coordinator + 1 agent (2 VMs), steady window t=%g..%g s, "
          "%d repetitions (each: a fresh cluster, then `petri-agent eval --vms 2` over 2000 "
          "genomes of its window)" % (window[0], window[1], a.reps))
    print("%4s %10s %10s %10s %7s %7s %10s %10s %7s  %s" % (
        "rep", "alone/s", "alone*/s", "cluster/s", "ratio", "ratio*", "CPUms alone",
        "CPUms clu", "CPU r", "cluster CPU ms: coord / agent / VMs"))
    for k, r in enumerate(reps):
        cc = r["cpu_ms_cluster"]
        print("%4d %10.0f %10.0f %10.0f %7.2f %7.2f %10.2f %10.2f %7.2f  %.3f / %.3f / %.3f" % (
            k + 1, r["alone_rate_steady"], r["alone_rate"], r["cluster_rate"], r["ratio"] or 0,
            r["ratio_whole_run"] or 0, r["cpu_ms_alone"], cc["total"], r["cpu_ratio"] or 0,
            cc["coordinator"], cc["agent"], cc["vms"]))
    ratio = med([r["ratio"] for r in reps if r["ratio"]])
    ratio_whole = med([r["ratio_whole_run"] for r in reps if r["ratio_whole_run"]])
    cpu_ratio = med([r["cpu_ratio"] for r in reps if r["cpu_ratio"]])
    print("median ratio: %.2f to the agent's steady rate (alone/s: first to last result), %.2f to "
          "its whole run (alone*/s, VM boot included); CPU ratio (alone CPU per genome, VM boot "
          "subtracted, / cluster CPU per evaluation) %.2f; goal 0.85"
          % (ratio or 0, ratio_whole or 0, cpu_ratio or 0))
    print("load average at the end: " + " ".join(bl.loadavg()))
    print()
    print("re-issue after an agent's death (2 agents, compressed gossip), %d kills, medians:"
          % a.kills)
    rows = [("SIGKILL -> members shows dead (poll)", "kill_to_dead_poll_s"),
            ("SIGKILL -> coord.agent_down (log)", "kill_to_down_log_s"),
            ("members dead -> reissued counter moves (poll)", "dead_to_reissued_poll_s"),
            ("coord.agent_down -> work.agent_gone (log)", "down_to_gone_log_s"),
            ("SIGKILL -> reissued counter moves (poll)", "kill_to_reissued_poll_s")]
    kout = {}
    for text, k in rows:
        v = med([r[k] for r in kills])
        kout[k] = ms(v)
        print("  %-52s %10s ms" % (text, kout[k]))
    print("  items reclaimed per kill: %s" % [r["reclaimed"] for r in kills])
    print(json.dumps({
        "bench": "coordinator", "loadavg": bl.loadavg(), "window_s": window,
        "ratio": ratio, "ratio_whole_run": ratio_whole, "cpu_ratio": cpu_ratio,
        "goal_ratio": 0.85, "reps": reps, "reissue_ms": kout, "goal_reissue_ms": 1000,
        "reclaimed": [r["reclaimed"] for r in kills],
        "kills": [{k: ms(v) if k != "reclaimed" else v for k, v in r.items()} for r in kills]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
