"""`petri live`: the operator's side of live populations.

- Against a stub of the /v1/live contract (always run): the request each
  subcommand sends (the example config with its trace_file and genome_file
  inline, pin and upgrade bodies), what it prints, --json, and the exit
  codes of the API's refusals (400, 404, 409, 413).
- Against a real coordinator and two agents (skipped while the coordinator
  answers 404 to GET /v1/live): configs/live/ratelimit-population.json
  started, evolved by its operator, an external child sent by hand and one
  that crashes in code_change, an individual pinned to its first version and
  released, the population stopped; every version's source in the lineage
  and the lineage verified."""
import hashlib
import http.server
import json
import os
import subprocess
import re
import shutil
import tempfile
import threading
import time

import pytest

from cluster import Cluster
from conftest import PETRI, ROOT, run, wait_for

LIVE = os.path.join(ROOT, "configs", "live")
CONFIG = os.path.join(LIVE, "ratelimit-population.json")


def text_of(name):
    with open(os.path.join(LIVE, name)) as f:
        return f.read()


def blake(s):
    return hashlib.blake2b(s.encode(), digest_size=32).hexdigest()


def test_example_config_matches_the_single_host_example():
    """The population's live section is configs/live/ratelimit.json but for
    its probation (one pass of the trace: a child is judged on every request,
    against its parent on the same ones), and its files are the ones
    `petri-agent live` runs."""
    with open(CONFIG) as f:
        cfg = json.load(f)
    with open(os.path.join(LIVE, "ratelimit.json")) as f:
        single = json.load(f)
    with open(os.path.join(LIVE, "trace.jsonl")) as f:
        assert cfg["live"]["probation"] == sum(1 for line in f if line.strip())
    assert {**cfg["live"], "probation": single["probation"]} == single
    assert cfg["function"] == "handle/2" and cfg["individuals"] == 2
    for key in ("trace_file", "genome_file"):
        assert os.path.isfile(os.path.join(LIVE, cfg[key])), key
    assert "trace" not in cfg and "genome" not in cfg


# ---- against a stub of the contract --------------------------------------------------


def version(n, op="literal", outcome="rollback", mutator="", reason="", parent=1):
    return {"version": n, "hash": blake(str(n)), "parent": parent if n > 1 else None, "op": op,
            "mutator": mutator, "outcome": outcome, "reason": reason,
            "at_ms": 1764950400000 + n, "parent_score": 0.8 if n > 1 else None,
            "child_score": 0.7 if n > 1 else None, "seq": n}


def individual(i):
    return {"index": i, "agent": f"agent-{i + 1}", "state": "running", "version": 3,
            "pinned": None, "fitness": 0.93, "requests": 500, "correct": 450, "wrong": 40,
            "failed": 10, "lost": 0, "twice": 0, "latency_p50_us": 30, "latency_p99_us": 90,
            "on_probation": False, "reason": "",
            "versions": [version(1, "start", "promoted"),
                         version(2, reason="scored 0.7000 over probation, parent 0.8000"),
                         version(3, "external", "running", mutator="llm")],
            "fitness_series": [[1764950400000 + 1000 * k, 0.9, 3] for k in range(10)]}


POP = {"name": "ratelimit", "state": "running", "upgrade_every_ms": 500, "upgrades": 2,
       "promoted": 0, "rolled_back": 1, "refused": 0, "individuals": [individual(0), individual(1)]}
LIST = {"live": [{"name": "ratelimit", "state": "running", "individuals": 2, "upgrades": 2,
                  "promoted": 0, "rolled_back": 1, "refused": 0, "best_fitness": 0.93}]}


