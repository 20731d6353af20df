"""A real cluster on loopback: coordinator + agents + VMs. Evolution end to
end, the API's refusals, agent and coordinator kills, tampering."""
import collections
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from cluster import Cluster, quadratic_spec
from conftest import GENOMES, PETRI, wait_for


@pytest.fixture
def cluster(tmp):
    c = Cluster(tmp, agents=3).start()
    yield c
    c.stop()


def wait_state(c, name, states=("solved",), timeout=180):
    return wait_for(lambda: c.pop(name)["state"] in states and c.pop(name), timeout=timeout,
                    interval=0.5, what=f"{name} in {states}")


def records(c):
    st, doc = c.api("GET", "/v1/lineage/export?format=json")
    assert st == 200
    assert doc["damaged"] == 0 and doc["end"]["seq"] == len(doc["records"])
    return doc["records"]


def assert_no_duplicate_keys(recs):
    keys = collections.Counter((r["population"], r["deme"], r["dseq"]) for r in recs)
    dup = [k for k, n in keys.items() if n > 1]
    assert not dup, dup[:5]
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))


def test_population_evolves_and_lineage_verifies(cluster):
    c = cluster
    st, body = c.api("POST", "/v1/populations", quadratic_spec())
    assert st == 201, body
    p = wait_state(c, "quad")
    assert p["best"]["fitness"] == 0
    assert "f(X)" in p["best"]["source"]
    r = c.cli("lineage", "verify", "--replay", "5", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    v = json.loads(r.stdout)
    assert v["ok"] is True and v["records"] > 0 and v["replayed"] == 5, v
    r = c.cli("lineage", "show", p["best"]["hash"], "--depth", "3")
    assert r.returncode == 0 and p["best"]["hash"][:12] in r.stdout, r.stderr
    r = c.cli("genome", "show", p["best"]["hash"], "--json")
    assert r.returncode == 0
    g = json.loads(r.stdout)
    assert g["source"] == p["best"]["source"] and g["records"]
    assert_no_duplicate_keys(records(c))
    r = c.cli("population", "status", "quad", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "solved"
    r = c.cli("members", "--json")
    roles = sorted(m["role"] for m in json.loads(r.stdout))
    assert roles == ["agent", "agent", "agent", "coordinator"], r.stdout
    dot = c.cli("lineage", "export", "--format", "dot")
    assert dot.returncode == 0 and dot.stdout.startswith("digraph")


def test_api_refusals(cluster, tmp):
    c = cluster
    bad = quadratic_spec()
    del bad["fitness"]
    st, body = c.api("POST", "/v1/populations", bad)
    assert st == 400 and "fitness" in body["error"]
    st, body = c.api("POST", "/v1/populations", dict(quadratic_spec(), operators={"mutate": 1}))
    assert st == 400 and "operators.mutate" in body["error"]
    st, body = c.api("POST", "/v1/populations", dict(quadratic_spec(), fitness={"cases": 3}))
    assert st == 400 and "fitness.cases" in body["error"]
    st, body = c.api("POST", "/v1/populations", b"{nope")
    assert st == 400
    path = os.path.join(tmp, "bad.json")
    with open(path, "w") as f:
        json.dump(dict(quadratic_spec(), size="big"), f)
    r = c.cli("population", "create", path)
    assert r.returncode == 2 and "size" in r.stderr
    st, _ = c.api("POST", "/v1/populations", quadratic_spec(), token=False)
    assert st == 401
    st, _ = c.api("POST", "/v1/populations", quadratic_spec(), token="wrong")
    assert st == 401
    st, pops = c.api("GET", "/v1/populations")
    assert st == 200 and pops == []  # nothing changed
    st, body = c.api("GET", "/v1/populations/nosuch")
    assert st == 404 and "nosuch" in body["error"]
    # a 100 MB body is refused without being read
    s = socket.create_connection(("127.0.0.1", c.hport))
    s.sendall(b"POST /v1/populations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              c.token.encode() + b"\r\nContent-Length: 104857600\r\n\r\n" + b"x" * 65536)
    s.settimeout(10)
    assert b" 413 " in s.recv(4096).split(b"\r\n")[0] + b" "
    s.close()


def test_submitted_unsafe_genome_is_recorded_and_never_runs(cluster):
    c = cluster
    st, _ = c.api("POST", "/v1/populations", quadratic_spec(name="sub", stop={"target_fitness": None, "max_evaluations": 100000000}))
    assert st == 201
    with open(os.path.join(GENOMES, "os_cmd.erl")) as f:
        src = f.read()
    if os.path.exists("/tmp/petri_escaped"):
        os.unlink("/tmp/petri_escaped")
    st, body = c.api("POST", "/v1/populations/sub/genomes", {"source": src})
    assert st == 202, body
    h = body["hash"]

    def recorded():
        st, g = c.api("GET", f"/v1/genomes/{h}")
        return st == 200 and g["records"] and g

    g = wait_for(recorded, timeout=30, what="submitted genome recorded")
    assert g["records"][0]["status"] == "unsafe"
    assert g["records"][0]["operator"] == "submitted"
    assert not os.path.exists("/tmp/petri_escaped")
    path = os.path.join(GENOMES, "good.erl")
    r = c.cli("genome", "submit", "sub", path, "--json")
    assert r.returncode == 0, r.stderr
    c.api("POST", "/v1/populations/sub/stop")


def test_agent_killed_mid_run_loses_nothing(cluster):
    c = cluster
    st, _ = c.api("POST", "/v1/populations", quadratic_spec(name="k", size=90, stop={"target_fitness": None, "max_evaluations": 4000}))
    assert st == 201
    wait_for(lambda: c.pop("k")["evaluations"] > 300, timeout=60, what="progress")
    victim = c.agents[0]
    victim.stop(signal.SIGKILL)
    before = c.pop("k")["evaluations"]
    wait_for(lambda: [m for m in c.members() if m["name"] == victim.name][0]["status"] == "dead",
             timeout=30, what="victim dead")
    wait_for(lambda: c.pop("k")["evaluations"] > before + 300, timeout=60, what="progress after kill")
    p = wait_state(c, "k", ("stopped", "solved"))
    recs = records(c)
    assert_no_duplicate_keys(recs)
    st, v = c.api("POST", "/v1/lineage/verify")
    assert st == 200 and v["ok"], v
    assert len([r for r in recs if r["population"] == "k"]) >= min(p["evaluations"], 4000) - 5


def test_coordinator_kill_and_restart_resumes(cluster):
    c = cluster
    st, _ = c.api("POST", "/v1/populations", quadratic_spec(name="r", size=90, stop={"target_fitness": None, "max_evaluations": 6000}))
    assert st == 201
    wait_for(lambda: c.pop("r")["evaluations"] > 500, timeout=60, what="progress")
    c.coord.stop(signal.SIGKILL)
    c.coord = c.coord_proc().start()
    wait_for(lambda: c.api("GET", "/v1/populations/r")[0] == 200, timeout=30, what="restart")
    after = c.pop("r")["evaluations"]
    assert after > 0
    wait_for(lambda: c.pop("r")["evaluations"] > after + 300, timeout=90, what="resumed")
    recs = records(c)
    assert_no_duplicate_keys(recs)
    st, v = c.api("POST", "/v1/lineage/verify")
    assert st == 200 and v["ok"], v


def test_verify_runs_beside_the_loop(cluster):
    """A lineage verification runs on its own thread: while it runs the API
    answers (the loop is free) and a second verification is refused with 503."""
    c = cluster
    st, _ = c.api("POST", "/v1/populations", quadratic_spec(
        name="v", size=90, stop={"target_fitness": None, "max_evaluations": 6000}))
    assert st == 201
    wait_state(c, "v", ("stopped", "solved"))
    for _attempt in range(5):
        out = {}
        t = threading.Thread(target=lambda: out.update(first=c.api("POST", "/v1/lineage/verify")))
        t.start()
        seen = None
        while t.is_alive() and seen is None:
            st, s = c.api("GET", "/v1/status")
            if st == 200 and s.get("verifying"):
                seen = s
        if seen is not None:
            st2, body2 = c.api("POST", "/v1/lineage/verify")
            t.join(120)
            if st2 == 200:  # the first one ended before the second arrived: again
                continue
            assert st2 == 503 and "already running" in body2["error"], (st2, body2)
            st1, v = out["first"]
            assert st1 == 200 and v["ok"] and v["records"] >= 6000, v
            assert c.api("GET", "/v1/status")[1]["verifying"] is False
            return
        t.join(120)
    pytest.fail("never saw a verification running in 5 attempts")


def test_tampered_record_is_named(tmp):
    c = Cluster(tmp, agents=1).start()
    try:
        st, _ = c.api("POST", "/v1/populations", quadratic_spec(name="t", size=20, demes=1, stop={"target_fitness": None, "max_evaluations": 60}))
        assert st == 201
        wait_state(c, "t", ("stopped", "solved"))
        n = len(records(c))
        c.coord.stop(signal.SIGTERM)
        env = os.path.join(tmp, "coordinator", "lineage")
        dump = subprocess.run(["mdb_dump", "-s", "log", env], capture_output=True, text=True, check=True).stdout
        lines = dump.splitlines()
        # header, then key/value line pairs (hex); flip one byte of record 5's value
        body = [i for i, l in enumerate(lines) if l.startswith(" ")]
        vi = body[2 * 4 + 1]
        v = lines[vi]
        pos = len(v) // 2 & ~1
        flipped = v[:pos] + format(int(v[pos:pos + 2], 16) ^ 0x01, "02x") + v[pos + 2:]
        lines[vi] = flipped
        subprocess.run(["mdb_load", "-s", "log", env], input="\n".join(lines) + "\n", text=True,
                       check=True, capture_output=True)
        c.coord = c.coord_proc().start()
        wait_for(lambda: c.api("GET", "/v1/status")[0] == 200, timeout=30, what="restart")
        r = c.cli("lineage", "verify", "--json")
        assert r.returncode == 1, r.stdout
        v = json.loads(r.stdout)
        assert v["ok"] is False and v["records"] >= n - 1
        assert 5 in [e["seq"] for e in v["errors"]], v["errors"]
    finally:
        c.stop()


def test_populations_share_an_agent(tmp):
    """Three populations on one agent with one VM all make progress at once:
    the agent's credit is shared, not given whole to the first population."""
    c = Cluster(tmp, agents=1).start()
    try:
        names = ["share1", "share2", "share3"]
        for n in names:
            st, body = c.api("POST", "/v1/populations", quadratic_spec(
                name=n, size=16, demes=1, stop={"target_fitness": None, "max_evaluations": 10**8}))
            assert st == 201, body
        wait_for(lambda: all(c.pop(n)["evaluations"] >= 100 for n in names), timeout=90,
                 what="every population past 100 evaluations")
        evals = [c.pop(n)["evaluations"] for n in names]
        for n in names:
            st, _ = c.api("POST", f"/v1/populations/{n}/stop")
            assert st == 200
        # while all three run, none is starved: the least served has a
        # fair part of what the most served has
        assert min(evals) * 4 >= max(evals), evals
    finally:
        c.stop()
