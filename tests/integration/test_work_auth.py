"""The work socket under attack, with a real coordinator and a real agent.

A squatter connects with the victim's routing id (the node id, public in
GET /v1/members; and the very routing id the agent uses), without and with
the cluster key; the victim keeps, or regains, its session and keeps getting
work. An impersonator with the cluster key and a key of its own claims the
victim's id: it is refused, gets no work, and the victim works on.

The attackers are tests/integration/work_attacker.c (libzmq and libsodium
directly: pyzmq is not assumed), compiled here."""
import json
import os
import re
import signal
import subprocess
import tempfile

import pytest

from cluster import Cluster, quadratic_spec
from conftest import PETRI, ROOT, wait_for

ATTACKER_SRC = os.path.join(ROOT, "tests", "integration", "work_attacker.c")


@pytest.fixture(scope="module")
def attacker():
    d = tempfile.mkdtemp(prefix="petri-attacker-")
    out = os.path.join(d, "work_attacker")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libzmq", "libsodium"],
                           capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-o", out, ATTACKER_SRC, *flags],
                   check=True)
    return out


def endless_spec(name):
    # integer programs never hit x*x + 0.5: the population runs until stopped
    spec = quadratic_spec(name, size=40, demes=2, stop={"max_evaluations": 100000000})
    spec["fitness"]["cases"] = [{"in": [x], "out": x * x + 0.5} for x in range(-5, 6)]
    return spec


def start_coordinator(cl):
    cl.coord = cl.coord_proc().start()
    wait_for(lambda: cl.api("GET", "/v1/health")[0] == 200, what="the coordinator's API")


def victim_identity(cl):
    """Creates agent-1's identity before it first starts; returns its id."""
    r = subprocess.run([PETRI, "keygen", "--dir", os.path.join(cl.tmp, "agent-1"), "--json"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["node_id"]


def results_of(cl, idhex):
    st, agents = cl.api("GET", "/v1/agents")
    assert st == 200, agents
    return sum(a["results"] for a in agents if a["id"] == idhex)


def gets_work(cl, idhex, more=5, what="the victim gets work"):
    r0 = results_of(cl, idhex)
    wait_for(lambda: results_of(cl, idhex) >= r0 + more, timeout=90, interval=0.2, what=what)


def metric(cl, name, **labels):
    st, body = cl.api("GET", "/metrics")
    assert st == 200
    text = body.decode() if isinstance(body, bytes) else str(body)
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name and (m.group(2) or "{}")[1:-1] == want:
            return float(m.group(3))
    return None


def spawn(attacker, *args):
    return subprocess.Popen([attacker, *map(str, args)], stdout=subprocess.PIPE, text=True)


def finish(p):
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 0, out
    return json.loads(out)


def agent_route(agent, idhex):
    """The routing id the agent's current connection uses (the node id for
    an agent that logs none)."""
    routes = re.findall(r"event=awork\.connect .*?route=([0-9a-f]{32})", agent.logtext())
    return routes[-1] if routes else idhex


@pytest.fixture
def cluster(tmp):
    cl = Cluster(tmp, agents=0, vms=1)
    yield cl
    cl.stop()


def test_squatter_cannot_cut_an_agent_off(cluster, attacker):
    cl = cluster
    start_coordinator(cl)
    vid = victim_identity(cl)
    st, body = cl.api("POST", "/v1/populations", endless_spec("squat"))
    assert st in (200, 201), body
    ep = f"tcp://127.0.0.1:{cl.wport}"

    # without the cluster key, on the node id, before the victim connects
    sq = spawn(attacker, "squat", ep, vid, vid, 600)
    victim = cl.add_agent()
    gets_work(cl, vid, what="the victim gets work while squatted (no key)")
    sq.terminate()
    sq.communicate(timeout=30)
    gets_work(cl, vid, what="the victim gets work after the squatter left")

    # with the cluster key, on the very routing id the victim uses, taken
    # while the victim cannot reconnect: the coordinator restarts while the
    # victim is stopped, the squatter connects first
    route = agent_route(victim, vid)
    victim.kill(signal.SIGSTOP)
    cl.coord.stop(signal.SIGKILL)
    start_coordinator(cl)
    sq = spawn(attacker, "squat", ep, route, vid, 600, cl.key)
    wait_for(lambda: (metric(cl, "petri_work_frames_received_total") or 0) > 0,
             what="the squatter's frames at the coordinator")
    victim.kill(signal.SIGCONT)
    gets_work(cl, vid, what="the victim regains a session while squatted (with the key)")
    sq.terminate()
    out, _ = sq.communicate(timeout=30)
    gets_work(cl, vid, what="the victim gets work after the squatter left")
    assert "event=work.session " in cl.coord.logtext()


def test_impersonator_is_refused(cluster, attacker):
    cl = cluster
    start_coordinator(cl)
    vid = victim_identity(cl)
    st, body = cl.api("POST", "/v1/populations", endless_spec("imp"))
    assert st in (200, 201), body
    ep = f"tcp://127.0.0.1:{cl.wport}"

    # the impersonator comes first, with the cluster key and its own key
    imp = spawn(attacker, "impersonate", ep, vid, 15, cl.key)
    wait_for(lambda: (metric(cl, "petri_work_frames_received_total") or 0) > 0,
             what="the impersonator's frames at the coordinator")
    cl.add_agent()
    gets_work(cl, vid, what="the real agent gets work while impersonated")
    got = finish(imp)
    assert got["batches"] == 0 and got["items"] == 0, got
    assert got["welcomes"] == 0, got
    assert got["challenges"] >= 1, got  # it was asked to prove the key, and could not
    assert metric(cl, "petri_work_auth_refused_total", reason="id_key_mismatch") >= 1
    log = cl.coord.logtext()
    assert "event=work.auth_refused" in log and "does not derive this node id" in log
    # the impersonator's id claim never became a session: one agent, the real one
    st, agents = cl.api("GET", "/v1/agents")
    assert [a["id"] for a in agents] == [vid], agents
    gets_work(cl, vid, what="the real agent keeps getting work")
