#!/usr/bin/python3
"""bench_sandboxes.py - evaluation latency in one VM with 10,000 live sandboxes
(slots, each holding its own loaded genome) against the same VM with 10.

Starts `erl` with the agent's VM flags and the helper petri_bench_sandboxes
(compiled here into a temp dir), which fills N slots through petri_loader and
petri_eval, then times further evaluations: a NEW genome (parse, compile, load
into a live slot, score; its old code purged afterwards) and a RE-evaluation of
an already loaded genome (no load). Code loading alone is also timed one
module per commit and 8 modules per commit (erlang:prepare_loading/2 +
erlang:finish_loading/1). Prints a table and one JSON line; never fails
because of a number. Options: --live N (default 10000), --small N (10),
--samples M (300), --code-path DIR (the .beam directory; default the build's).
"""
import argparse
import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EBIN = os.path.join(ROOT, "agent", "beam", "ebin")
HELPER = os.path.join(HERE, "petri_bench_sandboxes.erl")
VM_FLAGS = ["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none", "+S", "1:1", "+A", "1"]


def parse_erl_map(text):
    """The helper prints one #{key => [numbers] | number} map."""
    body = text.strip().rstrip(".")
    assert body.startswith("#{") and body.endswith("}")
    py = re.sub(r"(\w+) =>", r"'\1':", body[1:])
    return ast.literal_eval(py)


