#!/usr/bin/python3
"""bench_eval.py - evaluation throughput of hot-loaded Erlang genomes through
`petri-agent eval` (its VMs: one per core by default) against the naive
single-VM loop (petri_naive: compile:forms + code:load_binary + call +
code:purge), both on the SAME genome sources in the same run.

Prints a table and one JSON line. Never fails because of a number.
Options: --genomes N (default 3000), --reps R (default 3),
--pipelines 1,2,4 (extra agent runs with [beam] pipeline overridden),
--code-path DIR (the .beam directory the agent's VMs use; default the build's).
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
AGENT = os.path.join(BUILD, "bin", "petri-agent")
EBIN = os.path.join(ROOT, "agent", "beam", "ebin")
SPEC = os.path.join(ROOT, "configs", "specs", "quadratic.json")


def expr(r, depth):
    """A random arithmetic expression over X with the spec's primitives."""
    if depth == 0 or r.random() < 0.3:
        return "X" if r.random() < 0.5 else str(r.randint(-5, 5))
    return "(%s %s %s)" % (expr(r, depth - 1), r.choice("+-*"), expr(r, depth - 1))


def make_genomes(n, out, seed=1):
    """n distinct genome files, like the ones breeding produces; returns the paths."""
    r = random.Random(seed)
    seen, paths = set(), []
    while len(paths) < n:
        e = expr(r, r.randint(2, 6))
        if e in seen:
            continue
        seen.add(e)
        p = os.path.join(out, "g%05d.erl" % len(paths))
        with open(p, "w") as f:
            f.write("-module(genome).\n-export([f/1]).\n\nf(X) ->\n    %s.\n" % e)
        paths.append(p)
    return paths


def spec_cases():
    with open(SPEC) as f:
        spec = json.load(f)
    return [(c["in"][0], c["out"]) for c in spec["fitness"]["cases"]]


