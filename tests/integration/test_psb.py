"""The PSB1 benchmark's problems (configs/specs/psb/, tests/bench/psb/): the
committed specs are what the seeded generator writes, every reference
solution passes its training and held-out sets through `petri-agent eval`,
and the deliberately wrong solutions and the population seeds do not."""
import json
import os
import shutil
import sys

import pytest

from conftest import AGENT, ROOT, run

PSB = os.path.join(ROOT, "tests", "bench", "psb")
GEN = os.path.join(PSB, "gen.py")
SPECS = os.path.join(ROOT, "configs", "specs", "psb")
SOLUTIONS = os.path.join(PSB, "solutions")
WRONG = os.path.join(PSB, "wrong")

sys.dont_write_bytecode = True
sys.path.insert(0, PSB)
import gen  # noqa: E402

NAMES = list(gen.PROBLEMS)


def module(name):
    return name.replace("-", "_") + ".erl"


def scores(spec, genomes):
    """{genome path: result line} of one petri-agent eval run."""
    r = run([AGENT, "eval", "--spec", spec, "--vms", "1", *genomes], timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["genome"] for x in lines] == list(genomes)
    return {x["genome"]: x for x in lines}


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("psb-heldout"))
    r = run([sys.executable, GEN, "--test-dir", d, "--spec-dir", os.path.join(d, "specs")])
    assert r.returncode == 0, r.stderr
    return d


def test_at_least_six_problems_each_with_specs_and_a_solution():
    assert len(NAMES) >= 6
    for n in NAMES:
        for f in (n + ".json", n + "-population.json"):
            assert os.path.isfile(os.path.join(SPECS, f)), f
        assert os.path.isfile(os.path.join(SOLUTIONS, module(n))), n


def test_the_committed_specs_are_what_the_generator_writes(tmp):
    r = run([sys.executable, GEN, "--check", "--test-dir", tmp])
    assert r.returncode == 0, r.stderr
    # the check can fail: one changed expected output in a copy is found
    copy = os.path.join(tmp, "specs")
    shutil.copytree(SPECS, copy)
    path = os.path.join(copy, "count-odds.json")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('"out": 0}', '"out": 1}', 1))
    r = run([sys.executable, GEN, "--check", "--test-dir", os.path.join(tmp, "heldout"),
             "--spec-dir", copy])
    assert r.returncode == 1
    assert "count-odds.json: differs" in r.stderr


def test_the_generator_is_deterministic_and_sizes_follow_the_problems():
    for n in NAMES:
        p = gen.problem(n)
        train, test = gen.cases(p, "train"), gen.cases(p, "test")
        assert train == gen.cases(gen.problem(n), "train")
        assert len(train) == p["train"] and len(test) == p["test"]
        assert len(test) >= 100


def test_data_domains_split_fixed_sets_and_draw_the_rest():
    """A fixed domain is split between training and held-out inputs, none
    in both; a generator domain draws its counts; the suite's shares hold."""
    p = {"name": "domains", "train": 5, "test": 4,
         "domains": [([(i,) for i in range(5)], 3, 2), (lambda r: (r.randint(100, 200),), 2, 2)]}
    rng = __import__("random").Random(1)
    train, test = gen.domain_inputs(p, "train", rng), gen.domain_inputs(p, "test", rng)
    fixed_train = [x for (x,) in train if x < 100]
    fixed_test = [x for (x,) in test if x < 100]
    assert len(fixed_train) == 3 and len(fixed_test) == 2
    assert sorted(fixed_train + fixed_test) == list(range(5))
    assert sum(1 for (x,) in train if x >= 100) == 2
    p["domains"][0] = ([(i,) for i in range(4)], 3, 2)  # more than the set holds
    with pytest.raises(AssertionError):
        gen.domain_inputs(p, "train", rng)
    # last-index-of-zero trains on 30 of the 50 all-zero lists, tests on the other 20
    li = gen.problem("last-index-of-zero")
    zeros = [tuple(c["in"][0]) for c in gen.cases(li, "train") if set(c["in"][0]) == {0}]
    held = [tuple(c["in"][0]) for c in gen.cases(li, "test") if set(c["in"][0]) == {0}]
    assert len({z for z in zeros if len(z) > 6}) == len([z for z in zeros if len(z) > 6])
    assert not {z for z in zeros if len(z) > 6} & {z for z in held if len(z) > 6}
    assert len([z for z in zeros if len(z) > 6]) >= 24


