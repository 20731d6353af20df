"""petri-agent live on the rate limiter example (configs/live): a bad, a worse
and a better child on one running individual, a VM killed in the middle of an
upgrade, and bad input refused with a clear error."""
import json
import os

from conftest import AGENT, ROOT, run

LIVE = os.path.join(ROOT, "configs", "live")
SPEC = os.path.join(LIVE, "ratelimit.json")
TRACE = os.path.join(LIVE, "trace.jsonl")


def f(name):
    return os.path.join(LIVE, name)


def live(*extra, spec=SPEC, trace=TRACE, genome=None, code=0):
    r = run([AGENT, "live", "--spec", spec, "--trace", trace, "--genome",
             genome or f("parent.erl"), "--json", *extra], timeout=180)
    assert r.returncode == code, r.stdout + r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    events = [x for x in lines if "event" in x]
    summary = [x for x in lines if x.get("summary")]
    assert len(summary) == 1, r.stdout
    return events, summary[0]


def by_upgrade(events, uid):
    return [e for e in events if e["upgrade_id"] == uid]


def is_hash(h):
    return len(h) == 64 and all(c in "0123456789abcdef" for c in h)


def trace_len():
    with open(TRACE) as fh:
        return sum(1 for line in fh if line.strip())


def test_bad_worse_and_better_children(tmp):
    events, s = live("--upgrade", f("child_bad.erl") + "@300",
                     "--upgrade", f("child_worse.erl") + "@600",
                     "--upgrade", f("child_better.erl") + "@900")
    n = trace_len()
    assert (s["requests"], s["answered"], s["lost"], s["twice"]) == (n, n, 0, 0)
    assert events[0]["event"] == "started" and events[-1]["event"] == "stopped"
    parent_hash = events[0]["to"]

    # the bad child crashes in code_change: rolled back at once, state untouched
    bad = by_upgrade(events, 1)
    assert [e["event"] for e in bad] == ["rollback"]
    assert "code_change" in bad[0]["reason"] and bad[0]["probation"] == 0
    assert bad[0]["from"] == parent_hash and is_hash(bad[0]["to"]) and bad[0]["to"] != parent_hash
    assert bad[0]["state_before"] == bad[0]["state_after"] and is_hash(bad[0]["state_after"])
    assert bad[0]["version"] == 1

    # the worse child runs its probation and scores lower than its parent
    worse = by_upgrade(events, 2)
    assert [e["event"] for e in worse] == ["upgrade", "rollback"]
    rb = worse[1]
    assert rb["probation"] == 100 and rb["child_score"] < rb["parent_score"]
    assert "scored" in rb["reason"] and rb["version"] == 1

    # the better child is promoted, and its snapshot comes with the event
    better = by_upgrade(events, 3)
    assert [e["event"] for e in better] == ["upgrade", "promoted"]
    pr = better[1]
    assert pr["child_score"] > pr["parent_score"] and pr["snapshot_bytes"] > 0
    # its code_change turned the parent's windows into buckets
    assert better[0]["state_before"] != better[0]["state_after"]

    fit = {v["version"]: v for v in s["versions"]}
    assert fit[pr["version"]]["fitness"] > fit[1]["fitness"]
    assert fit[pr["version"]]["live_fitness"] > fit[1]["live_fitness"]
    assert fit[pr["version"]]["hash"] == pr["to"]
    assert s["promoted"] == 1 and s["rolled_back"] == 2 and s["refused"] == 0


def test_human_output_names_each_outcome(tmp):
    r = run([AGENT, "live", "--spec", SPEC, "--trace", TRACE, "--genome", f("parent.erl"),
             "--upgrade", f("child_bad.erl") + "@100", "--upgrade", f("child_better.erl") + "@200"],
            timeout=180)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "rollback" in out and "crash in code_change" in out and "promoted" in out
    assert f"requests {trace_len()}  answered {trace_len()}  lost 0  twice 0" in out


