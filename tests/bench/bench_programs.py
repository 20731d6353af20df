#!/usr/bin/python3
"""bench_programs.py - real programs through `petri-agent eval`: distinct
list-sorting genome modules (merge, insertion, quick and selection sorts, a
few wrong ones) scored on 100 term cases (lists in, sorted lists out), against
the naive single-VM loop (petri_naive:run_terms/3: compile:forms +
code:load_binary + 100 calls compared with =:= + code:purge), both on the SAME
sources and cases in the same run.

Throughput: genomes/s of the whole agent run (VM boot included) and first to
last result, against the naive loop's. Latency per genome: the agent with one
VM and one request in flight ([beam] vms=1, pipeline=1), the median gap
between consecutive results (load + evaluation + the round trip), against the
naive loop's median time per genome. Both sides must agree on the cases
passed. Prints a table and one JSON line; never fails because of a number,
but fails clearly when the VMs do not score term cases.
Options: --genomes N (default 1000), --reps R (default 3), --latency-genomes M
(default 200), --code-path DIR (the .beam directory; default the build's).
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
NCASES = 100

# Sort modules; {k} makes the helper names, and so the source, distinct.
TEMPLATES = {
    "merge": """-module(genome).
-export([sort/1]).

sort([]) -> [];
sort([X]) -> [X];
sort(L) ->
    {{A, B}} = split_{k}(L, [], []),
    merge_{k}(sort(A), sort(B)).

split_{k}([], A, B) -> {{A, B}};
split_{k}([X | T], A, B) -> split_{k}(T, B, [X | A]).

merge_{k}([], B) -> B;
merge_{k}(A, []) -> A;
merge_{k}([X | A], [Y | _] = B) when X =< Y -> [X | merge_{k}(A, B)];
merge_{k}(A, [Y | B]) -> [Y | merge_{k}(A, B)].
""",
    "insertion": """-module(genome).
-export([sort/1]).

sort(L) -> ins_all_{k}(L, []).

ins_all_{k}([], Acc) -> Acc;
ins_all_{k}([X | T], Acc) -> ins_all_{k}(T, ins_{k}(X, Acc)).

ins_{k}(X, [Y | T]) when X > Y -> [Y | ins_{k}(X, T)];
ins_{k}(X, L) -> [X | L].
""",
    "quick": """-module(genome).
-export([sort/1]).

sort([]) -> [];
sort([P | T]) ->
    {{Lo, Hi}} = part_{k}(P, T, [], []),
    sort(Lo) ++ [P | sort(Hi)].

part_{k}(_, [], Lo, Hi) -> {{Lo, Hi}};
part_{k}(P, [X | T], Lo, Hi) when X < P -> part_{k}(P, T, [X | Lo], Hi);
part_{k}(P, [X | T], Lo, Hi) -> part_{k}(P, T, Lo, [X | Hi]).
""",
    "selection": """-module(genome).
-export([sort/1]).

sort([]) -> [];
sort(L) ->
    M = min_{k}(L),
    [M | sort(del_{k}(M, L))].

min_{k}([X]) -> X;
min_{k}([X | T]) ->
    M = min_{k}(T),
    if X < M -> X; true -> M end.

del_{k}(X, [X | T]) -> T;
del_{k}(X, [Y | T]) -> [Y | del_{k}(X, T)].
""",
    # wrong: one bubble pass (passes only the lists it happens to sort)
    "bubble_once": """-module(genome).
-export([sort/1]).

sort(L) -> pass_{k}(L).

