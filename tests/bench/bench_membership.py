#!/usr/bin/env python3
"""Membership on real processes: one petri-agent's idle CPU and RSS in a
20-member cluster against the same agent alone (the baseline, same run), and
the probe round trip on loopback. Default gossip timings (1 s probes).
Prints a table and one JSON line; asserts nothing about speed."""
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from benchlib import free_port  # noqa: E402

BUILD = os.environ.get("PETRI_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
AGENT = os.path.join(BUILD, "bin", "petri-agent")
HZ = os.sysconf("SC_CLK_TCK")
WINDOW = float(os.environ.get("BENCH_WINDOW_S", "20"))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(tmp, i, key, seed):
    name = f"m{i}"
    port = free_port()
    args = [AGENT, "-o", f"node.name={name}", "-o", f"node.data_dir={tmp}/{name}",
            "-o", f"node.run_dir={tmp}/{name}/run", "-o", f"gossip.bind=127.0.0.1:{port}",
            "-o", "beam.vms=1", "-o", "log.level=warn"]
    if seed:
        args += ["-o", f"gossip.seeds={seed}"]
    env = dict(os.environ, PETRI_GOSSIP_KEY=key)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return p, f"127.0.0.1:{port}", f"{tmp}/{name}/run"


def status(run_dir):
    r = subprocess.run([AGENT, "status", "--json", "-o", f"node.run_dir={run_dir}"],
                       capture_output=True, text=True, timeout=10)
    return json.loads(r.stdout) if r.returncode == 0 else None


def members(run_dir):
    r = subprocess.run([AGENT, "members", "--json", "-o", f"node.run_dir={run_dir}"],
                       capture_output=True, text=True, timeout=10)
    return json.loads(r.stdout) if r.returncode == 0 else []


def measure(pid, window):
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(window)
    t1, c1 = time.monotonic(), cpu_ticks(pid)
    return 100.0 * (c1 - c0) / HZ / (t1 - t0), rss_kib(pid)


def run(n, tmp, key):
    procs = []
    try:
        p, seed, run0 = start(tmp, 0, key, None)
        procs.append(p)
        for i in range(1, n):
            procs.append(start(tmp, i, key, seed)[0])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            alive = [m for m in members(run0) if m["status"] == "alive"]
            if len(alive) == n:
                break
            time.sleep(0.5)
        time.sleep(3)  # settle: boots and joins are over
        cpu, rss = measure(procs[0].pid, WINDOW)
        st = status(run0) or {}
        return cpu, rss, st.get("gossip", {})
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    tmp = tempfile.mkdtemp(prefix="petri-bench-mem-")
    key = base64.b64encode(os.urandom(32)).decode()
    try:
        base_cpu, base_rss, _ = run(1, tmp + "/alone", key)
        cpu, rss, g = run(20, tmp + "/twenty", key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rtt = g.get("probe_rtt_us", {})
    print(f"membership on real processes: petri-agent idle over {WINDOW:.0f} s, default timings")
    print(f"{'case':<28}{'agent CPU %':>12}{'agent RSS MiB':>15}")
    print(f"{'alone (baseline)':<28}{base_cpu:>12.3f}{base_rss / 1024:>15.1f}")
    print(f"{'20 members':<28}{cpu:>12.3f}{rss / 1024:>15.1f}")
    print(f"probe round trip on loopback: avg {rtt.get('avg', 0):.0f} us, min {rtt.get('min', 0)} us, "
          f"max {rtt.get('max', 0)} us over {rtt.get('count', 0)} probes")
    print(json.dumps({"bench": "membership", "window_s": WINDOW, "alone_cpu_pct": round(base_cpu, 4),
                      "alone_rss_kib": base_rss, "members20_cpu_pct": round(cpu, 4),
                      "members20_rss_kib": rss, "probe_rtt_us_avg": round(rtt.get("avg", 0), 1),
                      "probe_rtt_us_min": rtt.get("min", 0), "probe_rtt_us_max": rtt.get("max", 0),
                      "probes": rtt.get("count", 0)}))


if __name__ == "__main__":
    sys.exit(main())