def test_population_specs_train_on_the_training_cases_with_lexicase():
    for n in NAMES:
        with open(os.path.join(SPECS, n + ".json")) as f:
            train = json.load(f)
        with open(os.path.join(SPECS, n + "-population.json")) as f:
            pop = json.load(f)
        for k in ("function", "primitives", "fitness", "limits"):
            assert pop[k] == train[k], (n, k)
        assert "lexicase" in pop["selection"]
        assert pop["stop"]["target_fitness"] == 0


def test_split_tuples_give_the_text_and_the_count_an_error_each(tmp):
    """replace-space-with-newline grades {Text, Count} apart: two errors a
    case through a real agent and VM, the count's its distance."""
    with open(os.path.join(SPECS, "replace-space-with-newline.json")) as f:
        spec = json.load(f)
    assert spec["fitness"]["split_tuples"] is True
    spec["fitness"]["per_case"] = True
    path = os.path.join(tmp, "split.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    g = os.path.join(tmp, "g.erl")
    with open(g, "w") as f:
        f.write("-module(genome).\n-export([replace_space_with_newline/1]).\n"
                "replace_space_with_newline(S) -> {S, length(S)}.\n")
    res = scores(path, [g])[g]
    cases = spec["fitness"]["cases"]
    want = []
    for c in cases:
        text, count = c["out"]["$tuple"]
        s = c["in"][0]["$charlist"]
        want += [0.0 if s == text["$charlist"] else 1.0, float(len(s) - count)]
    assert res["status"] == "ok"
    assert res["errors"] == want
    assert res["cases"] == len(cases) and len(res["errors"]) == 2 * len(cases)
    assert res["fitness"] == sum(want)
    assert res["passed"] == sum(1 for c in cases if " " not in c["in"][0]["$charlist"])


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_training_and_heldout_and_wrong_ones_do_not(name, heldout, tmp):
    ref = os.path.join(SOLUTIONS, module(name))
    wrong = os.path.join(WRONG, module(name))
    seed = os.path.join(tmp, "seed.erl")
    with open(os.path.join(SPECS, name + "-population.json")) as f:
        with open(seed, "w") as g:
            g.write(json.load(f)["seeds"][0])
    genomes = [ref, seed] + ([wrong] if os.path.exists(wrong) else [])
    train = scores(os.path.join(SPECS, name + ".json"), genomes)
    r = train[ref]
    assert r["status"] == "ok" and r["passed"] == r["cases"] == gen.problem(name)["train"], r
    assert r["fitness"] == 0
    # the seed a population starts from is scored (ok) and is no solution
    s = train[seed]
    assert s["status"] == "ok" and s["passed"] < s["cases"], s
    if wrong in train:
        w = train[wrong]
        assert w["passed"] < w["cases"], w
    test = scores(os.path.join(heldout, name + "-test.json"), [ref])[ref]
    assert test["status"] == "ok" and test["passed"] == test["cases"] == gen.problem(name)["test"], test


def test_there_are_wrong_solutions_to_check_against():
    assert len([f for f in os.listdir(WRONG) if f.endswith(".erl")]) >= 6


def test_bench_steps_scores_the_stepping_stones_and_their_children():
    """bench_steps.py on last-index-of-zero's stepping stones: each parent's
    training error is what its code gives (right on the lists ending in 0,
    on the lists with one zero, almost nowhere, off by one on all 150), and
    the children are counted from `breed --count --score`."""
    r = run([sys.executable, os.path.join(ROOT, "tests", "bench", "bench_steps.py"),
             "--ops", "wrap,point", "--children", "30", "--vms", "1"], timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.splitlines()[-1])
    assert doc["bench"] == "steps" and doc["problem"] == "last-index-of-zero"
    errs = {x["parent"]: (x["parent_error"], x["parent_passed"]) for x in doc["rows"]}
    assert errs == {"1-length-tl.erl": (532, 57), "2-indexof.erl": (1879, 41),
                    "3-indexof-reverse.erl": (2071, 2), "4-off-by-one.erl": (150, 0)}
    assert len(doc["rows"]) == 8
    for x in doc["rows"]:
        assert x["children"] == 30 and 0 < x["scored"] <= x["bred"] <= 30, x
        assert x["solved"] <= x["better"] <= x["scored"], x
    r = run([sys.executable, os.path.join(ROOT, "tests", "bench", "bench_steps.py"),
             "--ops", "crossover"], timeout=60)
    assert r.returncode != 0 and "--donor" in r.stderr
