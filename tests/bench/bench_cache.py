#!/usr/bin/python3
"""bench_cache.py - the VMs' result cache in a GP run: evaluations per second of
`petri-agent evolve` on a quartic regression with [beam] result_cache on and
off (the baseline, same run), and the share of results reused.

Both sides run the same seed: breeding is deterministic and a reused result is
the result the VM would compute, so both runs evaluate exactly the same
children, and the only difference is the work the cache saves. Runs alternate
(off, on, off, on, ...) so both see the same machine noise; medians and the
median of the paired ratios are reported.

Prints a table and one JSON line. Never fails because of a number.
Options: --population N (default 500), --generations N (default 30, so 15,000
evaluations), --reps R (default 3), --vms N (default 2), --seed S.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
AGENT = os.path.join(BUILD, "bin", "petri-agent")


def quartic_spec(path):
    """f(x) = x^4 + x^3 + x^2 + x on 21 points in [-1, 1]; the target is out of
    reach on purpose (0 error with floats is rare), so every run spends its
    whole budget and both sides do the same number of evaluations."""
    xs = [round(-1 + 0.1 * i, 1) for i in range(21)]
    spec = {"function": "f/1",
            "primitives": {"ops": ["+", "-", "*"], "vars": ["X"],
                           "constants": {"min": -2, "max": 2, "integer": True}},
            "fitness": {"cases": [{"in": [x], "out": x ** 4 + x ** 3 + x ** 2 + x + 1e-9}
                                  for x in xs]}}
    with open(path, "w") as f:
        json.dump(spec, f)


def run(spec, args, cache):
    cmd = [AGENT, "evolve", "--spec", spec, "--population", str(args.population),
           "--generations", str(args.generations), "--seed", str(args.seed),
           "--vms", str(args.vms), "--json", "-o", f"beam.result_cache={'true' if cache else 'false'}"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    if r.returncode not in (0, 1) or not lines:
        sys.exit(f"bench_cache: evolve failed ({r.returncode}): {r.stderr[-2000:]}")
    last = lines[-1]
    return {"evaluations": last["evaluations"], "reused": last.get("reused", 0),
            "seconds": last["seconds"], "wall": wall, "best": last.get("best")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--population", type=int, default=500)
    ap.add_argument("--generations", type=int, default=30)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--vms", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not os.access(AGENT, os.X_OK):
        sys.exit(f"bench_cache: {AGENT} not built (make)")
    tmp = tempfile.mkdtemp(prefix="petri-bench-cache-")
    spec = os.path.join(tmp, "quartic.json")
    quartic_spec(spec)
    rows = {"off": [], "on": []}
    for rep in range(args.reps):
        for mode in ("off", "on"):
            res = run(spec, args, mode == "on")
            res["rate"] = res["evaluations"] / res["seconds"] if res["seconds"] > 0 else 0.0
            rows[mode].append(res)
            print(f"  rep {rep + 1} cache {mode:3}: {res['evaluations']} evaluations in "
                  f"{res['seconds']:.2f} s = {res['rate']:.0f}/s, reused {res['reused']}",
                  file=sys.stderr)
    same = all(a["evaluations"] == b["evaluations"] and a["best"] == b["best"]
               for a, b in zip(rows["off"], rows["on"]))
    med = {m: statistics.median(r["rate"] for r in rows[m]) for m in rows}
    ratios = [b["rate"] / a["rate"] for a, b in zip(rows["off"], rows["on"]) if a["rate"] > 0]
    share = statistics.median(r["reused"] / r["evaluations"] for r in rows["on"] if r["evaluations"])
    print()
    print(f"GP run: quartic, population {args.population}, {args.generations} generations, "
          f"seed {args.seed}, {args.vms} VMs, {args.reps} alternating reps "
          f"(load {os.getloadavg()[0]:.1f})")
    print(f"{'cache':8}{'evals/s (median)':>18}{'reused (median share)':>24}")
    print(f"{'off':8}{med['off']:>18.0f}{'-':>24}")
    print(f"{'on':8}{med['on']:>18.0f}{share:>23.1%}")
    print(f"ratio on/off: {med['on'] / med['off']:.2f} (median of paired ratios "
          f"{statistics.median(ratios):.2f}); same children both ways: {'yes' if same else 'NO'}")
    print(json.dumps({"bench": "cache", "population": args.population,
                      "generations": args.generations, "reps": args.reps, "vms": args.vms,
                      "evals_per_s_off": round(med["off"], 1), "evals_per_s_on": round(med["on"], 1),
                      "ratio": round(med["on"] / med["off"], 3),
                      "paired_ratio_median": round(statistics.median(ratios), 3),
                      "reused_share": round(share, 4), "same_children": same}))


if __name__ == "__main__":
    main()
