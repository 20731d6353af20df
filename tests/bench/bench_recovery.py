#!/usr/bin/python3
"""bench_recovery.py - how fast the agent replaces a lost VM: a VM killed with
SIGKILL (noticed at once through SIGCHLD) and a hung VM (SIGSTOP: noticed by the
heartbeat, after at most heartbeat_timeout_ms + heartbeat_interval_ms),
with the default heartbeat settings (1000/5000 ms) and compressed ones
(100/800 ms), 5 repetitions each, medians.

Each repetition uses a fresh daemon with 2 VMs: VM 0 is killed, VM 1 is
stopped, so each is its slot's first failure (no restart backoff growth).
Times come from the agent's log (ms timestamps: vm.kill, vm.state to=ready),
measured from the moment the signal was sent; "serving" is when `petri-agent
status` shows both VMs ready again (polled every 20 ms). Baseline: the
expected detection time of the heartbeat settings and a cold VM boot (the
daemon's own first boot). Never fails because of a number.
Options: --reps N (default 5).
"""
import argparse
import datetime
import json
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib as bl  # noqa: E402

SETTINGS = [("default", 1000, 5000), ("compressed", 100, 800)]
LINE = re.compile(r"^ts=(\S+) level=\w+ event=(\S+) (.*)$")


def log_events(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            ts = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
            out.append((ts, m.group(2), m.group(3)))
    return out


def first_after(events, t0, event, vm, extra=""):
    for ts, ev, rest in events:
        if ts >= t0 - 0.002 and ev == event and ("vm=%d " % vm) in rest + " " and extra in rest:
            return ts
    return None


def one(tmp, name, interval, timeout):
    """One daemon: SIGKILL VM 0, then SIGSTOP VM 1. Returns the measured seconds."""
    d = bl.Daemon(tmp, name, extra={"beam.vms": "2",
                                    "beam.heartbeat_interval_ms": str(interval),
                                    "beam.heartbeat_timeout_ms": str(timeout)})
    t_start = time.time()
    d.start()
    r = {}
    try:
        if not bl.wait_for(lambda: d.ready() == 2, 60, 0.02):
            raise RuntimeError("VMs not ready: " + open(d.log_path).read()[-2000:])
        r["boot_s"] = time.time() - t_start
        time.sleep(0.3)
        pids = d.vm_pids()
        # 1. SIGKILL
        t0 = time.time()
        os.kill(pids[0], signal.SIGKILL)
        bl.wait_for(lambda: d.vm_pids()[:1] not in ([pids[0]], []) and d.ready() == 2, 60, 0.02)
        r["kill_serving_s"] = time.time() - t0
        ev = log_events(d.log_path)
        down = first_after(ev, t0, "vm.state", 0, "from=ready")
        up = first_after(ev, t0, "vm.state", 0, "to=ready")
        r["kill_detect_s"] = down - t0 if down else None
        r["kill_ready_s"] = up - t0 if up else None
        time.sleep(0.3)
        # 2. SIGSTOP (hung)
        t0 = time.time()
        os.kill(pids[1], signal.SIGSTOP)
        try:
            bl.wait_for(lambda: len(d.vm_pids()) == 2 and d.vm_pids()[1] != pids[1]
                        and d.ready() == 2, 60, 0.02)
            r["hung_serving_s"] = time.time() - t0
        finally:
            try:
                os.kill(pids[1], signal.SIGCONT)  # if it is still there at all
            except ProcessLookupError:
                pass
        ev = log_events(d.log_path)
        killed = first_after(ev, t0, "vm.kill", 1, "heartbeat timeout")
        up = first_after(ev, t0, "vm.state", 1, "to=ready")
        r["hung_detect_s"] = killed - t0 if killed else None
        r["hung_ready_s"] = up - t0 if up else None
    finally:
        d.stop()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if not os.path.exists(bl.AGENT):
        print("bench_recovery: %s is missing (run make)" % bl.AGENT, file=sys.stderr)
        return 1
    results = {}
    with bl.TempDir() as tmp:
        for label, interval, timeout in SETTINGS:
            runs = []
            for i in range(a.reps):
                runs.append(one(tmp, "%s-%d" % (label, i), interval, timeout))
            results[label] = runs
    med = bl.median
    print("bench_recovery: %d repetitions per setting, medians in ms (from the signal)" % a.reps)
    print("%-44s %12s %12s" % ("what", "default", "compressed"))
    print("%-44s %12s %12s" % ("heartbeat interval / timeout (ms)", "1000/5000", "100/800"))
    rows = [("cold VM boot (daemon start to 2 ready)", "boot_s"),
            ("SIGKILL: death noticed (vm.state from=ready)", "kill_detect_s"),
            ("SIGKILL: replacement ready (log)", "kill_ready_s"),
            ("SIGKILL: both VMs ready in status", "kill_serving_s"),
            ("SIGSTOP: hung VM detected and killed", "hung_detect_s"),
            ("SIGSTOP: replacement ready (log)", "hung_ready_s"),
            ("SIGSTOP: both VMs ready in status", "hung_serving_s")]
    out = {}
    for text, k in rows:
        vals = {}
        for label, _, _ in SETTINGS:
            m = med([r.get(k) for r in results[label]])
            vals[label] = round(m * 1000, 1) if m is not None else None
        out[k] = vals
        print("%-44s %12s %12s" % (text, vals["default"], vals["compressed"]))
    print("load average at the end: " + " ".join(bl.loadavg()))
    for label, interval, timeout in SETTINGS:
        d = out["hung_detect_s"][label]
        # the last PONG came up to one interval before the stop, and the check
        # runs once per interval: detection lies in [timeout - interval, timeout + interval]
        print("%s: hung detection %s ms; expected about timeout + interval = %d ms at most "
              "(window %d..%d)" % (label, d, timeout + interval, timeout - interval,
                                   timeout + interval))
    print(json.dumps({
        "bench": "recovery", "loadavg": bl.loadavg(), "reps": a.reps, "medians_ms": out,
        "expected_hung_detect_ms": {l: t + i for l, i, t in SETTINGS},
        "runs": {l: [{k: (round(v * 1000, 1) if v is not None else None) for k, v in r.items()}
                     for r in results[l]] for l, _, _ in SETTINGS}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
