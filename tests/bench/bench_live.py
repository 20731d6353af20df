#!/usr/bin/python3
"""bench_live.py - live individuals under hot upgrade (`petri-agent live` on
the rate limiter of configs/live): 1,000 upgrades in one run, 30% of them bad
children (code_change crashes), requests replayed at a steady rate.

Measured, each against its baseline in the same run:
  gap       the longest reply latency of the requests that queue behind an
            upgrade (the 16 after its point), median over upgrades and max,
            against the steady latency of requests away from upgrades, and
            against a run of the same trace with no upgrade at all
  rollback  the VM's time restoring the parent (its rollback events' took_us:
            kill, load the kept binary, restart from the snapshot), against
            its time upgrading to a good child (the upgrade events' took_us:
            compile, load, code_change); and as the agent sees them, upgrade
            sent -> rollback event, against upgrade sent -> upgrade event
  judge     the VM's time judging a child at the end of its probation and
            promoting it (its promoted events' took_us: the parent's binary
            loaded, the probation's requests replayed on it and scored, the
            child's binary and state back)
  lost      requests never answered and answered twice (goal 0 and 0)
Latencies are the agent's: a request's send to its reply. Prints a table and
one JSON line. Never fails because of a number.
Options: --upgrades N (1000), --every K (requests between upgrades, 20),
--bad F (0.3), --rate R (requests/s, 500: an upgrade every 40 ms), --seed S (1).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
AGENT = os.path.join(BUILD, "bin", "petri-agent")
LIVE = os.path.join(ROOT, "configs", "live")


def run_live(spec, trace, upgrades, rate):
    args = [AGENT, "live", "--spec", spec, "--trace", trace, "--genome",
            os.path.join(LIVE, "parent.erl"), "--rate", str(rate), "--json"]
    for path, at in upgrades:
        args += ["--upgrade", f"{path}@{at}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if r.returncode not in (0, 3):
        sys.exit(f"petri-agent live failed ({r.returncode}): {r.stderr[-2000:]}")
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    return [x for x in lines if "event" in x], [x for x in lines if x.get("summary")][0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upgrades", type=int, default=1000)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--bad", type=float, default=0.3)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        n = a.upgrades * a.every + 200
        trace = os.path.join(tmp, "trace.jsonl")
        with open(trace, "w") as fh:
            subprocess.run([sys.executable, os.path.join(LIVE, "gen_trace.py"), "--seed",
                            str(a.seed), "--requests", str(n)], stdout=fh, check=True)
        with open(os.path.join(LIVE, "ratelimit.json")) as fh:
            spec = json.load(fh)
        spec["probation"] = max(1, a.every // 4)   # every trial ends before the next upgrade
        # judged on failures only: a few requests are too few to compare scores on
        spec["score"]["tolerance"] = 1.0
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as fh:
            json.dump(spec, fh)
        # a good child keeps the parent's state shape; the bad one crashes in code_change
        good = os.path.join(tmp, "good.erl")
        with open(os.path.join(LIVE, "parent.erl")) as src, open(good, "w") as fh:
            fh.write(src.read().replace("-export([init/1, handle/2]).",
                                        "-export([init/1, handle/2, code_change/2]).")
                     + "\ncode_change(_, S) -> S.\n")
        bad = os.path.join(LIVE, "child_bad.erl")
        ups, nbad = [], 0
        for i in range(a.upgrades):
            is_bad = rng.random() < a.bad
            nbad += is_bad
            ups.append((bad if is_bad else good, 100 + i * a.every))
        _, base = run_live(spec_path, trace, [], a.rate)
        events, s = run_live(spec_path, trace, ups, a.rate)
    lat, bl = s["latency_us"], base["latency_us"]

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if xs else 0
    up_us = [e["took_us"] for e in events if e["event"] == "upgrade"]
    rb_us = [e["took_us"] for e in events if e["event"] == "rollback"]
    pr_us = [e["took_us"] for e in events if e["event"] == "promoted"]
    ms = s["upgrade_ms"]
    rows = [
        ("requests", s["requests"], base["requests"]),
        ("lost / answered twice", f"{s['lost']} / {s['twice']}", f"{base['lost']} / {base['twice']}"),
        ("upgrades: promoted / rolled back", f"{s['promoted']} / {s['rolled_back']} (bad {nbad})", "-"),
        ("steady latency p50 (us)", lat["steady_p50"], bl["steady_p50"]),
        ("steady latency p99 (us)", lat["steady_p99"], bl["steady_p99"]),
        ("upgrade gap p50 (us)", lat["upgrade_gap_p50"], "-"),
        ("upgrade gap max (us)", lat["around_upgrade_max"], bl["steady_max"]),
        ("VM: upgrade to a good child (us, p50)", med(up_us), "-"),
        ("VM: roll back a bad child (us, p50)", med(rb_us), "-"),
        ("VM: roll back, max (us)", max(rb_us or [0]), "-"),
        ("VM: judge and promote a child (us, p50)", med(pr_us), "-"),
        ("good child: sent -> upgrade (ms)", f"{ms['upgrade_mean']:.2f}", "-"),
        ("bad child: sent -> rollback (ms)", f"{ms['rollback_mean']:.2f} (max {ms['rollback_max']:.2f})", "-"),
    ]
    print(f"{'':36} {'1,000 upgrades':>26} {'no upgrade':>14}")
    for name, x, y in rows:
        print(f"{name:36} {str(x):>26} {str(y):>14}")
    p50 = max(1, lat["steady_p50"])
    print(f"gap p50 / steady p50: {lat['upgrade_gap_p50'] / p50:.1f}x;"
          f" VM rollback / VM upgrade: {med(rb_us) / max(med(up_us), 1):.2f}x")
    load = open("/proc/loadavg").read().split()[:3]
    print("load average at the end: " + " ".join(load))
    print(json.dumps({
        "bench": "live", "loadavg": load, "upgrades": a.upgrades, "bad": nbad,
        "requests": s["requests"], "rate": a.rate, "lost": s["lost"], "twice": s["twice"],
        "promoted": s["promoted"], "rolled_back": s["rolled_back"],
        "steady_p50_us": lat["steady_p50"], "steady_p99_us": lat["steady_p99"],
        "gap_p50_us": lat["upgrade_gap_p50"], "gap_max_us": lat["around_upgrade_max"],
        "baseline_p50_us": bl["steady_p50"], "baseline_p99_us": bl["steady_p99"],
        "baseline_max_us": bl["steady_max"], "upgrade_ms": ms["upgrade_mean"],
        "rollback_ms": ms["rollback_mean"], "rollback_max_ms": ms["rollback_max"],
        "vm_upgrade_us_p50": med(up_us), "vm_rollback_us_p50": med(rb_us),
        "vm_rollback_us_max": max(rb_us or [0]), "vm_promote_us_p50": med(pr_us),
        "events": len(events)}))


if __name__ == "__main__":
    main()