class Contract(http.server.BaseHTTPRequestHandler):
    """/v1/live as the contract has it, for one population "ratelimit" with
    individuals 0 and 1. `refuse` maps a path to a status to answer instead;
    every request is kept in `seen` as (method, path, headers, body)."""
    refuse = {}
    seen = []

    def log_message(self, *a):
        pass

    def reply(self, status, doc):
        b = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def handle_any(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.seen.append((method, self.path, dict(self.headers), body))
        if self.path in self.refuse:
            st = self.refuse[self.path]
            return self.reply(st, {"error": f"refused with {st} by the stub"})
        m = re.fullmatch(r"/v1/live/ratelimit/individuals/(\d+)/(pin|unpin|upgrade)", self.path)
        if method == "GET" and self.path == "/v1/live":
            return self.reply(200, LIST)
        if method == "GET" and self.path == "/v1/live/ratelimit":
            return self.reply(200, POP)
        if method == "POST" and self.path == "/v1/live":
            cfg = json.loads(body)
            return self.reply(201, {"name": cfg["name"], "individuals": cfg["individuals"]})
        if method == "POST" and self.path == "/v1/live/ratelimit/stop":
            return self.reply(200, {"name": "ratelimit", "state": "stopped"})
        if method == "POST" and m and int(m.group(1)) < 2:
            i, verb = int(m.group(1)), m.group(2)
            if verb == "pin":
                v = json.loads(body).get("version", 3)
                return self.reply(200, {"index": i, "pinned": v})
            if verb == "unpin":
                return self.reply(200, {"index": i, "pinned": None})
            return self.reply(202, {"upgrade_id": 7})
        return self.reply(404, {"error": "no such live population or individual"})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


@pytest.fixture
def stub():
    cls = type("C", (Contract,), {"refuse": {}, "seen": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    def cli(*args):
        return run([PETRI, "--addr", f"127.0.0.1:{srv.server_port}", "--token", "t0k", *args],
                   timeout=60)
    cli.cls = cls
    yield cli
    srv.shutdown()
    srv.server_close()


def test_start_sends_the_files_inline(stub):
    r = stub("live", "start", CONFIG)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("started live population ratelimit: 2 individuals\n"), r.stdout
    method, path, hdr, body = stub.cls.seen[-1]
    assert (method, path) == ("POST", "/v1/live")
    assert hdr["Authorization"] == "Bearer t0k"
    sent = json.loads(body)
    with open(CONFIG) as f:
        cfg = json.load(f)
    assert sent["trace"] == text_of("trace.jsonl")
    assert sent["genome"] == text_of("untuned.erl")
    assert "trace_file" not in sent and "genome_file" not in sent
    for k in cfg:
        if not k.endswith("_file"):
            assert sent[k] == cfg[k], k
    # --json: the API's answer as it is
    r = stub("live", "start", CONFIG, "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"name": "ratelimit", "individuals": 2}


def test_start_refusals(stub, tmp):
    for status, code in ((409, 1), (400, 2), (413, 2), (401, 2), (500, 1)):
        stub.cls.refuse["/v1/live"] = status
        r = stub("live", "start", CONFIG)
        assert r.returncode == code, (status, r.stderr)
        assert f"refused with {status} by the stub" in r.stderr, r.stderr
        if status == 413:
            assert "max_body_bytes" in r.stderr, r.stderr
    # a file the config names is missing: nothing is sent
    n = len(stub.cls.seen)
    cfg = os.path.join(tmp, "c.json")
    with open(cfg, "w") as f:
        json.dump({"name": "x", "trace_file": "nope.jsonl"}, f)
    r = stub("live", "start", cfg)
    assert r.returncode == 2 and "trace_file" in r.stderr and "nope.jsonl" in r.stderr, r.stderr
    assert len(stub.cls.seen) == n
    r = stub("live", "start", os.path.join(tmp, "none.json"))
    assert r.returncode == 2 and "none.json" in r.stderr


def test_start_with_a_trace_command(stub, tmp):
    """A generator named in the config: its stdout is the trace, run in the
    config's directory; a failing, silent or doubled generator is refused
    before anything is sent."""
    gen = os.path.join(LIVE, "gen_trace.py")
    cfg = os.path.join(tmp, "g.json")

    def start(**extra):
        with open(cfg, "w") as f:
            json.dump({"name": "g", "genome": "x", "individuals": 1, **extra}, f)
        return stub("live", "start", cfg)
    with open(os.path.join(tmp, "gen.py"), "w") as f:
        f.write(open(gen).read())
    r = start(trace_command="python3 gen.py --seed 3 --requests 50")
    assert r.returncode == 0, r.stderr
    sent = json.loads(stub.cls.seen[-1][3])
    want = subprocess.run(["python3", gen, "--seed", "3", "--requests", "50"],
                          capture_output=True, text=True, check=True).stdout
    assert sent["trace"] == want and "trace_command" not in sent
    n = len(stub.cls.seen)
    for extra, says in (({"trace_command": "exit 3"}, "exit status 3"),
                        ({"trace_command": "true"}, "printed nothing"),
                        ({"trace_command": ""}, "trace_command"),
                        ({"trace_command": "echo {}", "trace": "{}"}, "keep one")):
        r = start(**extra)
        assert r.returncode == 2 and says in r.stderr, (extra, r.stderr)
    assert len(stub.cls.seen) == n


def test_ls_and_show(stub):
    r = stub("live", "ls")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "STATE", "INDIVIDUALS"]
    assert lines[1].split() == ["ratelimit", "running", "2", "2", "0", "1", "0", "0.9300"]
    r = stub("live", "ls", "--json")
    assert json.loads(r.stdout) == LIST

    r = stub("live", "show", "ratelimit")
    assert r.returncode == 0, r.stderr
    assert "live population ratelimit  running  upgrade every 500 ms" in r.stdout
    assert "upgrades 2: promoted 0, rolled back 1, refused 0" in r.stdout
    assert r.stdout.count("external:llm") == 2  # each individual's versions
    r = stub("live", "show", "ratelimit", "1")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("individual 1 of ratelimit  running on agent-2  version 3\n"), out
    assert "requests 500: correct 450, wrong 40, failed 10; lost 0, answered twice 0" in out
    rows = [l.split() for l in out.splitlines() if re.match(r"\s+\d+\s", l)]
    assert [r_[:4] for r_ in rows] == [["1", "-", "start", "promoted"],
                                       ["2", "1", "literal", "rollback"],
                                       ["3", "1", "external:llm", "running"]], out
    assert "scored 0.7000 over probation, parent 0.8000" in out
    assert blake("2")[:12] in out
    r = stub("live", "show", "ratelimit", "5")
    assert r.returncode == 1 and "has no individual 5" in r.stderr
    r = stub("live", "show", "nope")
    assert r.returncode == 1 and "no live population named nope" in r.stderr
    r = stub("live", "show", "ratelimit", "x")
    assert r.returncode == 2 and "INDEX" in r.stderr


def test_pin_unpin_upgrade_stop(stub):
    r = stub("live", "pin", "ratelimit", "0", "1")
    assert r.returncode == 0 and "pinned at version 1" in r.stdout, r.stdout + r.stderr
    assert stub.cls.seen[-1][1:2] == ("/v1/live/ratelimit/individuals/0/pin",)
    assert json.loads(stub.cls.seen[-1][3]) == {"version": 1}
    r = stub("live", "pin", "ratelimit", "1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"index": 1, "pinned": 3}
    assert json.loads(stub.cls.seen[-1][3]) == {}
    r = stub("live", "unpin", "ratelimit", "1")
    assert r.returncode == 0 and "unpinned" in r.stdout
    assert stub.cls.seen[-1][1] == "/v1/live/ratelimit/individuals/1/unpin"

    src = text_of("child_better.erl")
    r = stub("live", "upgrade", "ratelimit", "0", os.path.join(LIVE, "child_better.erl"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"upgrade 7: {blake(src)[:12]} sent to individual 0 of ratelimit "
                               "(mutator manual)"), r.stdout
    assert json.loads(stub.cls.seen[-1][3]) == {"source": src, "mutator": "manual"}
    r = stub("live", "upgrade", "ratelimit", "0", os.path.join(LIVE, "child_better.erl"),
             "--mutator", "llm", "--input-hash", "AB" * 32)
    assert r.returncode == 0, r.stderr
    assert json.loads(stub.cls.seen[-1][3]) == {"source": src, "mutator": "llm",
                                                "input_hash": "ab" * 32}
    n = len(stub.cls.seen)
    for bad in (["--mutator", "Bad Name"], ["--input-hash", "12"]):
        r = stub("live", "upgrade", "ratelimit", "0", os.path.join(LIVE, "child_better.erl"), *bad)
        assert r.returncode == 2 and bad[0] in r.stderr, r.stderr
    r = stub("live", "upgrade", "ratelimit", "0", "/nonexistent.erl")
    assert r.returncode == 2 and "/nonexistent.erl" in r.stderr
    assert len(stub.cls.seen) == n  # nothing sent
    # the API's 404 (no such individual) and 409 (e.g. pinned)
    r = stub("live", "pin", "ratelimit", "9")
    assert r.returncode == 1 and "no such live population or individual" in r.stderr
    stub.cls.refuse["/v1/live/ratelimit/individuals/0/upgrade"] = 409
    r = stub("live", "upgrade", "ratelimit", "0", os.path.join(LIVE, "child_better.erl"))
    assert r.returncode == 1 and "refused with 409" in r.stderr

    r = stub("live", "stop", "ratelimit")
    assert r.returncode == 0 and r.stdout == "stopped live population ratelimit\n"
    r = stub("live", "stop", "nope")
    assert r.returncode == 1 and "no live population named nope" in r.stderr


def test_usage(stub):
    for args, needle in ((["live"], "usage: petri live"),
                         (["live", "frob"], "unknown subcommand"),
                         (["live", "show", "ratelimit", "--mutator", "x"], "does not take"),
                         (["live", "pin", "ratelimit"], "expected NAME INDEX"),
                         (["live", "unpin", "ratelimit", "0", "3"], "expected NAME INDEX"),
                         (["live", "upgrade", "ratelimit", "0"], "expected NAME INDEX FILE"),
                         (["live", "pin", "ratelimit", "0", "0"], "VERSION")):
        r = stub(*args)
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)
    for sub in ("start", "ls", "show", "stop", "pin", "unpin", "upgrade"):
        r = stub("live", sub, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: petri live {sub}"), sub
    assert stub.cls.seen == []
    r = stub("--help")
    assert "live start CONFIG.json" in r.stdout


def test_a_coordinator_without_live_populations(stub):
    stub.cls.refuse["/v1/live"] = 404
    r = stub("live", "ls")
    assert r.returncode == 1 and "serves no live populations" in r.stderr, r.stderr


# ---- against a real coordinator and agents ---------------------------------------------


@pytest.fixture(scope="module")
def cl():
    d = tempfile.mkdtemp(prefix="petri-livecli-")
    c = Cluster(d, agents=2, vms=2).start()
    try:
        st, _ = c.api("GET", "/v1/live")
        if st == 404:
            pytest.skip("this coordinator has no /v1/live yet")
        assert st == 200
        yield c
    finally:
        c.stop()
        shutil.rmtree(d, ignore_errors=True)


def show(c, index=None):
    args = ["live", "show", "ratelimit", "--json"] + ([str(index)] if index is not None else [])
    r = c.cli(*args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def versions(c, i):
    return show(c)["individuals"][i]["versions"]


def settled(c, i, h, timeout=90):
    """The version of individual i with source hash h, once it is no longer
    on probation."""
    def got():
        vs = [v for v in versions(c, i) if v["hash"] == h]
        return vs and vs[-1]["outcome"] in ("promoted", "rollback", "refused", "running") and \
            vs[-1]
    return wait_for(got, timeout=timeout, interval=0.5, what=f"the outcome of {h[:12]}")


def test_live_population_end_to_end(cl):
    r = cl.cli("live", "start", CONFIG)
    assert r.returncode == 0, r.stderr
    assert "started live population ratelimit: 2 individuals" in r.stdout
    r = cl.cli("live", "start", CONFIG)
    assert r.returncode == 1, r.stdout + r.stderr  # 409: the name exists

    r = cl.cli("live", "ls", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = [p for p in json.loads(r.stdout)["live"] if p["name"] == "ratelimit"]
    assert row["state"] == "running" and row["individuals"] == 2

    # both individuals run the parent, then the operator's children arrive
    wait_for(lambda: all(i["state"] == "running" and i["requests"] > 0
                         for i in show(cl)["individuals"]), timeout=90, interval=0.5,
             what="both individuals running")
    parent = blake(text_of("untuned.erl"))
    for i in (0, 1):
        v1 = versions(cl, i)[0]
        assert (v1["version"], v1["op"], v1["hash"], v1["parent"]) == (1, "start", parent, None)
    wait_for(lambda: any(v["op"] == "literal" and v["outcome"] != "pending"
                         for i in (0, 1) for v in versions(cl, i)),
             timeout=120, interval=0.5, what="a literal child judged")
    r = cl.cli("live", "show", "ratelimit", "0")
    assert r.returncode == 0 and "VERSION" in r.stdout and "start" in r.stdout, r.stdout

    # a child by hand, and one that crashes in code_change
    better = text_of("child_better.erl")
    r = cl.cli("live", "upgrade", "ratelimit", "0", os.path.join(LIVE, "child_better.erl"),
               "--mutator", "person", "--input-hash", "ab" * 32)
    assert r.returncode == 0, r.stderr
    assert blake(better)[:12] in r.stdout
    v = settled(cl, 0, blake(better))
    assert v["op"] == "external" and v["mutator"] == "person", v
    st, g = cl.api("GET", f"/v1/genomes/{blake(better)}")
    assert st == 200 and g["source"] == better
    bad = text_of("child_bad.erl")
    r = cl.cli("live", "upgrade", "ratelimit", "0", os.path.join(LIVE, "child_bad.erl"))
    assert r.returncode == 0, r.stderr
    v = settled(cl, 0, blake(bad))
    assert v["outcome"] == "rollback" and "code_change" in v["reason"], v
    assert v["mutator"] == "manual"

    # pinned to its first version: the parent's source again, op pin, no evolution
    r = cl.cli("live", "pin", "ratelimit", "1", "1")
    assert r.returncode == 0, r.stderr
    def pinned_at_v1():
        i = show(cl)["individuals"][1]
        last = i["versions"][-1]
        # pinned: the version asked for, or the number of the pin's own version
        return (i["pinned"] in (1, i["version"]) and last["op"] == "pin"
                and last["hash"] == parent and last["outcome"] in ("running", "promoted"))
    wait_for(pinned_at_v1, timeout=60, interval=0.5, what="individual 1 pinned at v1")
    n = len(versions(cl, 1))
    r = cl.cli("live", "show", "ratelimit", "1")
    assert "(pinned at " in r.stdout, r.stdout
    time.sleep(4 * show(cl)["upgrade_every_ms"] / 1000)
    assert len(versions(cl, 1)) == n  # not evolved while pinned
    r = cl.cli("live", "unpin", "ratelimit", "1")
    assert r.returncode == 0, r.stderr
    assert show(cl)["individuals"][1]["pinned"] is None
    wait_for(lambda: len(versions(cl, 1)) > n, timeout=60, interval=0.5,
             what="individual 1 evolving again")

    for i in show(cl)["individuals"]:
        assert (i["lost"], i["twice"]) == (0, 0), i
    r = cl.cli("live", "show", "ratelimit", "7")
    assert r.returncode == 1
    r = cl.cli("live", "pin", "ratelimit", "7")
    assert r.returncode == 1

    r = cl.cli("live", "stop", "ratelimit")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: show(cl)["state"] == "stopped", timeout=30, interval=0.5,
             what="the live population stopped")
    r = cl.cli("lineage", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    # every recorded version names its lineage record
    for i in show(cl)["individuals"]:
        for v in i["versions"]:
            if v["outcome"] in ("promoted", "rollback", "refused"):
                assert isinstance(v["seq"], int), v


def test_refusals_name_the_field(cl, tmp):
    with open(CONFIG) as f:
        cfg = json.load(f)
    cfg["name"] = "bad"
    cfg["individuals"] = 0
    cfg["trace_file"] = os.path.join(LIVE, cfg["trace_file"])
    cfg["genome_file"] = os.path.join(LIVE, cfg["genome_file"])
    p = os.path.join(tmp, "bad.json")
    with open(p, "w") as f:
        json.dump(cfg, f)
    r = cl.cli("live", "start", p)
    assert r.returncode == 2 and "individuals" in r.stderr, r.stderr
    r = cl.cli("live", "show", "nope")
    assert r.returncode == 1 and "no live population named nope" in r.stderr
