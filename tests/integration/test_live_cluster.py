"""Live populations on a real cluster: a coordinator and two agents run the
rate limiter of configs/live as a live population; the individuals are
upgraded in place with bred children, every settled upgrade is a signed
lineage record, an external child is rolled back or promoted, a pin stops
evolution, a killed agent's individual comes back elsewhere at its last
promoted version, and a restarted coordinator takes its live populations
back."""
import json
import os
import signal

import pytest

from cluster import Cluster
from conftest import ROOT, wait_for

LIVE = os.path.join(ROOT, "configs", "live")


def read(name):
    with open(os.path.join(LIVE, name)) as f:
        return f.read()


def config(name="limiter", n=2, every=300, **kw):
    with open(os.path.join(LIVE, "ratelimit.json")) as f:
        live = json.load(f)
    c = {"name": name, "function": "handle/2", "language": "erlang",
         "primitives": {"ops": ["+", "-", "*", "div"],
                        "constants": {"min": 1, "max": 2000, "integer": True}},
         "operators": {"literal": 1},
         "live": live, "trace": read("trace.jsonl"), "genome": read("parent.erl"),
         "individuals": n, "upgrade_every_ms": every}
    c.update(kw)
    return c


def live(cl, name="limiter"):
    st, p = cl.api("GET", f"/v1/live/{name}")
    assert st == 200, p
    return p


def settled(p):
    return p["promoted"] + p["rolled_back"] + p["refused"]


def records(cl, name):
    st, doc = cl.api("GET", "/v1/lineage/export")
    assert st == 200, doc
    recs = doc["records"] if isinstance(doc, dict) else [json.loads(x) for x in
                                                         doc.decode().splitlines() if x]
    return [r for r in recs if r.get("population") == name]


@pytest.fixture
def cluster(tmp):
    cl = Cluster(tmp, agents=2).start()
    yield cl
    cl.stop()


def test_bad_configs_are_refused_with_the_field(cluster):
    cl = cluster
    for body, field in [({**config(), "name": "Bad Name"}, "name"),
                        ({**config(), "live": {"probation": 0}}, "live.probation"),
                        ({**config(), "trace": "{\"req\": 1}\nnot json"}, "trace line 2"),
                        ({**config(), "genome": ""}, "genome"),
                        ({**config(), "individuals": 0}, "individuals"),
                        ({**config(), "operators": {"nope": 1}}, "operators.nope"),
                        ({**config(), "function": "keep/1", "primitives": {"vars": ["L"]}},
                         "function")]:
        st, b = cl.api("POST", "/v1/live", body)
        assert st == 400 and field in b["error"], (field, st, b)
    st, b = cl.api("POST", "/v1/live", "{not json")
    assert st == 400 and "invalid JSON" in b["error"], b
    st, b = cl.api("GET", "/v1/live/nothing")
    assert st == 404, b
    st, b = cl.api("POST", "/v1/live", config(), token=False)
    assert st == 401, b
    assert cl.api("GET", "/v1/live")[1] == {"live": []}


