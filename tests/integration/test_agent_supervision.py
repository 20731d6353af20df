"""petri-agent as a daemon: VM supervision with real VMs (kill -9, SIGSTOP,
RSS ceiling), garbage from a VM, clean shutdown and no orphans; a genome
that freezes its VM's only scheduler is blamed (vm_killed) while the work
in flight beside it comes back ok and the agent lives on."""
import json
import os
import signal
import time

import pytest

from cluster import Cluster, quadratic_spec
from conftest import AGENT, GENOMES, SPECS, pid_alive, run, wait_for

FAST = {
    "beam.vms": "2",
    "beam.heartbeat_interval_ms": "100",
    "beam.heartbeat_timeout_ms": "800",
    "beam.restart_backoff_ms": "50",
    "beam.restart_backoff_max_ms": "500",
}
FAKE = os.path.join(os.path.dirname(__file__), "fake_erl.py")


def vm_pids(agent):
    return [v["pid"] for v in agent.status()["pool"]["vms"] if v["state"] == "ready"]


def test_killed_vm_is_replaced(agents):
    a = agents("kill", FAST).start()
    a.ready(2)
    pids = vm_pids(a)
    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: len(vm_pids(a)) == 2 and pids[0] not in vm_pids(a), what="replacement VM")
    st = a.status()["pool"]
    assert st["restarts"] >= 1
    assert pids[1] in vm_pids(a)  # the other VM was left alone


def test_hung_vm_is_detected_and_replaced(agents):
    a = agents("stop", FAST).start()
    a.ready(2)
    victim = vm_pids(a)[0]
    os.kill(victim, signal.SIGSTOP)
    wait_for(lambda: victim not in vm_pids(a) and len(vm_pids(a)) == 2, timeout=20,
             what="hung VM replaced")
    assert "heartbeat timeout" in a.logtext()
    wait_for(lambda: not pid_alive(victim), what="stopped VM reaped")


def test_rss_ceiling_is_enforced_from_outside(agents):
    a = agents("rss", dict(FAST, **{"beam.max_rss_mb": "5", "beam.vms": "1"})).start()
    wait_for(lambda: "over the 5 MiB ceiling" in a.logtext(), timeout=30, what="RSS kill")
    assert a.proc.poll() is None  # the agent lives on


def test_garbage_from_a_vm_never_crashes_the_agent(agents):
    for mode in ("random", "bad_version", "huge_length", "truncated_hello", "unknown_result",
                 "unknown_bred", "double_hello"):
        a = agents("fake-" + mode, dict(FAST, **{
            "beam.erl": FAKE, "beam.vms": "1", "beam.restart_intensity": "3",
            "beam.boot_timeout_ms": "1000"}))
        os.environ["PETRI_TEST_FAKE_MODE"] = mode
        try:
            a.start()
        finally:
            del os.environ["PETRI_TEST_FAKE_MODE"]
        rc = a.proc.wait(60)
        log = a.logtext()
        assert rc == 1, (mode, rc, log[-2000:])  # gave up like a supervisor, did not crash
        assert "vm.kill" in log, mode
        assert "pool.failed" in log, mode


def test_silent_vm_after_hello_is_replaced(agents):
    a = agents("silent", dict(FAST, **{"beam.erl": FAKE, "beam.vms": "1",
                                       "beam.restart_intensity": "2"}))
    os.environ["PETRI_TEST_FAKE_MODE"] = "silent_after_hello"
    try:
        a.start()
    finally:
        del os.environ["PETRI_TEST_FAKE_MODE"]
    assert a.proc.wait(60) == 1
    assert "heartbeat timeout" in a.logtext()


def test_sigterm_is_clean_and_leaves_no_vm(agents):
    a = agents("term", FAST).start()
    a.ready(2)
    pids = vm_pids(a)
    t0 = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 10
    for p in pids:
        wait_for(lambda: not pid_alive(p), timeout=5, what=f"VM {p} gone")
    assert "agent.stopped" in a.logtext()
    assert not os.path.exists(os.path.join(a.run_dir, "agent.sock"))


def test_killed_agent_leaves_no_orphans(agents):
    a = agents("orphan", FAST).start()
    a.ready(2)
    pids = vm_pids(a)
    a.proc.kill()
    a.proc.wait()
    for p in pids:
        wait_for(lambda: not pid_alive(p), timeout=10, what=f"VM {p} gone with its agent")


# Allowed constructs only (lists:foldl/seq, =:=): two equal trees of 2^40
# leaves that share structure; comparing them walks every leaf without ever
# yielding, so the VM's only scheduler stops and its heartbeat goes silent.
FREEZER = """-module(freezer{n}).
-export([f/1]).
f(X) ->
    A = lists:foldl(fun(_, T) -> {{T, T}} end, X, lists:seq(1, 40)),
    B = lists:foldl(fun(_, T) -> {{T, T}} end, X, lists:seq(1, 40)),
    case A =:= B of
        true -> X * X + 2 * X - 1;
        false -> 0
    end.
"""
SHORT = {"beam.heartbeat_interval_ms": "100", "beam.heartbeat_timeout_ms": "800"}


def write_freezers(tmp, n):
    paths = []
    for i in range(n):
        path = os.path.join(tmp, f"freezer{i}.erl")
        with open(path, "w") as f:
            f.write(FREEZER.format(n=i))
        paths.append(path)
    return paths


