#!/usr/bin/python3
"""bench_steps.py - how far a solution is from a parent, one operator step at
a time: for each parent genome and each operator, `petri-agent breed --count
N --score` derives N children (seeds 1..N) and scores them on the problem's
training cases in the VMs, the way a run would. The table gives, per parent
and operator, the children made, how many solve the training set (error 0),
how many beat the parent (lower error), and the median error of those scored.

Baseline, measured in the same run: the parent itself, scored by `petri-agent
eval` on the same spec. A parent from which no operator reaches a better
child at a useful rate is a step a run has to take by luck; the rates say
which operator could carry a run over it.

Default: last-index-of-zero (configs/specs/psb/) with the stepping stones in
tests/bench/psb/steps/last-index-of-zero/ (a partial answer right on the
lists ending in 0, indexof(0, V), indexof(0, lists:reverse(V)), and the
answer off by one), operators wrap, subtree, point, call_swap and hoist, 400
children each (a minute or two on two cores). Prints a table and one JSON
line; never fails because of a number.
Options: --problem NAME, --parents FILE..., --ops a,b,c, --children N,
--vms N, --donor FILE (the second parent of two-parent operators).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
AGENT = os.path.join(BUILD, "bin", "petri-agent")
TWO_PARENTS = {"crossover", "clause_xover"}


def scored_parent(spec, path, vms):
    r = subprocess.run([AGENT, "eval", "--spec", spec, "--vms", "1", path],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit("bench_steps: petri-agent eval %s failed: %s" % (path, r.stderr[-500:]))
    d = json.loads(r.stdout.splitlines()[0])
    if d.get("status") != "ok":
        sys.exit("bench_steps: parent %s does not score: %s %s" % (path, d.get("status"),
                                                                   d.get("detail")))
    return d["fitness"], d.get("passed", 0)


def children(spec, op, parents, n, vms):
    cmd = [AGENT, "breed", "--spec", spec, "--op", op, "--seed", "1", "--count", str(n),
           "--score", "--vms", str(vms)] + parents
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        sys.exit("bench_steps: %s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                      r.stderr[-500:]))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problem", default="last-index-of-zero")
    ap.add_argument("--parents", nargs="*", help="parent genome files (default: the problem's "
                    "stepping stones in tests/bench/psb/steps/PROBLEM/)")
    ap.add_argument("--ops", default="wrap,subtree,point,call_swap,hoist")
    ap.add_argument("--children", type=int, default=400)
    ap.add_argument("--vms", type=int, default=2)
    ap.add_argument("--donor", help="second parent of the two-parent operators")
    a = ap.parse_args()
    if a.children < 1 or a.vms < 1:
        sys.exit("bench_steps: --children and --vms must be at least 1")
    spec = os.path.join(ROOT, "configs", "specs", "psb", a.problem + ".json")
    if not os.path.exists(spec):
        sys.exit("bench_steps: no spec %s (tests/bench/psb/gen.py writes them)" % spec)
    parents = a.parents or sorted(glob.glob(os.path.join(HERE, "psb", "steps", a.problem,
                                                          "*.erl")))
    if not parents:
        sys.exit("bench_steps: no parents given and none in tests/bench/psb/steps/%s/"
                 % a.problem)
    ops = [o for o in a.ops.split(",") if o]
    if any(o in TWO_PARENTS for o in ops) and not a.donor:
        sys.exit("bench_steps: %s need --donor FILE" % ",".join(o for o in ops if o in TWO_PARENTS))
    t0 = time.monotonic()
    rows = []
    for p in parents:
        pfit, ppassed = scored_parent(spec, p, a.vms)
        for op in ops:
            ps = [p, a.donor] if op in TWO_PARENTS else [p]
            kids = children(spec, op, ps, a.children, a.vms)
            fits = [k["fitness"] for k in kids if k.get("bred") and "fitness" in k]
            rows.append({"parent": os.path.basename(p), "parent_error": pfit,
                         "parent_passed": ppassed, "op": op, "children": len(kids),
                         "bred": sum(1 for k in kids if k.get("bred")), "scored": len(fits),
                         "solved": sum(1 for f in fits if f == 0),
                         "better": sum(1 for f in fits if f < pfit),
                         "median_error": statistics.median(fits) if fits else None,
                         "best_error": min(fits) if fits else None})
            print("  %s %s: %d children, %d solved, %d better than the parent"
                  % (rows[-1]["parent"], op, len(kids), rows[-1]["solved"], rows[-1]["better"]),
                  file=sys.stderr, flush=True)
    secs = time.monotonic() - t0
    hdr = "%-24s %12s %-10s %8s %7s %7s %12s %10s" % (
        "parent", "parent error", "op", "children", "solved", "better", "median error",
        "best error")
    print(hdr)
    for r in rows:
        print("%-24s %12g %-10s %8d %7d %7d %12s %10s" % (
            r["parent"], r["parent_error"], r["op"], r["children"], r["solved"], r["better"],
            "-" if r["median_error"] is None else "%g" % r["median_error"],
            "-" if r["best_error"] is None else "%g" % r["best_error"]))
    print(json.dumps({"bench": "steps", "problem": a.problem, "children_per_op": a.children,
                      "vms": a.vms, "seconds": round(secs, 1), "rows": rows}))


if __name__ == "__main__":
    main()
