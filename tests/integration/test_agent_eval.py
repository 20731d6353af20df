"""petri-agent eval/breed one-shot commands against real VMs: every genome
gets its status, bad specs and configs get a clear error and exit 2."""
import json
import os
import shutil

from conftest import AGENT, GENOMES, ROOT, SPECS, run

QUAD = os.path.join(SPECS, "quadratic.json")


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
        (dict(base, fitness={"cases": [{"in": [1], "out": "x"}]}), "fitness.cases[0].out"),
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
