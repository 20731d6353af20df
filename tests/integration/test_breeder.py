"""The breeder in the lineage: every scored child's record names the identity
of the VM code that bred it (record version 4, signed by the agent), and
`lineage verify --replay` tells a child re-derived on another breeder (petri
upgraded since) from a forgery: not compared, both breeders named, no
mismatch. On the breeder that bred them, the same records still compare.
An agent sends the breeder only to a coordinator whose WELCOME offers to
read it, so agents and a coordinator from before it upgrade one at a time."""
import base64
import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from cluster import Cluster, quadratic_spec
from conftest import AGENT, ROOT, Agent, wait_for
from test_live_agent import Coord

EBIN = os.path.join(ROOT, "agent", "beam", "ebin")


def other_breeder_ebin(tmp):
    """A copy of the app whose petri_mutate draws subtree depths from 1..6,
    not 1..4: another breeder, whose subtree children differ."""
    d = os.path.join(tmp, "ebin2")
    shutil.copytree(EBIN, d)
    src = os.path.join(ROOT, "agent", "beam", "src", "petri_mutate.erl")
    with open(src) as f:
        text = f.read()
    patched, n = re.subn(r"-define\(SUBTREE_DEPTH, 3\)\.", "-define(SUBTREE_DEPTH, 5).", text)
    assert n == 1
    p = os.path.join(tmp, "petri_mutate.erl")
    with open(p, "w") as f:
        f.write(patched)
    subprocess.run(["erlc", "-o", d, p], check=True)
    return d


def spec_file(tmp):
    path = os.path.join(tmp, "quad.json")
    q = quadratic_spec()
    with open(path, "w") as f:
        json.dump({k: q[k] for k in ("function", "primitives", "fitness", "limits")}, f)
    return path


def breeder_of(tmp, code_path=None):
    """The breeder id a VM of this code reports (petri-agent breed --json),
    and the subtree children of seeds 1..20 of one parent."""
    parent = os.path.join(tmp, "parent.erl")
    with open(parent, "w") as f:
        f.write("-module(g).\n-export([f/1]).\nf(X) -> X * X + 1.\n")
    spec = spec_file(tmp)
    args = [AGENT, "breed", "--spec", spec, "--op", "subtree", "--seed", "1", "--count", "20",
            "--json",
            "--vms", "1", parent]
    if code_path:
        args[2:2] = ["-o", f"beam.code_path={code_path}"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 20 and len({x["breeder"] for x in lines}) == 1, lines
    assert re.fullmatch(r"[0-9a-f]{32}", lines[0]["breeder"]), lines[0]
    return lines[0]["breeder"], [x["source"] for x in lines]


def swap_agent(c, **extra):
    """Stops the cluster's last agent and starts a new one with extra
    settings; returns once the new one is the only agent ready."""
    old = c.agents[-1]
    old.stop(signal.SIGTERM)
    new = c.add_agent(**extra)

    def only_new():
        ready = [m["name"] for m in c.ready_agents()]
        return ready == [new.name]
    wait_for(only_new, timeout=60, what=f"{new.name} the only agent ready")


def breeders_announced(c):
    """{agent name: breeders} of the active agents, as GET /v1/agents has
    them, once every one has announced its VMs' (each HELLO, every second)."""
    def announced():
        st, agents = c.api("GET", "/v1/agents")
        live = {a["name"]: a["breeders"] for a in agents if a["state"] == "active"}
        return live if live and all(live.values()) else None
    return wait_for(announced, timeout=30, what="the agents' breeders announced")


def test_replay_on_another_breeder_is_not_compared_and_the_same_breeder_still_compares(tmp):
    ours, children = breeder_of(tmp)
    d2 = other_breeder_ebin(tmp)
    theirs, children2 = breeder_of(tmp, d2)
    assert ours != theirs
    # the same parent, operator and seeds: other children, some of them
    assert sum(a != b for a, b in zip(children, children2)) >= 3

    c = Cluster(tmp, agents=1).start()
    try:
        spec = quadratic_spec(operators={"subtree": 1},
                              stop={"target_fitness": None, "max_evaluations": 600})
        st, body = c.api("POST", "/v1/populations", spec)
        assert st == 201, body
        wait_for(lambda: c.pop("quad")["state"] != "running", timeout=180,
                 what="the population's budget spent")
        st, doc = c.api("GET", "/v1/lineage/export?format=json")
        assert st == 200
        bred = [r for r in doc["records"] if r["operator"] in ("subtree", "random")]
        assert len(bred) >= 100
        # every one names the breeder the agent's VMs run, and is signed so
        assert all(r["record_version"] == 4 and r["breeder"] == ours for r in bred), bred[:2]
        r = c.cli("lineage", "verify", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, r.stdout
        # the agent announces its VMs' breeder to the coordinator
        assert breeders_announced(c) == {c.agents[-1].name: [ours]}

        # petri upgraded: the only agent now runs the other breeder
        swap_agent(c, **{"beam.code_path": d2})
        r = c.cli("lineage", "verify", "--replay", "40", "--json", timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        v = json.loads(r.stdout)
        assert v["ok"] is True and v["replayed"] == 40 and v["replay_mismatches"] == 0, v
        assert v["replay_other_breeder"] > 0, v
        assert len(v["replay_not_compared"]) == v["replay_other_breeder"]
        assert breeders_announced(c) == {c.agents[-1].name: [theirs]}
        for e in v["replay_not_compared"]:
            assert theirs in e["reason"] and ours in e["reason"], e
            # no agent runs the breeder that bred it any more, and the report says so
            assert e["announced_by"] == [], e
            assert "no agent's VMs run the record's breeder now" in e["reason"], e
        text = c.cli("lineage", "verify", "--replay", "10", timeout=300)
        assert text.returncode == 0
        assert "not compared" in text.stdout and "0 mismatches" in text.stdout, text.stdout

        # back on the breeder that bred them: every replay compares, and matches
        swap_agent(c)
        r = c.cli("lineage", "verify", "--replay", "40", "--json", timeout=300)
        v = json.loads(r.stdout)
        assert r.returncode == 0 and v["replayed"] == 40, v
        assert v["replay_mismatches"] == 0 and v["replay_other_breeder"] == 0, v
    finally:
        c.stop()


@pytest.mark.parametrize("features", [None, 1], ids=["older-coordinator", "coordinator"])
def test_agent_sends_the_breeder_only_to_a_coordinator_that_reads_it(tmp, features):
    ours, _ = breeder_of(tmp)
    key = base64.b64encode(os.urandom(32)).decode()
    coord = Coord(tmp, key, features)
    agent = Agent(tmp, "a1", {"gossip.key": key, "beam.vms": "1",
                              "work.coordinator": f"tcp://127.0.0.1:{coord.port}"}).start()
    try:
        coord.next(lambda m: m["type"] == "session", 60, "session")
        coord.send("breed", "p", 0, 1, "subtree", 5, spec_file(tmp),
                   os.path.join(tmp, "parent.erl"))
        r = coord.next(lambda m: m["type"] == "result", 60, "result")
        # signed as the layout says: attest version 3 with the breeder, else 2
        assert r["sig_ok"] is True and r["status"] == "ok" and r["dseq"] == 1, r
        if features:
            assert r["flags"] == 1 and r["breeder"] == ours, r
        else:
            assert r["flags"] == 0 and r["breeder"] is None, r
    finally:
        agent.stop(signal.SIGKILL)
        coord.close()
