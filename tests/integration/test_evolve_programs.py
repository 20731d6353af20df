"""Evolving list programs on real VMs: the single-host demo solves an easy
list task for a fixed seed, breeding with the program operators is
deterministic across VMs, and a cluster population that uses them replays
its lineage."""
import json
import os

import pytest

from cluster import Cluster
from conftest import AGENT, SPECS, run, wait_for

NEG = os.path.join(SPECS, "remove-negatives.json")
SUM = os.path.join(SPECS, "sum-list.json")
PROGRAM_OPS = ["call_swap", "literal", "pattern", "guard", "clause_add", "clause_del",
               "clause_swap", "clause_xover", "helper", "inline", "fold", "recurse", "wrap"]


def evolve(spec, seed, population=100, generations=20, operators=None):
    extra = ["--operators", operators] if operators else []
    r = run([AGENT, "evolve", "--spec", spec, "--population", str(population),
             "--generations", str(generations), "--seed", str(seed), "--vms", "1", "--json",
             *extra], timeout=240)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    return r, [x for x in lines if "generation" in x and "best" in x], lines[-1]


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_remove_negatives_is_solved_for_a_fixed_seed(tmp):
    # seed 2: solved in generation 10 with population 100 when this test was
    # written (seeds 1-5 all solve within 20 generations)
    r, gens, last = evolve(NEG, seed=2)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert last["solved"] is True, last
    assert gens[0]["best"] > 0, gens[0]  # generation 0 (random genomes) has not solved it
    # the winner, scored again on its own, passes every case
    winner = write(tmp, "winner.erl", last["source"])
    r = run([AGENT, "eval", "--spec", NEG, winner])
    line = json.loads(r.stdout)
    assert line["status"] == "ok" and line["fitness"] == 0, line
    assert line["passed"] == line["cases"] == 10, line


def test_progress_is_monotone_with_elitism(tmp):
    r, gens, _ = evolve(NEG, seed=1, population=40, generations=4)
    assert gens, r.stdout + r.stderr
    best = [g["best"] for g in gens]
    assert all(b2 <= b1 for b1, b2 in zip(best, best[1:])), best


def test_evolve_takes_the_program_operators(tmp):
    # sum-list has no sum or fold among its primitives: the expression
    # operators alone stay at error 8 for this seed; with fold and recurse
    # among the rates the run found a sum in generation 7 when this test was
    # last changed (seeds 5, 7, 9, 10, 11 and 12 of 1-12 within 15
    # generations; seed 7 solved before fold's lift over hd(L) as well)
    ops = "fold=1,recurse=1,subtree=1,crossover=1,point=1"
    r, gens, last = evolve(SUM, seed=7, population=40, generations=15, operators=ops)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert last["solved"] is True, last
    src = last["source"]
    assert "lists:foldl(" in src or src.count("total(") > 1, src
    winner = write(tmp, "winner.erl", src)
    line = json.loads(run([AGENT, "eval", "--spec", SUM, winner]).stdout)
    assert line["status"] == "ok" and line["passed"] == line["cases"] == 8, line
    r, _, last = evolve(SUM, seed=7, population=40, generations=15)
    assert r.returncode == 1 and last["solved"] is False, last
    for bad, msg in (("fold=1,bogus=2", "bogus: unknown operator"),
                     ("fold=0", "add up to 0"), ("fold", "expected NAME=RATE")):
        r = run([AGENT, "evolve", "--spec", SUM, "--operators", bad], timeout=60)
        assert r.returncode == 2 and msg in r.stderr, (bad, r.stderr)


PARENT = """-module(genome).
-export([keep/1]).

keep(L) ->
    lists:reverse(L).
"""

def test_breed_program_ops_is_deterministic_across_vms_and_children_score(tmp):
    parent = write(tmp, "parent.erl", PARENT)
    other = write(tmp, "other.erl", PARENT.replace("lists:reverse(L)",
                                                   "lists:filter(fun(X) -> X > 0 end, L)"))
    children = []
    for op in ("fold", "recurse", "helper", "clause_xover", "pattern", "random"):
        parents = [] if op == "random" else [parent, other] if op == "clause_xover" else [parent]
        outs = [run([AGENT, "breed", "--spec", NEG, "--op", op, "--seed", "5", *parents])
                for _ in range(2)]  # two VM processes
        assert outs[0].returncode == 0, (op, outs[0].stderr)
        assert outs[0].stdout == outs[1].stdout, op
        assert "keep(" in outs[0].stdout, outs[0].stdout
        children.append(write(tmp, f"{op}.erl", outs[0].stdout))
    r = run([AGENT, "eval", "--spec", NEG, *children])
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == len(children), r.stderr
    for line in lines:
        # compiled, loaded and ran (a pattern may leave an input unmatched)
        assert line["status"] in ("ok", "crash"), line


@pytest.fixture
def cluster(tmp):
    c = Cluster(tmp, agents=2).start()
    yield c
    c.stop()


def test_population_with_program_operators_replays(cluster):
    c = cluster
    with open(SUM) as f:
        spec = json.load(f)
    ops = {op: 1.0 for op in PROGRAM_OPS}
    ops.update({"subtree": 2.0, "point": 1.0, "crossover": 2.0})
    spec.update({"name": "sum", "size": 40, "demes": 2, "operators": ops,
                 "stop": {"target_fitness": 0, "max_evaluations": 6000}})
    st, body = c.api("POST", "/v1/populations", spec)
    assert st == 201, body
    p = wait_for(lambda: c.pop("sum")["state"] in ("solved", "stopped") and c.pop("sum"),
                 timeout=240, interval=0.5, what="sum finished")
    first = c.api("GET", "/v1/lineage/export?format=json")[1]["records"]
    used = {r["operator"] for r in first}
    assert used & set(PROGRAM_OPS), used
    r = c.cli("lineage", "verify", "--replay", "40", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads(r.stdout)
    assert v["ok"] is True and v["replayed"] > 0, v
    # 143: the error of the constant 0 (the sum of the expected values' sizes)
    assert p["best"]["fitness"] < 143, p["best"]
