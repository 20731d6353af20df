"""External mutators: prompt bundles, `petri mutate` with the example
mutator and with misbehaving commands, children in the lineage with their
origin (operator external, parents, mutator name, input hash), failure
records, verification, and a clean stop on SIGTERM. A real coordinator and
agent on loopback."""
import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from cluster import Cluster, quadratic_spec
from conftest import PETRI, pid_alive, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXTUAL = os.path.join(ROOT, "configs", "mutators", "textual.py")


def seeds(n):
    """n distinct starting genomes, so that every deme fills with members."""
    return ["-module(g).\n-export([f/1]).\nf(X) -> X * X + %d * X - %d.\n" % (k % 4, k)
            for k in range(n)]


@pytest.fixture(scope="module")
def cl():
    d = tempfile.mkdtemp(prefix="petri-mut-")
    c = Cluster(d, agents=1).start()
    spec = quadratic_spec(name="mut", size=16, demes=2, seeds=seeds(16),
                          stop={"target_fitness": None, "max_evaluations": 10 ** 7})
    st, body = c.api("POST", "/v1/populations", spec)
    assert st == 201, body
    wait_for(lambda: c.api("GET", "/v1/populations/mut/bundle")[0] == 200, timeout=60,
             interval=0.2, what="a member to sample")
    yield c
    c.stop()
    shutil.rmtree(d, ignore_errors=True)


def mutate(c, *args, timeout=120):
    return c.cli("mutate", "mut", *args, timeout=timeout)


