"""The escape corpus (tests/escape/*, Elixir files too where Elixir is
installed) through `petri-agent eval` with real VMs:
every genome gets `unsafe` or a limit status, nothing reaches the disk (the
run's cwd and /tmp gain nothing), and the VM keeps serving: a good genome
evaluated after the corpus is ok."""
import json
import os
import re
import shutil

from conftest import AGENT, ROOT, run

CORPUS = os.path.join(ROOT, "tests", "escape")
LIMITS = {"crash", "heap_limit", "timeout"}


def expected(path):
    with open(path) as f:
        m = re.match(r"(?:%%|#) expect: ([a-z_]+)", f.readline())
    assert m, path
    return m.group(1)


def test_escape_corpus_is_contained(tmp):
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as f:
        json.dump({"function": "sort/1", "language": "erlang",
                   "fitness": {"cases": [{"in": [1], "out": 1}]},
                   "limits": {"timeout_ms": 2000, "heap_words": 1000000, "reductions": 200000000}}, f)
    good = os.path.join(tmp, "good.erl")
    with open(good, "w") as f:
        f.write("-module(g).\n-export([sort/1]).\nsort(X) -> X * X.\n")
    exts = (".erl", ".ex") if shutil.which("elixir") else (".erl",)
    files = sorted(os.path.join(CORPUS, n) for n in os.listdir(CORPUS) if n.endswith(exts))
    assert len(files) >= 25
    cwd = os.path.join(tmp, "cwd")
    os.mkdir(cwd)
    tmp_before = set(os.listdir("/tmp"))
    r = run([AGENT, "eval", "--spec", spec, "--vms", "1", *files, good], timeout=300, cwd=cwd)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == len(files) + 1
    for path, line in zip(files, lines):
        want = expected(path)
        got = line["status"]
        ok = got in LIMITS if want == "crash" else got == want
        assert ok, (os.path.basename(path), want, line)
        assert line["detail"], line
    assert lines[-1]["status"] == "ok" and lines[-1]["fitness"] == 0.0, lines[-1]
    assert os.listdir(cwd) == []
    assert not [n for n in set(os.listdir("/tmp")) - tmp_before if "pwned" in n]