def test_live_population_evolves_records_pins_and_moves(cluster):
    cl = cluster
    st, b = cl.api("POST", "/v1/live", config())
    assert st == 201 and b == {"name": "limiter", "individuals": 2}, b
    st, b = cl.api("POST", "/v1/live", config())
    assert st == 409, b

    # both run, on some agent, and answer requests
    wait_for(lambda: all(i["state"] == "running" and i["requests"] > 0
                         for i in live(cl)["individuals"]), timeout=90, what="individuals running")
    # built-in children are bred, loaded, judged and settled
    wait_for(lambda: settled(live(cl)) >= 6, timeout=120, what="six settled upgrades")
    p = live(cl)
    outcomes = {v["outcome"] for i in p["individuals"] for v in i["versions"]}
    assert outcomes & {"promoted", "rollback", "refused"}, p
    for i in p["individuals"]:
        assert i["lost"] == 0 and i["twice"] == 0, i
        assert i["fitness_series"], i

    # every settled upgrade is a signed version 3 record with its parent
    recs = wait_for(lambda: (lambda r: r if len([x for x in r if x["dseq"] > 0]) >= 6 else None)(
        records(cl, "limiter")), timeout=30, what="records durable")
    assert all(r["record_version"] == 3 and "live" in r for r in recs), recs[:2]
    starts = [r for r in recs if r["live"]["event"] == "started"]
    assert sorted(r["deme"] for r in starts) == [0, 1], starts
    ups = [r for r in recs if r["dseq"] > 0]
    assert all(len(r["parents"]) == 1 and r["operator"] == "literal" for r in ups), ups[:2]
    for r in ups:
        assert r["live"]["event"] in ("promoted", "rollback", "refused"), r
        assert (r["status"] == "ok") == (r["live"]["event"] == "promoted"), r
    r = cl.cli("lineage", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    # bred live children re-derive on the agents (their keys are individuals,
    # not demes of a population: placed by the key, not by place_demes)
    r = cl.cli("lineage", "verify", "--replay", "4", "--json", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads(r.stdout)
    assert v["replayed"] >= 1 and v["replay_mismatches"] == 0, v

    # pinned where it runs: no more built-in children for individual 0
    st, b = cl.api("POST", "/v1/live/limiter/individuals/0/pin", {})
    assert st == 200, b
    pinned = b["pinned"]
    wait_for(lambda: live(cl)["individuals"][0]["upgrade_in_flight"] is None, timeout=60,
             what="upgrade settled")
    # an external child: a state the code_change does not expect -> rollback
    st, b = cl.api("POST", "/v1/live/limiter/individuals/0/upgrade",
                   {"source": read("child_bad.erl"), "mutator": "by-hand"})
    assert st == 202, b
    uid = b["upgrade_id"]

    def outcome():
        vs = [v for v in live(cl)["individuals"][0]["versions"] if v["upgrade_id"] == uid]
        return vs and vs[0]["outcome"] in ("rollback", "promoted", "refused") and vs[0]
    v = wait_for(outcome, timeout=60, what="the external child settled")
    assert v["outcome"] == "rollback" and "code_change" in v["reason"], v
    ext = wait_for(lambda: [r for r in records(cl, "limiter") if r["dseq"] == uid and
                            r["deme"] == 0], timeout=30, what="external record")
    assert ext[0]["operator"] == "external" and ext[0]["mutator"] == "by-hand", ext

    # pinned: no built-in child reaches it while the other goes on
    n0 = len(live(cl)["individuals"][0]["versions"])
    base = settled(live(cl))
    wait_for(lambda: settled(live(cl)) >= base + 3, timeout=120, what="more upgrades")
    assert len(live(cl)["individuals"][0]["versions"]) == n0
    assert live(cl)["individuals"][0]["pinned"] == pinned
    st, b = cl.api("POST", "/v1/live/limiter/individuals/0/unpin", {})
    assert st == 200 and b["pinned"] is None, b

    # the agent of individual 1 dies: it comes back on the other agent at
    # its last promoted version
    ind = live(cl)["individuals"][1]
    host = ind["agent"]
    promoted = ind["promoted_version"]
    victim = [a for a in cl.agents if a.name == host][0]
    victim.kill(signal.SIGKILL)
    moved = wait_for(lambda: (lambda i: i if i["state"] == "running" and i["agent"] != host
                              else None)(live(cl)["individuals"][1]), timeout=120,
                     what="individual 1 moved")
    assert moved["incarnation"] > ind["incarnation"], moved
    assert moved["promoted_version"] >= promoted, moved
    assert "moved" in cl.coord.logtext() or "live.move" in cl.coord.logtext()

    # stopping it stops every individual
    st, b = cl.api("POST", "/v1/live/limiter/stop", {})
    assert st == 200 and b["state"] == "stopped", b
    assert all(i["state"] == "stopped" for i in live(cl)["individuals"])


def test_coordinator_restart_takes_live_populations_back(cluster):
    cl = cluster
    st, b = cl.api("POST", "/v1/live", config(name="keep", n=1, every=200))
    assert st == 201, b
    wait_for(lambda: live(cl, "keep")["promoted"] >= 1 or live(cl, "keep")["rolled_back"] >= 2,
             timeout=120, what="upgrades")
    before = live(cl, "keep")["individuals"][0]
    cl.coord.stop(signal.SIGTERM)
    cl.coord = cl.coord_proc().start()
    wait_for(lambda: cl.api("GET", "/v1/live/keep")[0] == 200, timeout=60, what="coordinator")
    after = wait_for(lambda: (lambda i: i if i["state"] == "running" else None)(
        live(cl, "keep")["individuals"][0]), timeout=120, what="running again")
    assert after["promoted_version"] >= before["promoted_version"], (before, after)
    # upgrade ids only grow across the restart: no derivation key twice
    wait_for(lambda: settled(live(cl, "keep")) >= 2, timeout=120, what="upgrades after restart")
    keys = [(r["deme"], r["dseq"]) for r in records(cl, "keep")]
    assert len(keys) == len(set(keys)), keys
    r = cl.cli("lineage", "verify")
    assert r.returncode == 0, r.stdout + r.stderr


def test_external_mutator_drives_a_live_population(cluster):
    """upgrade_every_ms 0: no built-in children; petri mutate --live with the
    offline example mutator upgrades the individuals, and its children are
    recorded with the mutator's name, the bundle's hash and their parent."""
    cl = cluster
    st, b = cl.api("POST", "/v1/live", config(name="ext", n=2, every=0))
    assert st == 201, b
    wait_for(lambda: all(i["state"] == "running" for i in live(cl, "ext")["individuals"]),
             timeout=90, what="individuals running")
    st, bundle = cl.api("GET", "/v1/live/ext/bundle")
    assert st == 200 and bundle["kind"] == "live", bundle
    assert bundle["parents"][0]["source"] == read("parent.erl")
    assert bundle["submit"] == f"/v1/live/ext/individuals/{bundle['individual']}/upgrade"
    assert bundle["trace_sample"] and "req" in bundle["trace_sample"][0], bundle
    mutator = os.path.join(os.path.dirname(LIVE), "mutators", "textual.py")
    r = cl.cli("mutate", "ext", "--live", "--command", f"/usr/bin/python3 {mutator}",
               "--count", "4", "--json", timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert sum(1 for x in lines if x["outcome"] == "submitted") == 4, lines
    wait_for(lambda: settled(live(cl, "ext")) >= 4, timeout=120, what="four settled")
    recs = wait_for(lambda: (lambda r: r if len(r) >= 4 else None)(
        [x for x in records(cl, "ext") if x["dseq"] > 0]), timeout=30, what="records")
    for x in recs:
        assert x["operator"] == "external" and x["mutator"] == "textual.py", x
        assert len(x["input_hash"]) == 64 and len(x["parents"]) == 1, x
    p = live(cl, "ext")
    assert p["upgrades"] == 4, p  # nothing but the mutator's children


def test_elixir_live_population_evolves_by_external_children(cluster):
    """An Elixir genome runs live; the built-in operators breed Erlang only,
    so its config must leave evolution to external children, which upgrade
    it in place like an Erlang one."""
    cl = cluster
    st, b = cl.api("POST", "/v1/live", config(name="ex", n=1, language="elixir",
                                                genome=read("ratelimit.ex")))
    assert st == 400 and "upgrade_every_ms" in b["error"] and "Elixir" in b["error"], b
    st, b = cl.api("POST", "/v1/live", config(name="ex", n=1, every=0, language="elixir",
                                                genome=read("ratelimit.ex")))
    assert st == 201, b
    wait_for(lambda: live(cl, "ex")["individuals"][0]["requests"] > 0, timeout=90,
             what="the Elixir individual answering")
    child = read("ratelimit.ex").replace("div(t, 1000)", "div(t, 900)")
    assert child != read("ratelimit.ex")
    st, b = cl.api("POST", "/v1/live/ex/individuals/0/upgrade",
                   {"source": child, "mutator": "by-hand"})
    assert st == 202, b
    uid = b["upgrade_id"]
    v = wait_for(lambda: [v for v in live(cl, "ex")["individuals"][0]["versions"]
                          if v["upgrade_id"] == uid and v["outcome"] in
                          ("promoted", "rollback", "refused")], timeout=60, what="settled")
    assert v[0]["outcome"] in ("promoted", "rollback"), v  # it loaded: judged, not refused
    assert v[0]["child_score"] is not None, v