def test_vm_killed_mid_upgrade_comes_back_at_the_last_good_version(tmp):
    events, s = live("--upgrade", f("child_better.erl") + "@300",
                     "--upgrade", f("child_worse.erl") + "@1000",
                     "--kill-vm-after-upgrade", "2")
    n = trace_len()
    assert s["vm_restarts"] == 1
    assert (s["answered"], s["lost"], s["twice"]) == (n, 0, 0)
    # requests in flight when the VM died went again (none may have been)
    assert 0 <= s["resent"] <= n
    promoted = [e for e in events if e["event"] == "promoted"]
    assert len(promoted) == 1 and promoted[0]["upgrade_id"] == 1
    starts = [e for e in events if e["event"] == "started"]
    assert len(starts) == 2
    # the second VM runs the promoted child, from the state it was promoted with
    assert starts[1]["version"] == promoted[0]["version"]
    assert starts[1]["to"] == promoted[0]["to"]
    assert starts[1]["state_after"] == promoted[0]["state_after"]
    # the upgrade the VM died in is abandoned, said so, not answered twice
    lost = by_upgrade(events, 2)
    assert lost[-1]["event"] == "rollback" and "VM died" in lost[-1]["reason"]
    assert lost[-1]["note"] == "agent" and lost[-1]["to"] != lost[-1]["from"]
    assert lost[-1]["state_after"] == promoted[0]["state_after"]
    assert not any(e["event"] == "promoted" and e["upgrade_id"] == 2 for e in events)


def test_bad_input_is_refused_with_its_name(tmp):
    def refused(args, what):
        r = run([AGENT, "live", *args], timeout=60)
        assert r.returncode == 2, r.stdout + r.stderr
        assert what in r.stderr, r.stderr

    refused(["--spec", SPEC, "--genome", f("parent.erl")], "--trace")
    bad_spec = os.path.join(tmp, "spec.json")
    with open(bad_spec, "w") as fh:
        json.dump({"probation": 10, "limitz": {}}, fh)
    refused(["--spec", bad_spec, "--trace", TRACE, "--genome", f("parent.erl")], "limitz")
    with open(bad_spec, "w") as fh:
        json.dump({"limits": {"timeout_ms": -1}}, fh)
    refused(["--spec", bad_spec, "--trace", TRACE, "--genome", f("parent.erl")],
            "limits.timeout_ms")
    bad_trace = os.path.join(tmp, "trace.jsonl")
    with open(bad_trace, "w") as fh:
        fh.write('{"req": 1, "expect": 1}\n{"req": {"$atom": "nope"}}\n')
    refused(["--spec", SPEC, "--trace", bad_trace, "--genome", f("parent.erl")],
            "trace line 2.req")
    with open(bad_trace, "w") as fh:
        fh.write('{"req": 1}\nnot json\n')
    refused(["--spec", SPEC, "--trace", bad_trace, "--genome", f("parent.erl")], "trace line 2")
    refused(["--spec", SPEC, "--trace", TRACE, "--genome", f("parent.erl"),
             "--upgrade", f("child_bad.erl")], "CHILD.erl@N")
    refused(["--spec", SPEC, "--trace", TRACE, "--genome", f("parent.erl"), "--rate", "fast"],
            "--rate")
    refused(["--spec", SPEC, "--trace", TRACE, "--genome", f("parent.erl"),
             "--kill-vm-after-upgrade", "1"], "upgrade number")


def test_a_genome_that_cannot_start_fails_clearly(tmp):
    g = os.path.join(tmp, "g.erl")
    with open(g, "w") as fh:
        fh.write("-module(g).\n-export([init/1, handle/2]).\ninit(_) -> os:cmd(\"id\").\n"
                 "handle(R, S) -> {R, S}.\n")
    r = run([AGENT, "live", "--spec", SPEC, "--trace", TRACE, "--genome", g], timeout=60)
    assert r.returncode == 1
    assert "not allowed" in r.stderr, r.stderr


def test_the_recorded_trace_is_what_its_script_writes(tmp):
    r = run(["/usr/bin/python3", f("gen_trace.py")], timeout=60)
    assert r.returncode == 0, r.stderr
    with open(TRACE) as fh:
        assert r.stdout == fh.read()
