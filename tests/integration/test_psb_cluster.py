"""PSB1 on a real cluster: a coordinator and two agents evolve a program for
a PSB1 problem from its committed population spec (typed primitives, the
program operators, lexicase), the best genome passes the held-out set the
seeded generator writes, and the lineage replays with no mismatch."""
import json
import os
import sys

import pytest

from cluster import Cluster
from conftest import AGENT, ROOT, run, wait_for

PSB = os.path.join(ROOT, "tests", "bench", "psb")
SPECS = os.path.join(ROOT, "configs", "specs", "psb")
sys.dont_write_bytecode = True
sys.path.insert(0, PSB)
import gen  # noqa: E402

# negative-to-zero (a list in, a list out): solved after 1,300-8,700
# evaluations (5-28 s on a loaded machine) in each of eleven trials of this
# test when it was written (PushGP + lexicase: 45 of 100 runs at up to
# 300,000 evaluations). With the spec's 2 demes of 100, 2 runs in 8 of
# bench_psb did not solve it within 20,000: 12 demes of 20 did better here.
PROBLEM = "negative-to-zero"
BUDGET = 30000


@pytest.fixture
def cluster(tmp):
    c = Cluster(tmp, agents=2, vms=1).start()
    yield c
    c.stop()


def test_a_psb1_problem_is_solved_on_the_cluster_and_generalises(cluster, tmp):
    c = cluster
    with open(os.path.join(SPECS, PROBLEM + "-population.json")) as f:
        spec = json.load(f)
    assert "lexicase" in spec["selection"] and spec["operators"].get("fold", 0) > 0
    # 12 demes of 20: rendezvous hashing leaves one of the two agents without
    # a deme once in 2^11 starts, not once in 2 as with the spec's 2 demes
    spec.update({"name": "psb", "size": 240, "demes": 12,
                 "stop": {"target_fitness": 0, "max_evaluations": BUDGET}})
    st, body = c.api("POST", "/v1/populations", spec)
    assert st == 201, body
    p = wait_for(lambda: c.pop("psb")["state"] != "running" and c.pop("psb"),
                 timeout=240, interval=0.5, what="psb finished")
    assert p["state"] == "solved", (p["state"], p.get("evaluations"), p.get("best"))
    print("solved after %s evaluations:\n%s" % (p["evaluations"], p["best"]["source"]))
    # both agents bred and scored children, and signed them
    recs = c.api("GET", "/v1/lineage/export?format=json")[1]["records"]
    assert len({r["agent"] for r in recs if r.get("agent")}) == 2, recs[:2]
    # the training set is fitted: now the held-out cases it never saw
    test_spec = os.path.join(tmp, "test.json")
    with open(test_spec, "w") as f:
        f.write(gen.dump(gen.eval_spec(gen.problem(PROBLEM), "test")))
    best = os.path.join(tmp, "best.erl")
    with open(best, "w") as f:
        f.write(p["best"]["source"])
    r = run([AGENT, "eval", "--spec", test_spec, "--vms", "1", best], timeout=120)
    line = json.loads(r.stdout)
    n = gen.problem(PROBLEM)["test"]
    assert line["status"] == "ok" and line["passed"] == line["cases"] == n, \
        (line, p["best"]["source"])
    # every derivation sampled re-derives the same child on the agents
    r = c.cli("lineage", "verify", "--replay", "50", "--json")
    v = json.loads(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert v["ok"] is True and v["replayed"] > 0 and v["replay_mismatches"] == 0, v