def child_cpu():
    """CPU seconds (user + system) of all our waited-for children and theirs."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_naive(listfile, cases):
    """One run of petri_naive:run/2 in a fresh VM; returns (count, seconds, cpu seconds)."""
    terms = "[" + ",".join("{[%s],%s}" % (i, o) for i, o in cases) + "]"
    script = (
        '{ok, Bin} = file:read_file("%s"),'
        'Files = [binary_to_list(L) || L <- binary:split(Bin, <<"\\n">>, [global, trim_all])],'
        'Srcs = [begin {ok, B} = file:read_file(F), B end || F <- Files],'
        '{N, Us} = petri_naive:run(Srcs, %s),'
        'io:format(standard_error, "NAIVE ~b ~b~n", [N, Us]),'
        'halt().' % (listfile, terms))
    # stdout (compiler warnings printed by compile:forms/1) is discarded
    c0 = child_cpu()
    p = subprocess.run(["erl", "-noshell", "-noinput", "-pa", EBIN, "-eval", script],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    for line in p.stderr.splitlines():
        if line.startswith("NAIVE "):
            _, n, us = line.split()
            return int(n), int(us) / 1e6, child_cpu() - c0
    raise RuntimeError("naive run failed: %s" % p.stderr[-2000:])


def run_agent(paths, extra=()):
    """One `petri-agent eval` run; returns a dict of timings and statuses."""
    cmd = [AGENT, "eval", "--spec", SPEC, *extra, *paths]
    c0 = child_cpu()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamps, statuses = [], {}
    for line in p.stdout:
        stamps.append(time.monotonic())
        st = json.loads(line)["status"]
        statuses[st] = statuses.get(st, 0) + 1
    p.wait()
    t1 = time.monotonic()
    err = p.stderr.read()
    if p.returncode != 0 or len(stamps) != len(paths):
        raise RuntimeError("petri-agent eval exited %s after %d results: %s"
                           % (p.returncode, len(stamps), err[-2000:]))
    n = len(stamps)
    # Results are printed in argument order as soon as they are complete, so the
    # first line comes when the VMs are up and working.
    steady = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 and stamps[-1] > stamps[0] else 0.0
    return {"wall_s": t1 - t0, "cpu_ms": 1000 * (child_cpu() - c0) / n, "rate": n / (t1 - t0), "rate_steady": steady,
            "first_s": stamps[0] - t0, "statuses": statuses}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--genomes", type=int, default=3000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pipelines", default="1,4")
    ap.add_argument("--code-path", default=None)
    a = ap.parse_args()
    for f in (AGENT, SPEC):
        if not os.path.exists(f):
            print("bench_eval: %s is missing (run make)" % f, file=sys.stderr)
            return 1
    tmp = tempfile.mkdtemp(prefix="petri-bench-eval-")
    try:
        paths = make_genomes(a.genomes, tmp)
        listfile = os.path.join(tmp, "list.txt")
        with open(listfile, "w") as f:
            f.write("\n".join(paths) + "\n")
        cases = spec_cases()
        extra = ["-o", "beam.code_path=%s" % a.code_path] if a.code_path else []
        pipes = [int(x) for x in a.pipelines.split(",") if x.strip()]
        naive, naive_cpu, agent = [], [], []
        by_pipe = {p: [] for p in pipes}
        statuses = {}
        run_agent(paths[:50], extra)  # warm the page cache and the agent binary
        for _ in range(a.reps):
            n, s, cpu = run_naive(listfile, cases)
            naive.append(n / s)
            naive_cpu.append(1000 * cpu / n)
            r = run_agent(paths, extra)
            agent.append(r)
            for k, v in r["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
        for p in pipes:
            for _ in range(max(1, a.reps - 1)):
                by_pipe[p].append(run_agent(paths, extra + ["-o", "beam.pipeline=%d" % p]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    naive_rate = med(naive)
    rate = med(r["rate"] for r in agent)
    steady = med(r["rate_steady"] for r in agent)
    boot = med(r["first_s"] for r in agent)
    ncpu = med(naive_cpu)
    acpu = med(r["cpu_ms"] for r in agent)
    # what the ratio would be with both cores free: the naive loop uses one core,
    # the agent's VMs two (the machine is shared, so wall-clock rates vary)
    cap_ratio = 2 * ncpu / acpu if acpu else 0
    print("bench_eval: %d distinct genomes, %d cases each (%s), %d reps, medians"
          % (a.genomes, len(cases), os.path.basename(SPEC), a.reps))
    print("%-46s %12s %8s" % ("what", "genomes/s", "x naive"))
    print("%-46s %12.0f %8.2f" % ("naive loop, 1 VM (petri_naive:run/2)", naive_rate, 1.0))
    print("%-46s %12.0f %8.2f" % ("petri-agent eval, whole run (VM boot incl.)", rate,
                                  rate / naive_rate))
    print("%-46s %12.0f %8.2f" % ("petri-agent eval, first to last result", steady,
                                  steady / naive_rate))
    pipe_out = {}
    for p in pipes:
        pr = med(r["rate"] for r in by_pipe[p])
        ps = med(r["rate_steady"] for r in by_pipe[p])
        pipe_out[str(p)] = {"rate": round(pr, 1), "rate_steady": round(ps, 1)}
        print("%-46s %12.0f %8.2f" % ("  same, [beam] pipeline=%d, whole run" % p, pr,
                                      pr / naive_rate))
        print("%-46s %12.0f %8.2f" % ("  same, [beam] pipeline=%d, first to last" % p, ps,
                                      ps / naive_rate))
    print("load average at the end: " + " ".join(open("/proc/loadavg").read().split()[:3]))
    print("first result after %.0f ms (VM boot); statuses %s" % (boot * 1000, statuses))
    print("CPU per genome (user+sys, every process, VM boot included): naive %.2f ms, "
          "agent %.2f ms; on 2 free cores the agent would reach %.2f x naive"
          % (ncpu, acpu, cap_ratio))
    print("naive runs: %s genomes/s; agent runs: %s genomes/s"
          % ([round(x) for x in naive], [round(r["rate"]) for r in agent]))
    print(json.dumps({
        "bench": "eval", "loadavg": open("/proc/loadavg").read().split()[:3], "genomes": a.genomes, "cases": len(cases), "reps": a.reps,
        "naive_rate": round(naive_rate, 1), "agent_rate": round(rate, 1),
        "agent_rate_steady": round(steady, 1), "ratio": round(rate / naive_rate, 2),
        "ratio_steady": round(steady / naive_rate, 2), "boot_ms": round(boot * 1000, 1),
        "naive_cpu_ms": round(ncpu, 3), "agent_cpu_ms": round(acpu, 3),
        "ratio_cpu_2cores": round(cap_ratio, 2), "pipelines": pipe_out, "statuses": statuses, "goal_ratio": 3.0,
        "naive_runs": [round(x, 1) for x in naive],
        "agent_runs": [round(r["rate"], 1) for r in agent]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
