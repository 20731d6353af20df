"""petri-agent eval/breed one-shot commands against real VMs: every genome
gets its status, bad specs and configs get a clear error and exit 2."""
import json
import os
import shutil

from conftest import AGENT, GENOMES, ROOT, SPECS, run

QUAD = os.path.join(SPECS, "quadratic.json")
EXAMPLES = os.path.join(SPECS, "examples")


def small_spec(tmp, **limits):
    with open(QUAD) as f:
        spec = json.load(f)
    spec["limits"] = {"timeout_ms": 400, "heap_words": 200000, "reductions": 5000000}
    spec["limits"].update(limits)
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


def eval_lines(spec, genomes, vms=1, extra=()):
    r = run([AGENT, "eval", "--spec", spec, "--vms", str(vms), *extra, *genomes], timeout=180)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["genome"] for x in lines] == list(genomes)
    return lines


def g(name):
    return os.path.join(GENOMES, name)


def test_every_bad_genome_gets_its_status_and_the_vm_keeps_serving(tmp):
    huge = os.path.join(tmp, "huge.erl")
    with open(huge, "w") as f:
        f.write("-module(huge).\n-export([f/1]).\nf(X) -> X + 0" + " + 1" * (10 * 1024 * 1024 // 4) + ".\n")
    literal = os.path.join(tmp, "literal.erl")
    with open(literal, "w") as f:
        f.write("-module(literal).\n-export([f/1]).\nf(X) -> X + length([" + ",".join(["1"] * 25000) + "]).\n")
    expect = [
        ("good.erl", "ok"),
        ("syntax.erl", "parse_error"),
        ("os_cmd.erl", "unsafe"),
        ("halt.erl", "unsafe"),
        ("spawn.erl", "unsafe"),
        ("dynamic.erl", "unsafe"),
        ("stdout.erl", "unsafe"),
        ("loop.erl", "timeout"),
        ("deep.erl", "heap_limit"),
        ("bomb.erl", "heap_limit"),
        ("arity.erl", "compile_error"),
        ("noexport.erl", "compile_error"),
        ("atom.erl", "bad_result"),
        ("crash.erl", "crash"),
        (huge, "parse_error"),
        (literal, "parse_error"),
        ("close.erl", "ok"),
        ("good.erl", "ok"),
    ]
    paths = [p if os.path.isabs(p) else g(p) for p, _ in expect]
    if os.path.exists("/tmp/petri_escaped"):
        os.unlink("/tmp/petri_escaped")
    lines = eval_lines(small_spec(tmp), paths, vms=1)
    for (name, status), line in zip(expect, lines):
        assert line["status"] == status, (name, line)
        assert line["detail"] or status == "ok", (name, line)
        assert len(line["hash"]) == 64
        if status == "ok":
            assert "fitness" in line
        else:
            assert "fitness" not in line
    assert lines[0]["fitness"] == 0
    assert lines[-2]["fitness"] == 21  # off by one on each of the 21 cases
    assert "limit" in lines[14]["detail"]
    assert not os.path.exists("/tmp/petri_escaped")


def test_hash_is_blake2b_of_the_source(tmp):
    import hashlib
    lines = eval_lines(QUAD, [g("good.erl")])
    with open(g("good.erl"), "rb") as f:
        assert lines[0]["hash"] == hashlib.blake2b(f.read(), digest_size=32).hexdigest()


def test_elixir_genome_scored_or_clearly_unsupported(tmp):
    lines = eval_lines(QUAD, [g("good.ex")])
    if shutil.which("elixir"):
        assert lines[0]["status"] == "ok", lines[0]
        assert lines[0]["fitness"] == 0
    else:
        assert lines[0]["status"] == "unsupported"


def test_many_genomes_over_two_vms_keep_argument_order(tmp):
    paths = [g("good.erl"), g("close.erl")] * 10
    lines = eval_lines(QUAD, paths, vms=2)
    assert [x["fitness"] for x in lines] == [0, 21] * 10


def test_recycling_after_max_loads_loses_nothing(tmp):
    paths = [g("good.erl")] * 12
    lines = eval_lines(QUAD, paths, vms=1, extra=["-o", "beam.max_loads=3", "-o", "log.level=info"])
    assert all(x["status"] == "ok" for x in lines)


def test_breed_is_deterministic_and_valid(tmp):
    out = []
    for vms in ("1", "1"):
        r = run([AGENT, "breed", "--spec", QUAD, "--op", "crossover", "--seed", "42",
                 g("good.erl"), g("close.erl")])
        assert r.returncode == 0, r.stderr
        out.append(r.stdout)
    assert out[0] == out[1]
    child = os.path.join(tmp, "child.erl")
    with open(child, "w") as f:
        f.write(out[0])
    line = eval_lines(QUAD, [child])[0]
    assert line["status"] in ("ok", "crash", "bad_result"), line
    for op in ("point", "swap", "subtree", "hoist", "shrink"):
        r1 = run([AGENT, "breed", "--spec", QUAD, "--op", op, "--seed", "7", g("good.erl")])
        r2 = run([AGENT, "breed", "--spec", QUAD, "--op", op, "--seed", "7", g("good.erl")])
        assert r1.returncode == 0, (op, r1.stderr)
        assert r1.stdout == r2.stdout, op
        assert "-module(" in r1.stdout
    r = run([AGENT, "breed", "--spec", QUAD, "--op", "random", "--seed", "3"])
    assert r.returncode == 0 and "f(X) ->" in r.stdout, r.stderr


def breed_lines(*args, vms="2"):
    r = run([AGENT, "breed", "--spec", QUAD, "--vms", vms, *args], timeout=180)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_breed_count_scores_children_in_seed_order_as_single_breeds_do(tmp):
    """--count K --score: one JSON line per seed, in order, each child the
    one `breed --seed S` prints alone, its fitness the one `eval` gives."""
    lines = breed_lines("--op", "point", "--seed", "5", "--count", "12", "--score", g("good.erl"))
    assert [x["seed"] for x in lines] == list(range(5, 17))
    assert all(x["op"] == "point" and x["bred"] for x in lines), lines
    assert any(x["status"] == "ok" and "fitness" in x and x["cases"] > 0 for x in lines), lines
    # the same children on one VM and without scoring
    again = breed_lines("--op", "point", "--seed", "5", "--count", "12", g("good.erl"), vms="1")
    assert [x["source"] for x in again] == [x["source"] for x in lines]
    assert all("fitness" not in x for x in again)
    for x in (lines[0], lines[7]):
        r = run([AGENT, "breed", "--spec", QUAD, "--op", "point", "--seed", str(x["seed"]),
                 g("good.erl")])
        assert r.returncode == 0 and r.stdout.rstrip("\n") == x["source"].rstrip("\n")
        if x["status"] == "ok":
            child = os.path.join(tmp, "child%d.erl" % x["seed"])
            with open(child, "w") as f:
                f.write(x["source"])
            assert eval_lines(QUAD, [child])[0]["fitness"] == x["fitness"]


def test_breed_count_reports_a_child_it_cannot_make_and_goes_on(tmp):
    # one parent for a two-parent operator: every line says why, exit 0
    lines = breed_lines("--op", "crossover", "--seed", "1", "--count", "3", g("good.erl"))
    assert [x["bred"] for x in lines] == [False] * 3
    assert all("2 parent" in x["detail"] and "source" not in x for x in lines), lines
    # a parent that is not a module: bred false, with the parser's word
    lines = breed_lines("--op", "point", "--seed", "1", "--json", g("syntax.erl"))
    assert len(lines) == 1 and not lines[0]["bred"] and lines[0]["detail"], lines
    for bad in ("0", "-3", "x", "10000001"):
        r = run([AGENT, "breed", "--spec", QUAD, "--op", "point", "--seed", "1", "--count", bad,
                 g("good.erl")])
        assert r.returncode == 2 and "--count" in r.stderr, (bad, r.stderr)
    # seeds past INT64_MAX, the largest a JSON line holds
    r = run([AGENT, "breed", "--spec", QUAD, "--op", "point", "--seed", str(2**63 - 8),
             "--count", "9", g("good.erl")])
    assert r.returncode == 2 and "runs past" in r.stderr, r.stderr
    assert len(breed_lines("--op", "point", "--seed", str(2**63 - 8), "--count", "8",
                           g("good.erl"), vms="1")) == 8


def test_breed_bad_usage(tmp):
    r = run([AGENT, "breed", "--spec", QUAD, "--seed", "1", g("good.erl")])
    assert r.returncode == 2 and "--op" in r.stderr
    r = run([AGENT, "breed", "--spec", QUAD, "--op", "nonsense", "--seed", "1", g("good.erl")])
    assert r.returncode == 1 and "nonsense" in r.stderr
    r = run([AGENT, "breed", "--spec", QUAD, "--op", "point", "--seed", "1", g("syntax.erl")])
    assert r.returncode == 1


def write_spec(tmp, spec):
    p = os.path.join(tmp, "bad.json")
    with open(p, "w") as f:
        f.write(spec if isinstance(spec, str) else json.dumps(spec))
    return p


def test_bad_specs_name_the_field(tmp):
    with open(QUAD) as f:
        base = json.load(f)
    cases = [
        ({k: v for k, v in base.items() if k != "function"}, "function"),
        (dict(base, function=3), "function"),
        (dict(base, function="f/x"), "function"),
        (dict(base, colour="red"), "colour"),
        (dict(base, fitness={"cases": "all"}), "fitness.cases"),
        (dict(base, fitness={"cases": [{"in": [1], "out": {"$atom": "x"}}]}), "fitness.cases[0].out"),
        (dict(base, fitness={"cases": [{"in": [1, 2], "out": 1}]}), "fitness.cases[0].in"),
        (dict(base, limits={"timeout_ms": -1}), "limits.timeout_ms"),
        (dict(base, limits={"heap": 1}), "limits.heap"),
        (dict(base, primitives={"ops": []}), "primitives.ops"),
        (dict(base, language="cobol"), "language"),
        ("{not json", "invalid JSON"),
    ]
    for spec, field in cases:
        r = run([AGENT, "eval", "--spec", write_spec(tmp, spec), g("good.erl")])
        assert r.returncode == 2, (field, r.stderr)
        assert field in r.stderr, (field, r.stderr)
    r = run([AGENT, "eval", "--spec", os.path.join(tmp, "missing.json"), g("good.erl")])
    assert r.returncode == 2 and "missing.json" in r.stderr
    r = run([AGENT, "eval", "--spec", QUAD])
    assert r.returncode == 2 and "genome" in r.stderr


def test_missing_genome_file_gets_a_status(tmp):
    lines = eval_lines(QUAD, [os.path.join(tmp, "nope.erl"), g("good.erl")])
    assert lines[0]["status"] == "parse_error" and "nope.erl" in lines[0]["detail"]
    assert lines[1]["status"] == "ok"


def test_config_check(tmp):
    r = run([AGENT, "-c", os.path.join(ROOT, "configs", "agent.conf"), "-n"])
    assert r.returncode == 0, r.stderr
    assert "max_rss_mb" in r.stdout
    bad = os.path.join(tmp, "bad.conf")
    for text, needle in [("[beam]\nvms = many\n", "vms"), ("[beam]\ncolour = red\n", "colour"),
                         ("[nosuch]\nx = 1\n", "nosuch"), ("[log]\nsyslog = maybe\n", "syslog")]:
        with open(bad, "w") as f:
            f.write(text)
        r = run([AGENT, "-c", bad, "-n"])
        assert r.returncode == 2, text
        assert needle in r.stderr, (text, r.stderr)
    r = run([AGENT, "-n"], env={"PETRI_BEAM_VMS": "-3"})
    assert r.returncode == 2 and "vms" in r.stderr
    r = run([AGENT, "-n", "-o", "beam.vms=3"], env={"PETRI_BEAM_VMS": "2"})
    assert r.returncode == 0 and "vms = 3" in r.stdout


def test_help_everywhere():
    for cmd in ([], ["eval"], ["breed"], ["evolve"], ["status"]):
        r = run([AGENT, *cmd, "--help"])
        assert r.returncode == 0 and "usage" in r.stdout, cmd
    r = run([AGENT, "frobnicate"])
    assert r.returncode == 2


# ---- real programs: term cases, evaluator modules, cost, per-case errors ----
# (the VM side of the contract in shared/wire.h: term_cases, RESULT_EXT)

def spec(name):
    return os.path.join(SPECS, name)


def ex(name):
    return os.path.join(EXAMPLES, name)


def cases_of(name):
    with open(spec(name)) as f:
        return json.load(f)["fitness"]["cases"]


def test_every_example_spec_is_valid(tmp):
    names = [n for n in sorted(os.listdir(SPECS)) if n.endswith(".json") and "population" not in n]
    assert {"sort.json", "sort-elixir.json", "reverse.json", "sign.json",
            "sort-evaluator.json"} <= set(names)
    for n in names:
        r = run([AGENT, "eval", "--spec", spec(n), os.path.join(tmp, "absent.erl")])
        assert r.returncode == 0, (n, r.stderr)
        line = json.loads(r.stdout)
        assert line["status"] == "parse_error" and "absent.erl" in line["detail"], (n, line)
        for key in ("passed", "cases", "cost", "reused", "metrics"):
            assert key in line, (n, key)


def test_merge_sort_passes_every_list_case():
    n = len(cases_of("sort.json"))
    line = eval_lines(spec("sort.json"), [ex("merge_sort.erl")])[0]
    assert line["status"] == "ok", line
    assert (line["passed"], line["cases"]) == (n, n), line
    assert line["fitness"] == 0
    m = line["metrics"]
    assert list(m)[:3] == ["reductions", "heap_words", "eval_us"], m
    assert m["reductions"] > 0 and m["heap_words"] > 0
    # lexicographic cost on reductions (weight 1): the cost is the reductions
    assert line["cost"] == m["reductions"], line
    assert line["reused"] in (True, False)
    assert "errors" not in line  # per_case is off in sort.json


def test_wrong_sort_gets_partial_passes():
    n = len(cases_of("sort.json"))
    good, wrong = eval_lines(spec("sort.json"), [ex("merge_sort.erl"), g("bubble_once.erl")])
    assert good["passed"] == n
    # one bubble pass sorts [], [1], [2,1], [1,2] and [3,1,2] only
    assert wrong["status"] == "ok", wrong
    assert (wrong["passed"], wrong["cases"]) == (5, n), wrong
    # a wrong list is not a number: each failed case costs mismatch_error (1)
    assert wrong["fitness"] == n - 5


def test_elixir_enum_sort_passes_every_list_case():
    n = len(cases_of("sort-elixir.json"))
    line = eval_lines(spec("sort-elixir.json"), [ex("enum_sort.ex")])[0]
    if not shutil.which("elixir"):
        assert line["status"] == "unsupported", line
        return
    assert line["status"] == "ok", line
    assert (line["passed"], line["cases"]) == (n, n), line
    assert line["fitness"] == 0


def test_string_task_with_per_case_errors():
    cases = cases_of("reverse.json")
    n = len(cases)
    right, ident = eval_lines(spec("reverse.json"), [ex("reverse.erl"), g("identity.erl")])
    assert right["status"] == "ok", right
    assert (right["passed"], right["cases"]) == (n, n), right
    assert right["errors"] == [0] * n, right
    # the identity is right on the palindromes only; each miss costs 1
    want = [0 if c["in"][0] == c["out"] else 1 for c in cases]
    assert ident["status"] == "ok", ident
    assert ident["errors"] == want, ident
    assert ident["passed"] == want.count(0) and ident["cases"] == n
    assert ident["fitness"] == sum(want)


def test_atoms_as_expected_values():
    n = len(cases_of("sign.json"))
    line = eval_lines(spec("sign.json"), [ex("sign.erl")])[0]
    assert line["status"] == "ok", line
    assert (line["passed"], line["cases"], line["fitness"]) == (n, n, 0), line


def test_evaluator_module_scores_and_reports_its_metrics():
    good, wrong = eval_lines(spec("sort-evaluator.json"), [ex("merge_sort.erl"), g("bubble_once.erl")])
    assert good["status"] == "ok", good
    assert good["fitness"] == 0
    m = good["metrics"]
    assert list(m)[:3] == ["reductions", "heap_words", "eval_us"], m
    assert m["lists"] == 40 and m["wrong"] == 0, m
    assert wrong["status"] == "ok", wrong
    assert wrong["fitness"] > 0
    assert 0 < wrong["metrics"]["wrong"] <= 40, wrong
    assert wrong["fitness"] >= wrong["metrics"]["wrong"]


def test_evaluator_file_is_relative_to_the_spec_file(tmp):
    d = os.path.join(tmp, "deep", "specs")
    os.makedirs(os.path.join(d, "mods"))
    shutil.copy(ex("sort_evaluator.erl"), os.path.join(d, "mods", "ev.erl"))
    with open(spec("sort-evaluator.json")) as f:
        s = json.load(f)
    s["fitness"]["evaluator"] = {"file": "mods/ev.erl"}
    path = os.path.join(d, "s.json")
    with open(path, "w") as f:
        json.dump(s, f)
    # run from elsewhere: the path is the spec file's, not the working directory's
    r = run([AGENT, "eval", "--spec", path, ex("merge_sort.erl")], cwd="/")
    assert r.returncode == 0, r.stderr
    line = json.loads(r.stdout)
    assert line["status"] == "ok" and line["fitness"] == 0, line
    assert line["metrics"].get("lists") == 40, line  # the evaluator ran


def test_bad_program_specs_name_the_field(tmp):
    with open(spec("sort.json")) as f:
        base = json.load(f)
    fit = base["fitness"]

    def with_fitness(**kw):
        return dict(base, fitness=dict(fit, **kw))

    cases = [
        (with_fitness(cases=fit["cases"][:2] + [{"in": [[1]], "out": {"$atom": "foo"}}]),
         'fitness.cases[2].out: atom "foo" is not declared in fitness.atoms'),
        (with_fitness(cases=[{"in": [{"$tupel": [1, 2]}], "out": []}]),
         'fitness.cases[0].in[0]: "$tupel" is not a tag'),
        (with_fitness(cases=[{"in": [[1]], "out": {"$tuple": [1], "x": 2}}]),
         "fitness.cases[0].out"),
        (with_fitness(atoms=["Ok"]), "fitness.atoms[0]"),
        (with_fitness(float_tolerance=-1), "fitness.float_tolerance"),
        (with_fitness(cost={"mode": "cheapest"}), "fitness.cost.mode"),
        (with_fitness(per_case="yes"), "fitness.per_case"),
        (dict(base, fitness={"evaluator": {"file": "no_such_evaluator.erl"}}),
         "fitness.evaluator.file"),
        (dict(base, fitness={"evaluator": {"file": "evaluator.txt"}}), "fitness.evaluator.file"),
        (dict(base, fitness={"evaluator": {"source": "", "language": "erlang"}}),
         "fitness.evaluator.source"),
        (dict(base, fitness={"error": "abs"}), "fitness.cases"),
    ]
    for s, field in cases:
        r = run([AGENT, "eval", "--spec", write_spec(tmp, s), ex("merge_sort.erl")])
        assert r.returncode == 2, (field, r.stderr)
        assert field in r.stderr, (field, r.stderr)
    # the missing evaluator file is named with the spec file's directory
    r = run([AGENT, "eval", "--spec", write_spec(tmp, cases[7][0]), ex("merge_sort.erl")])
    assert os.path.join(tmp, "no_such_evaluator.erl") in r.stderr, r.stderr


def test_result_cache_reuses_identical_evaluations_and_can_be_turned_off():
    # the same genome three times on one VM, one request at a time: the first
    # is compiled and scored, the others are answered from the VM's cache
    spec = os.path.join(ROOT, "configs", "specs", "quadratic.json")
    same = [g("good.erl")] * 3
    on = eval_lines(spec, same, extra=["-o", "beam.pipeline=1"])
    assert [x["reused"] for x in on] == [False, True, True], on
    assert len({(x["status"], x["fitness"]) for x in on}) == 1
    off = eval_lines(spec, same, extra=["-o", "beam.pipeline=1", "-o", "beam.result_cache=false"])
    assert [x["reused"] for x in off] == [False, False, False], off
    assert [x["fitness"] for x in off] == [x["fitness"] for x in on]


def test_evolve_runs_generations_and_counts_reused_results():
    # the single-host demo: breeding and scoring in the VMs, one JSON line per
    # generation; identical children are answered from the VMs' result cache
    r = run([AGENT, "evolve", "--spec", os.path.join(ROOT, "configs", "specs", "quadratic.json"),
             "--population", "60", "--generations", "4", "--seed", "7", "--vms", "2", "--json"],
            timeout=300)
    assert r.returncode in (0, 1), r.stderr  # 1: not solved in 4 generations
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    gens = [x for x in lines if "generation" in x and "evaluations" in x and "solved" not in x]
    assert gens and gens[0]["generation"] == 0
    assert all(x["size"] == 60 and x["evaluations"] > 0 for x in gens)
    assert all(0 <= x["reused"] <= x["evaluations"] for x in gens)
    assert [x["evaluations"] for x in gens] == sorted(x["evaluations"] for x in gens)
    last = lines[-1]
    assert last["solved"] is (r.returncode == 0) and last["evaluations"] == gens[-1]["evaluations"]
    assert last["reused"] == gens[-1]["reused"] and "-module(" in last["source"]
