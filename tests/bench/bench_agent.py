#!/usr/bin/python3
"""bench_agent.py - the agent's own overhead: RSS of the petri-agent daemon
(not its VMs) and its CPU while idle with 2 VMs, over an idle window (default
20 s), from /proc/<pid>/status VmRSS and /proc/<pid>/stat utime+stime. The
VMs' idle CPU and RSS are reported for information. Goals: agent RSS < 20 MiB,
agent idle CPU < 1% of one core. Never fails because of a number.
Options: --idle S (default 20), --vms N (default 2).
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib as bl  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle", type=float, default=20.0)
    ap.add_argument("--vms", type=int, default=2)
    a = ap.parse_args()
    if not os.path.exists(bl.AGENT):
        print("bench_agent: %s is missing (run make)" % bl.AGENT, file=sys.stderr)
        return 1
    with bl.TempDir() as tmp:
        d = bl.Daemon(tmp, extra={"beam.vms": str(a.vms)}).start()
        try:
            t_start = time.monotonic()
            if not bl.wait_for(lambda: d.ready() == a.vms, 60, 0.05):
                print("bench_agent: the VMs did not become ready; log:\n%s"
                      % open(d.log_path).read()[-3000:], file=sys.stderr)
                return 1
            ready_s = time.monotonic() - t_start
            vms = d.vm_pids()
            time.sleep(2.0)  # let boot-time work settle
            pid = d.proc.pid
            rss0 = bl.rss_kib(pid)
            c0 = bl.cpu_ticks(pid)
            v0 = {v: bl.cpu_ticks(v) for v in vms}
            t0 = time.monotonic()
            samples = []
            while time.monotonic() - t0 < a.idle:
                time.sleep(1.0)
                samples.append(bl.rss_kib(pid))
            t1 = time.monotonic()
            c1 = bl.cpu_ticks(pid)
            v1 = {v: bl.cpu_ticks(v) for v in vms}
            rss1 = bl.rss_kib(pid)
            vm_rss = {v: bl.rss_kib(v) for v in vms}
            st = d.status()
        finally:
            d.stop()
    window = t1 - t0
    agent_cpu = 100.0 * (c1 - c0) / bl.CLK_TCK / window
    vm_cpu = {v: 100.0 * (v1[v] - v0[v]) / bl.CLK_TCK / window for v in vms
              if v0[v] is not None and v1[v] is not None}
    rss_max = max([x for x in samples + [rss0, rss1] if x])
    print("bench_agent: petri-agent daemon, %d VMs, idle for %.1f s (ready after %.2f s)"
          % (a.vms, window, ready_s))
    print("%-36s %12s %10s" % ("what", "measured", "goal"))
    print("%-36s %9.2f MiB %10s" % ("agent RSS (max over the window)", rss_max / 1024, "< 20 MiB"))
    print("%-36s %11.3f%% %10s" % ("agent CPU while idle", agent_cpu, "< 1%"))
    for i, v in enumerate(vms):
        print("%-36s %11.3f%% %10s" % ("VM %d CPU while idle (info)" % i, vm_cpu.get(v, -1), "-"))
        print("%-36s %9.2f MiB %10s" % ("VM %d RSS (info)" % i, (vm_rss[v] or 0) / 1024, "-"))
    print("load average at the end: " + " ".join(bl.loadavg()))
    print("clock tick %.0f ms: CPU figures resolve to %.3f%% over this window"
          % (1000 / bl.CLK_TCK, 100.0 / bl.CLK_TCK / window))
    pool = st["pool"] if st else {}
    print(json.dumps({
        "bench": "agent", "vms": a.vms, "idle_s": round(window, 1),
        "agent_rss_mib": round(rss_max / 1024, 2), "agent_cpu_pct": round(agent_cpu, 3),
        "vm_cpu_pct": [round(vm_cpu.get(v, -1), 3) for v in vms],
        "vm_rss_mib": [round((vm_rss[v] or 0) / 1024, 1) for v in vms],
        "goal_rss_mib": 20, "goal_cpu_pct": 1.0, "ready_s": round(ready_s, 2),
        "restarts": pool.get("restarts"),
        "loadavg": bl.loadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