def json_lines(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def record_of(c, ack, timeout=60):
    """The genome and its record of one submission (its derivation key: the
    same source may have been submitted before)."""
    h = ack["hash"]

    def got():
        st, g = c.api("GET", f"/v1/genomes/{h}")
        recs = [r for r in (g.get("records", []) if st == 200 else [])
                if (r["population"], r["deme"], r["dseq"]) == ("mut", ack["deme"], ack["dseq"])]
        return recs and (g, recs[0])
    return wait_for(got, timeout=timeout, interval=0.2, what=f"the record of {h[:12]}")


def test_bundle(cl):
    st, b = cl.api("GET", "/v1/populations/mut/bundle?members=3&deme=1")
    assert st == 200, b
    assert b["population"] == "mut" and b["deme"] == 1 and b["bundle_version"] == 1
    s = b["spec"]
    assert (s["function"], s["arity"], s["language"]) == ("f", 1, "erlang")
    assert s["primitives"]["ops"] == ["+", "-", "*"] and s["vars"] == ["X"]
    assert len(s["cases"]) == 21 and s["cases_total"] == 21
    assert s["cases"][0] == {"in": [-10], "out": 79, "index": 0}
    ps = b["parents"]
    assert 1 <= len(ps) <= 3
    fits = [p["fitness"] for p in ps]
    assert fits[0] == min(fits), fits  # the deme's best first
    assert len({p["hash"] for p in ps}) == len(ps)
    for p in ps:
        assert "f(" in p["source"] and len(p["hash"]) == 64
        assert isinstance(p["passed"], int) and p["passed"] <= p["cases"] <= 21
        assert p["failing"] is None  # tournament: no per-case errors kept
    assert any("per-case errors" in n for n in b["notes"])
    assert len(b["bundle_hash"]) == 64
    for bad in ("members=0", "members=17", "deme=2", "members=x"):
        st, e = cl.api("GET", f"/v1/populations/mut/bundle?{bad}")
        assert st == 400 and bad.split("=")[0] in e["error"], (bad, e)
    st, e = cl.api("GET", "/v1/populations/nope/bundle")
    assert st == 404


def test_lexicase_bundle_has_failing_cases(cl):
    spec = quadratic_spec(name="lex", size=8, demes=1, selection={"lexicase": {}},
                          seeds=seeds(8), stop={"target_fitness": None, "max_evaluations": 200})
    st, body = cl.api("POST", "/v1/populations", spec)
    assert st == 201, body
    st, b = wait_for(lambda: (lambda r: r[0] == 200 and r)(
        cl.api("GET", "/v1/populations/lex/bundle?members=4")), timeout=60, interval=0.2,
        what="a lexicase bundle")
    fails = [p["failing"] for p in b["parents"]]
    assert all(isinstance(f, list) for f in fails), fails
    for p in b["parents"]:
        assert len(p["failing"]) == min(16, p["cases"] - p["passed"]), p
        for f in p["failing"]:
            assert f["error"] > 0 and f["in"] == b["spec"]["cases"][f["index"]]["in"]
    cl.api("POST", "/v1/populations/lex/stop", "")


def test_population_not_running(cl):
    """petri mutate stops at once, cleanly, on a population that is not
    running (with members or none yet)."""
    spec = quadratic_spec(name="halt", size=4, demes=1, seeds=seeds(4))
    st, body = cl.api("POST", "/v1/populations", spec)
    assert st == 201, body
    st, body = cl.api("POST", "/v1/populations/halt/stop", "")
    assert st == 200 and body["state"] == "stopped", body
    r = cl.cli("mutate", "halt", "--command", "cat", "--count", "3", "--json")
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    assert "population halt is stopped; stopping" in r.stderr, r.stderr


def test_submission_checks(cl):
    st, b = cl.api("GET", "/v1/populations/mut/bundle")
    good = {"source": b["parents"][0]["source"], "mutator": "hand",
            "input_hash": b["bundle_hash"], "parents": [b["parents"][0]["hash"]]}
    cases = [
        ({"mutator": "Hand Made"}, "mutator"),
        ({"mutator": "x" * 33}, "mutator"),
        ({"input_hash": "abc"}, "input_hash"),
        ({"parents": ["00" * 32]}, "parents[0]"),
        ({"parents": [b["parents"][0]["hash"]] * 3}, "parents"),
        ({"parents": ["zz"]}, "parents[0]"),
        ({"failure": "because"}, "failure"),
        ({"failure": "too_big", "source": "a" * 5000}, "source"),
        ({"source": ""}, "source"),
    ]
    for change, field in cases:
        st, e = cl.api("POST", "/v1/populations/mut/genomes", dict(good, **change))
        assert st == 400 and field in e["error"], (change, st, e)
    body = dict(good)
    del body["mutator"]
    st, e = cl.api("POST", "/v1/populations/mut/genomes", body)
    assert st == 400 and "mutator" in e["error"]
    st, e = cl.api("POST", "/v1/populations/mut/genomes", good, token=False)
    assert st == 401
    # a known parent: a member now, and named so in the answer
    st, ack = cl.api("POST", "/v1/populations/mut/genomes",
                     dict(good, source=good["source"] + "\n%% by hand\n"))
    assert st == 202, ack
    assert ack["operator"] == "external" and ack["parents"][0]["known_as"] in ("member", "lineage")
    g, rec = record_of(cl, ack)
    assert rec["operator"] == "external" and rec["mutator"] == "hand"
    assert rec["input_hash"] == b["bundle_hash"] and rec["parents"] == good["parents"]


def test_mutate_with_the_example_mutator(cl):
    r = mutate(cl, "--command", f"/usr/bin/python3 {TEXTUAL}", "--count", "5", "--json",
               "--concurrency", "2", "--members", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = json_lines(r.stdout)
    assert len(lines) == 5 and all(l["outcome"] == "submitted" for l in lines), lines
    assert "5 submitted, 5 ok, 0 failed" in r.stderr
    ok = 0
    for l in lines:
        assert l["mutator"] == "textual.py"
        g, rec = record_of(cl, l)
        assert rec["operator"] == "external" and rec["mutator"] == "textual.py"
        assert rec["input_hash"] == l["bundle_hash"]
        # the parent the mutator named on its comment line
        named = g["source"].splitlines()[0].split("petri-parents:")[1].strip()
        assert rec["parents"] == [named] == [p["hash"] for p in l["parents"]]
        ok += rec["status"] == "ok"
    assert ok >= 3  # textual variations keep the module a module
    h = lines[0]["hash"]
    show = cl.cli("genome", "show", h)
    assert show.returncode == 0 and "mutator textual.py" in show.stdout, show.stdout
    tree = cl.cli("lineage", "show", h, "--depth", "2")
    assert tree.returncode == 0 and "op=external mutator=textual.py" in tree.stdout, tree.stdout
    st, exp = cl.api("GET", "/v1/lineage/export?format=json")
    assert sum(1 for e in exp["records"] if e.get("mutator") == "textual.py") == 5
    v = cl.cli("lineage", "verify", "--json")
    assert v.returncode == 0 and json.loads(v.stdout)["ok"] is True, v.stdout


@pytest.mark.parametrize("name,cmd,extra,status,kept", [
    ("garbage", "echo this is not erlang at all", [], "parse_error", None),
    ("silent", "true", [], "parse_error", ""),
    ("sleeper", "sleep 30", ["--timeout", "1"], "timeout", ""),
    ("flood", "head -c 10000000 /dev/zero | tr '\\0' a", [], "parse_error", "a" * 4096),
    ("binary", "printf 'ab\\377\\376cd'", [], "parse_error", "ab"),
    # under --max-bytes, but twice [http] max_body_bytes once escaped in JSON
    ("quotes", "head -c 1000000 /dev/zero | tr '\\0' '\"'", ["--max-bytes", "1048576"],
     "parse_error", '"' * 4096),
])
def test_bad_answers_are_failure_records(cl, name, cmd, extra, status, kept):
    r = mutate(cl, "--command", cmd, "--name", name, "--count", "2", "--json", *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = json_lines(r.stdout)
    assert len(lines) == 2 and all(l["hash"] for l in lines), lines
    for l in lines:
        g, rec = record_of(cl, l)
        assert rec["status"] == status and rec["mutator"] == name, rec
        assert rec["operator"] == "external" and rec["input_hash"] == l["bundle_hash"]
        if kept is not None:
            assert g["source"] == kept
    if name != "garbage":
        assert "2 submitted, 0 ok, 2 failed" in r.stderr, r.stderr
        assert all(l["outcome"] != "submitted" for l in lines), lines
    v = cl.cli("lineage", "verify", "--json")
    assert v.returncode == 0 and json.loads(v.stdout)["ok"] is True, v.stdout


def test_answer_is_whole_when_stdout_closes(cl):
    """A command that closes its stdout and lingers is not waited for: its
    answer is submitted (and the command killed), not recorded as late."""
    cmd = "printf '%s' \"$(cat >/dev/null; echo '-module(g).')\"; exec >&-; sleep 60"
    r = mutate(cl, "--command", cmd, "--name", "lingering", "--count", "2", "--timeout", "50",
               "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    for l in json_lines(r.stdout):
        assert l["outcome"] == "submitted" and l["exit_status"] == 128 + 9, l
        g, rec = record_of(cl, l)
        assert rec["status"] != "timeout" and g["source"] == "-module(g)."


def test_parents_named_outside_the_bundle_are_not_taken(cl, tmp_path):
    liar = tmp_path / "liar.py"
    liar.write_text("import json, sys\n"
                    "b = json.load(sys.stdin)\n"
                    "print('%% petri-parents: ' + 'ab' * 32)\n"
                    "print(b['parents'][-1]['source'] + '%% ' + b['bundle_hash'])\n")
    r = mutate(cl, "--command", f"/usr/bin/python3 {liar}", "--members", "3", "--count", "1",
               "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not one of the bundle's" in r.stderr, r.stderr
    (l,) = json_lines(r.stdout)
    g, rec = record_of(cl, l)
    assert rec["mutator"] == "liar.py" and "ab" * 32 not in rec["parents"]
    assert 1 <= len(rec["parents"]) <= 2


def test_sigterm_stops_cleanly(cl, tmp_path):
    pidfile = tmp_path / "pids"
    cmd = f"echo $$ >> {pidfile}; exec sleep 60"
    p = subprocess.Popen([PETRI, "--addr", f"127.0.0.1:{cl.hport}", "--token", cl.token,
                          "mutate", "mut", "--command", cmd, "--name", "stopped",
                          "--concurrency", "2", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, timeout=30,
             what="two commands running")
    pids = [int(x) for x in pidfile.read_text().split()]
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert out == ""  # nothing submitted, nothing half-submitted
    for pid in pids:
        wait_for(lambda: not pid_alive(pid), timeout=10,
                 what=f"command {pid} killed")
    st, exp = cl.api("GET", "/v1/lineage/export?format=json")
    assert not [e for e in exp["records"] if e.get("mutator") == "stopped"]


def test_usage_errors(cl):
    for args, what in [(["--count", "3"], "--command"),
                       (["--command", "true", "--concurrency", "0"], "--concurrency"),
                       (["--command", "true", "--max-bytes", "2000000"], "--max-bytes"),
                       (["--command", "true", "--name", "No"], "--name"),
                       (["--command", "true", "--rate", "-1"], "--rate")]:
        r = mutate(cl, *args)
        assert r.returncode == 2 and what in r.stderr, (args, r.stderr)
    r = cl.cli("mutate", "nope", "--command", "true", "--count", "1")
    assert r.returncode == 1 and "nope" in r.stderr, r.stderr
    r = subprocess.run([PETRI, "--addr", f"127.0.0.1:{cl.hport}", "--token", "wrong", "mutate",
                        "mut", "--command", "cat", "--count", "1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "token" in r.stderr.lower(), r.stderr


FAKE_MODEL = r'''
import re, sys
p = sys.stdin.read()
h = re.search(r"Parent ([0-9a-f]{64})", p).group(1)
src = p.split("```\n", 1)[1].split("```", 1)[0]
src = src.replace("-export([f/1]).", "-export([f/1]).\n%% edited")
print("Here is a better module:\n```erlang\n%%%% petri-parents: %s\n%s```\nGood luck." % (h, src))
'''


def test_language_model_wiring(cl, tmp_path):
    """prompt.py's prompt and --strip around a stand-in for a model's CLI."""
    st, b = cl.api("GET", "/v1/populations/mut/bundle?members=2")
    r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "configs", "mutators", "prompt.py")],
                       input=json.dumps(b), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    for p in b["parents"]:
        assert f"Parent {p['hash']}" in r.stdout and p["source"] in r.stdout
    assert "exports f/1" in r.stdout and "petri-parents" in r.stdout
    model = tmp_path / "model.py"
    model.write_text(FAKE_MODEL)
    prompt = os.path.join(ROOT, "configs", "mutators", "prompt.py")
    cmd = f"/usr/bin/python3 {prompt} | /usr/bin/python3 {model} | /usr/bin/python3 {prompt} --strip"
    r = mutate(cl, "--command", cmd, "--name", "fake-llm", "--count", "2", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    for l in json_lines(r.stdout):
        assert l["outcome"] == "submitted"
        g, rec = record_of(cl, l)
        assert rec["status"] == "ok" and rec["mutator"] == "fake-llm", rec
        assert g["source"].startswith("%% petri-parents: ") and "```" not in g["source"]
        assert rec["parents"] == [g["source"].split()[2]]