pass_{k}([A, B | T]) when A > B -> [B | pass_{k}([A | T])];
pass_{k}([A | T]) -> [A | pass_{k}(T)];
pass_{k}([]) -> [].
""",
}
MIX = ["merge", "insertion", "quick", "selection", "merge", "insertion", "quick",
       "selection", "bubble_once"]


def make_cases(seed=7):
    r = random.Random(seed)
    cases = [[], [1], [2, 1], [5, 5, 5]]
    while len(cases) < NCASES:
        cases.append([r.randint(-1000, 1000) for _ in range(r.randint(0, 30))])
    return cases


def make_genomes(n, out):
    """n distinct genome files; returns the paths."""
    paths = []
    for i in range(n):
        kind = MIX[i % len(MIX)]
        p = os.path.join(out, "g%05d_%s.erl" % (i, kind))
        with open(p, "w") as f:
            f.write(TEMPLATES[kind].format(k=i))
        paths.append(p)
    return paths


def write_spec(cases, out):
    spec = {"function": "sort/1", "language": "erlang",
            "fitness": {"cases": [{"in": [c], "out": sorted(c)} for c in cases]},
            "limits": {"timeout_ms": 2000, "heap_words": 1048576, "reductions": 20000000}}
    p = os.path.join(out, "sort100.json")
    with open(p, "w") as f:
        json.dump(spec, f)
    return p


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_naive(listfile, cases):
    """petri_naive:run_terms/3 in a fresh VM: (count, seconds, per-genome us, passed, cpu s)."""
    terms = "[" + ",".join("{[[%s]],[%s]}" % (",".join(map(str, c)), ",".join(map(str, sorted(c))))
                           for c in cases) + "]"
    script = (
        '{ok, Bin} = file:read_file("%s"),'
        'Files = [binary_to_list(L) || L <- binary:split(Bin, <<"\\n">>, [global, trim_all])],'
        'Srcs = [begin {ok, B} = file:read_file(F), B end || F <- Files],'
        '{N, Us, Ts, P} = petri_naive:run_terms(Srcs, %s, sort),'
        'io:format(standard_error, "NAIVE ~b ~b ~b ~w~n", [N, Us, P, Ts]),'
        'halt().' % (listfile, terms))
    c0 = child_cpu()
    p = subprocess.run(["erl", "-noshell", "-noinput", "-pa", EBIN, "-eval", script],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
    for line in p.stderr.splitlines():
        if line.startswith("NAIVE "):
            _, n, us, passed, ts = line.split(" ", 4)
            return int(n), int(us) / 1e6, json.loads(ts), int(passed), child_cpu() - c0
    raise RuntimeError("naive run failed (is petri_naive:run_terms/3 built? make beam): %s"
                       % p.stderr[-2000:])


def run_agent(spec, paths, extra=()):
    """One `petri-agent eval` run: timings, statuses and cases passed."""
    cmd = [AGENT, "eval", "--spec", spec, *extra, *paths]
    c0 = child_cpu()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stamps, statuses, passed, eval_us = [], {}, 0, []
    for line in p.stdout:
        stamps.append(time.monotonic())
        o = json.loads(line)
        statuses[o["status"]] = statuses.get(o["status"], 0) + 1
        passed += o.get("passed", 0)
        if "eval_us" in o.get("metrics", {}):
            eval_us.append(o["metrics"]["eval_us"])
    p.wait()
    t1 = time.monotonic()
    err = p.stderr.read()
    if p.returncode != 0 or len(stamps) != len(paths):
        raise RuntimeError("petri-agent eval exited %s after %d results: %s"
                           % (p.returncode, len(stamps), err[-2000:]))
    n = len(stamps)
    steady = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 and stamps[-1] > stamps[0] else 0.0
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return {"wall_s": t1 - t0, "cpu_ms": 1000 * (child_cpu() - c0) / n, "rate": n / (t1 - t0),
            "rate_steady": steady, "first_s": stamps[0] - t0, "statuses": statuses,
            "passed": passed, "gaps": gaps, "eval_us": eval_us}


def probe(spec, tmp, extra):
    """Fails clearly unless the VMs score term cases (wire.h term_cases, RESULT_EXT)."""
    p = os.path.join(tmp, "probe.erl")
    with open(p, "w") as f:
        f.write(TEMPLATES["merge"].format(k="probe"))
    r = subprocess.run([AGENT, "eval", "--spec", spec, *extra, p], capture_output=True,
                       text=True, timeout=120)
    line = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout else {}
    if line.get("status") != "ok" or line.get("cases") != NCASES or line.get("passed") != NCASES:
        print("bench_programs: the VMs do not score term cases: a merge sort on %d list cases "
              "gave %s (want status ok, passed = cases = %d). The beam app needs the term-case "
              "side of the SPEC contract (shared/wire.h: term_cases, RESULT_EXT)."
              % (NCASES, line or r.stderr.strip()[-500:], NCASES), file=sys.stderr)
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--genomes", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--latency-genomes", type=int, default=200)
    ap.add_argument("--code-path", default=None)
    a = ap.parse_args()
    if not os.path.exists(AGENT):
        print("bench_programs: %s is missing (run make)" % AGENT, file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="petri-bench-programs-")
    try:
        cases = make_cases()
        spec = write_spec(cases, tmp)
        extra = ["-o", "beam.code_path=%s" % a.code_path] if a.code_path else []
        if not probe(spec, tmp, extra):
            return 1
        paths = make_genomes(a.genomes, tmp)
        listfile = os.path.join(tmp, "list.txt")
        with open(listfile, "w") as f:
            f.write("\n".join(paths) + "\n")
        lat_paths = paths[:a.latency_genomes]
        lat_list = os.path.join(tmp, "lat.txt")
        with open(lat_list, "w") as f:
            f.write("\n".join(lat_paths) + "\n")
        serial = extra + ["--vms", "1", "-o", "beam.pipeline=1"]
        naive, naive_cpu, naive_lat, agent, agent_lat = [], [], [], [], []
        naive_passed = agent_passed = None
        run_agent(spec, paths[:50], extra)  # warm the page cache and the agent binary
        for _ in range(a.reps):
            n, s, ts, passed, cpu = run_naive(listfile, cases)
            naive.append(n / s)
            naive_cpu.append(1000 * cpu / n)
            naive_passed = passed
            r = run_agent(spec, paths, extra)
            agent.append(r)
            agent_passed = r["passed"]
            _, _, lts, _, _ = run_naive(lat_list, cases)
            naive_lat.append(statistics.median(lts) / 1000)
            lr = run_agent(spec, lat_paths, serial)
            agent_lat.append(lr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = statistics.median
    naive_rate = med(naive)
    rate = med(r["rate"] for r in agent)
    steady = med(r["rate_steady"] for r in agent)
    boot = med(r["first_s"] for r in agent)
    ncpu = med(naive_cpu)
    acpu = med(r["cpu_ms"] for r in agent)
    nlat = med(naive_lat)
    alat = med(1000 * med(r["gaps"]) for r in agent_lat)
    alat_p90 = med(1000 * sorted(r["gaps"])[int(0.9 * (len(r["gaps"]) - 1))] for r in agent_lat)
    aeval = med(med(r["eval_us"]) / 1000 for r in agent_lat if r["eval_us"]) if any(
        r["eval_us"] for r in agent_lat) else 0.0
    statuses = {}
    for r in agent:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    agree = naive_passed == agent_passed
    print("bench_programs: %d distinct sort modules (%s), %d list cases each, %d reps, medians"
          % (a.genomes, "/".join(sorted(set(MIX))), NCASES, a.reps))
    print("%-50s %12s %8s" % ("throughput", "genomes/s", "x naive"))
    print("%-50s %12.0f %8.2f" % ("naive loop, 1 VM (petri_naive:run_terms/3)", naive_rate, 1.0))
    print("%-50s %12.0f %8.2f" % ("petri-agent eval, whole run (VM boot incl.)", rate,
                                  rate / naive_rate))
    print("%-50s %12.0f %8.2f" % ("petri-agent eval, first to last result", steady,
                                  steady / naive_rate))
    print("%-50s %12s %8s" % ("latency per genome (%d genomes)" % len(lat_paths), "ms",
                              "x naive"))
    print("%-50s %12.2f %8.2f" % ("naive loop, median per genome", nlat, 1.0))
    print("%-50s %12.2f %8.2f" % ("agent, 1 VM, pipeline 1: median result gap", alat,
                                  alat / nlat if nlat else 0))
    print("%-50s %12.2f %8s" % ("  same, 90th percentile", alat_p90, ""))
    print("%-50s %12.2f %8s" % ("  of which evaluation (metrics.eval_us, median)", aeval, ""))
    print("cases passed over all genomes: naive %s, agent %s (%s)"
          % (naive_passed, agent_passed, "agree" if agree else "DISAGREE"))
    print("first result after %.0f ms (VM boot); statuses %s" % (boot * 1000, statuses))
    print("CPU per genome (user+sys, every process, VM boot included): naive %.2f ms, agent %.2f ms"
          % (ncpu, acpu))
    print("load average at the end: " + " ".join(open("/proc/loadavg").read().split()[:3]))
    print(json.dumps({
        "bench": "programs", "loadavg": open("/proc/loadavg").read().split()[:3],
        "genomes": a.genomes, "cases": NCASES, "reps": a.reps,
        "naive_rate": round(naive_rate, 1), "agent_rate": round(rate, 1),
        "agent_rate_steady": round(steady, 1), "ratio": round(rate / naive_rate, 2),
        "ratio_steady": round(steady / naive_rate, 2),
        "naive_latency_ms": round(nlat, 3), "agent_latency_ms": round(alat, 3),
        "agent_latency_p90_ms": round(alat_p90, 3), "agent_eval_ms": round(aeval, 3),
        "latency_ratio": round(alat / nlat, 2) if nlat else None,
        "boot_ms": round(boot * 1000, 1), "naive_cpu_ms": round(ncpu, 3),
        "agent_cpu_ms": round(acpu, 3), "passed_naive": naive_passed,
        "passed_agent": agent_passed, "passed_agree": agree, "statuses": statuses,
        "naive_runs": [round(x, 1) for x in naive],
        "agent_runs": [round(r["rate"], 1) for r in agent]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