@pytest.mark.parametrize("timings", ["default", "short"])
def test_eval_blames_each_freezer_and_scores_the_rest(tmp, timings):
    # 3 freezers among 9 good genomes on 2 VMs: each freezer kills a VM
    # twice (pipelined, then alone), 6 deaths; with a restart intensity of 2
    # the pool would give up if they counted, and the rest would be lost.
    freezers = write_freezers(tmp, 3)
    good = os.path.join(GENOMES, "good.erl")
    genomes = [good, freezers[0], good, good, good, freezers[1], good, good, freezers[2],
               good, good, good]
    opts = {"beam.restart_intensity": "2", "log.level": "info"}
    if timings == "short":
        opts.update(SHORT)
    args = [AGENT, "eval", "--spec", os.path.join(SPECS, "quadratic.json"), "--vms", "2"]
    for k, v in opts.items():
        args += ["-o", f"{k}={v}"]
    r = run(args + genomes, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["genome"] for x in lines] == genomes
    for path, line in zip(genomes, lines):
        if path in freezers:
            assert line["status"] == "vm_killed", line
            assert "ran alone" in line["detail"], line
        else:
            assert line["status"] == "ok" and line["fitness"] == 0, line
    assert r.stderr.count("event=pool.blamed") == 3, r.stderr[-3000:]
    assert "pool.failed" not in r.stderr


def test_daemon_survives_freezers_and_loses_no_work(tmp):
    # one agent with 2 VMs evolving a population (the innocent work in
    # flight) while freezers are submitted one after another
    c = Cluster(tmp, agents=1, vms=2,
                extra_agent=dict(SHORT, **{"beam.restart_intensity": "2"})).start()
    try:
        spec = quadratic_spec(name="frz", size=40, demes=2,
                              stop={"target_fitness": None, "max_evaluations": 100000000})
        st, _ = c.api("POST", "/v1/populations", spec)
        assert st == 201
        agent = c.agents[0]
        for i, path in enumerate(write_freezers(tmp, 3)):
            with open(path) as f:
                st, body = c.api("POST", "/v1/populations/frz/genomes", {"source": f.read()})
            assert st == 202, body

            def recorded(h=body["hash"]):
                st, g = c.api("GET", f"/v1/genomes/{h}")
                return st == 200 and g["records"] and g

            g = wait_for(recorded, timeout=60, what=f"freezer {i} recorded")
            assert [x["status"] for x in g["records"]] == ["vm_killed"], g
            assert agent.proc.poll() is None, agent.logtext()[-3000:]
        with open(os.path.join(GENOMES, "good.erl")) as f:
            st, body = c.api("POST", "/v1/populations/frz/genomes", {"source": f.read()})
        assert st == 202, body
        g = wait_for(lambda: (lambda r: r[0] == 200 and r[1]["records"] and r[1])(
            c.api("GET", f"/v1/genomes/{body['hash']}")), timeout=60, what="good recorded")
        assert g["records"][0]["status"] == "ok" and g["records"][0]["fitness"] == 0
        status = json.loads(run([AGENT, "status", "--json", "-o",
                                 f"node.run_dir={agent.run_dir}"]).stdout)
        pool = status["pool"]
        assert pool["blamed"] == 3 and not pool["failed"], pool
        assert pool["job_deaths"] >= 6, pool  # each freezer: pipelined, then alone
        st, exp = c.api("GET", "/v1/lineage/export?format=json")
        assert st == 200
        statuses = [r["status"] for r in exp["records"] if r["population"] == "frz"]
        assert statuses.count("vm_killed") == 3
        assert "internal" not in statuses  # the work beside the freezers was redone
        log = agent.logtext()
        assert log.count("event=pool.blamed") == 3
        assert "pool.failed" not in log
        assert agent.proc.poll() is None
    finally:
        c.stop()


def test_item_whose_agents_die_holding_it_twice_is_given_up(tmp):
    # The VMs never time out here, so a freezer holds its agent's work until
    # the agent is killed; the coordinator re-issues the work once, then
    # gives it up instead of handing it to the third agent.
    c = Cluster(tmp, agents=3, vms=1,
                extra_agent={"beam.heartbeat_timeout_ms": "3600000"}).start()
    try:
        spec = quadratic_spec(name="lost", size=4, demes=1, seeds=[FREEZER.format(n=0)],
                              stop={"target_fitness": None, "max_evaluations": 100000000})
        st, body = c.api("POST", "/v1/populations", spec)
        assert st == 201, body

        def holder():
            for a in c.agents:
                if a.proc.poll() is None:
                    out = run([AGENT, "status", "--json", "-o", f"node.run_dir={a.run_dir}"])
                    if out.returncode == 0 and json.loads(out.stdout)["pool"]["inflight"] > 0:
                        return a
            return None

        for _ in range(2):
            a = wait_for(holder, timeout=60, what="an agent holding the freezer")
            a.stop(signal.SIGKILL)
            wait_for(lambda: [m for m in c.members() if m["name"] == a.name][0]["status"]
                     == "dead", timeout=30, what=f"{a.name} dead")
        wait_for(lambda: "event=coord.given_up" in c.coord.logtext(), timeout=30,
                 what="the item given up")
        assert "status=vm_killed" in c.coord.logtext()
        survivor = [a for a in c.agents if a.proc.poll() is None]
        assert len(survivor) == 1
        # the survivor evolves the population: it never got the freezer
        before = c.pop("lost")["evaluations"]
        wait_for(lambda: c.pop("lost")["evaluations"] > before + 20, timeout=60,
                 what="progress on the survivor")
    finally:
        c.stop()