def run(ebin, helper_dir, live, samples):
    cmd = ["erl", "-noshell", "-noinput", *VM_FLAGS, "-pa", ebin, "-pa", helper_dir,
           "-bench_live", str(live), "-bench_samples", str(samples),
           "-s", "petri_bench_sandboxes", "main"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    lines = [l for l in p.stdout.splitlines() if l.startswith("#{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError("helper failed (%s): %s %s" % (p.returncode, p.stdout[-1000:],
                                                           p.stderr[-1000:]))
    return parse_erl_map(lines[-1])


def paired(ebin, helper_dir, small, live, samples):
    """Two VMs at once, 10 and 10,000 live, driven alternately (new, new, re,
    re, ...): both see the same moments of a noisy machine. Returns
    {"new": (small_us, big_us), "re": (...)} lists of samples."""
    def start(n):
        return subprocess.Popen(["erl", "-noshell", *VM_FLAGS, "-pa", ebin, "-pa", helper_dir,
                                 "-bench_live", str(n), "-s", "petri_bench_sandboxes", "paired"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                bufsize=1)
    vms = [start(small), start(live)]
    try:
        for vm in vms:
            line = vm.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError("paired helper did not start: %r" % line)
        out = {"new": ([], []), "re": ([], [])}

        def ask(vm, cmd):
            vm.stdin.write(cmd + "\n")
            vm.stdin.flush()
            word, us = vm.stdout.readline().split()
            assert word == cmd
            return int(us)
        for i in range(samples):
            order = (0, 1) if i % 2 == 0 else (1, 0)  # who goes first alternates too
            for cmd in ("new", "re"):
                for k in order:
                    out[cmd][k].append(ask(vms[k], cmd))
        return out
    finally:
        for vm in vms:
            try:
                vm.stdin.write("quit\n")
                vm.stdin.flush()
                vm.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                vm.kill()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--live", type=int, default=10000)
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--code-path", default=EBIN)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="petri-bench-sandboxes-")
    try:
        c = subprocess.run(["erlc", "-o", tmp, HELPER], capture_output=True, text=True)
        if c.returncode != 0:
            print("bench_sandboxes: erlc failed: %s" % c.stderr, file=sys.stderr)
            return 1
        small = run(a.code_path, tmp, a.small, a.samples)
        big = run(a.code_path, tmp, a.live, a.samples)
        small2 = run(a.code_path, tmp, a.small, a.samples)  # the baseline again, after
        pair = paired(a.code_path, tmp, a.small, a.live, a.samples)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def pick(r, k):
        return med(r[k])

    # the small baseline is measured twice (before and after the big run); its
    # median is taken over both runs' samples
    base = {k: small[k] + small2[k] for k in ("new_us", "new_load_us", "new_eval_us", "purge_us",
                                              "re_us", "load1_us", "load8_us", "new8_us",
                                              "stream2_us", "stream4_us")}
    rows = [
        ("new genome: load + score (latency)", "new_us"),
        ("  of which load (parse, compile, load)", "new_load_us"),
        ("  of which scoring", "new_eval_us"),
        ("new genome, 2 requests in flight", "stream2_us"),
        ("new genome, 4 requests in flight (agent default)", "stream4_us"),
        ("new genomes 8 at a time, 1 load commit", "new8_us"),
        ("purge of the replaced genome (off path)", "purge_us"),
        ("re-evaluation of a loaded genome", "re_us"),
        ("code load alone, 1 module per commit", "load1_us"),
        ("code load alone, 8 modules per commit", "load8_us"),
    ]
    print("bench_sandboxes: one VM (+S 1:1), medians in microseconds; %d samples"
          % a.samples)
    print("%-50s %10s %10s %7s" % ("what", "%d live" % a.small, "%d live" % a.live, "ratio"))
    out = {}
    for label, k in rows:
        s, b = med(base[k]), pick(big, k)
        out[k] = {"small": round(s, 1), "big": round(b, 1), "ratio": round(b / s, 2) if s else None}
        print("%-50s %10.1f %10.1f %7.2f" % (label, s, b, b / s if s else float("nan")))
    print("live slots %d / %d; modules loaded %d / %d; VM memory %.0f / %.0f MiB; "
          "filling %d slots took %.1f s"
          % (small["live"], big["live"], small["modules"], big["modules"],
             small["memory"] / 2**20, big["memory"] / 2**20, a.live, big["fill_us"] / 1e6))
    print("load average at the end: " + " ".join(open("/proc/loadavg").read().split()[:3]))
    print("new genomes ok: %d / %d" % (big["new_ok"], len(big["new_us"])))
    print()
    print("paired: a %d-live and a %d-live VM running side by side, driven alternately "
          "(same moments of the machine), %d samples each, medians in microseconds:"
          % (a.small, a.live, a.samples))
    pout = {}
    for label, k in (("new genome: load + score (latency)", "new"),
                     ("re-evaluation of a loaded genome", "re")):
        s, b = med(pair[k][0]), med(pair[k][1])
        # per-sample ratios of neighbours in time: the noise they share cancels
        ratios = sorted(y / x for x, y in zip(pair[k][0], pair[k][1]) if x > 0)
        pr = ratios[len(ratios) // 2] if ratios else float("nan")
        pout[k] = {"small": s, "big": b, "ratio": round(b / s, 2) if s else None,
                   "median_pair_ratio": round(pr, 2)}
        print("%-50s %10.1f %10.1f %7.2f  (median of paired ratios %.2f)"
              % (label, s, b, b / s if s else float("nan"), pr))
    b8 = med(big["new8_us"]) / med(base["new_us"])
    print("new genomes at %d live with 8 loads per commit vs one at a time at %d live: "
          "ratio %.2f" % (a.live, a.small, b8))
    print(json.dumps({
        "bench": "sandboxes", "loadavg": open("/proc/loadavg").read().split()[:3], "small": a.small, "live": a.live, "samples": a.samples,
        "new_ratio": out["new_us"]["ratio"], "reeval_ratio": out["re_us"]["ratio"],
        "paired": pout, "paired_new_ratio": pout["new"]["ratio"],
        "stream2_ratio": out["stream2_us"]["ratio"], "stream4_ratio": out["stream4_us"]["ratio"],
        "goal_ratio": 2.0, "figures_us": out,
        "new_ratio_batched8": round(b8, 2),
        "modules_loaded": big["modules"], "fill_s": round(big["fill_us"] / 1e6, 1),
        "vm_memory_mib": round(big["memory"] / 2**20, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
