"""Coordinator-driven scaling and draining on a real cluster: VM counts
follow the work, `petri scale status` says why, a drained agent's work moves
elsewhere with nothing lost."""
import collections
import json
import signal

from cluster import Cluster, quadratic_spec
from conftest import wait_for


def test_scale_up_then_drain_loses_nothing(tmp):
    c = Cluster(tmp, agents=2, vms=1, extra_agent={"beam.max_vms": "2"}).start()
    try:
        spec = quadratic_spec(name="s", size=120, demes=4,
                              stop={"target_fitness": None, "max_evaluations": 100000000})
        st, _ = c.api("POST", "/v1/populations", spec)
        assert st == 201

        def grown():
            st, sc = c.api("GET", "/v1/scale")
            return any(e["target"] == 2 and e["reason"].startswith("busy") for e in sc) and sc

        sc = wait_for(grown, timeout=60, interval=0.5, what="a scale-up decision")
        wait_for(lambda: any(m["meta"].get("vms_total") == 2 for m in c.members()),
                 timeout=60, what="an agent running 2 VMs")
        r = c.cli("scale", "status")
        assert r.returncode == 0 and "busy" in r.stdout, r.stdout + r.stderr

        victim = c.agents[0]
        r = c.cli("agent", "drain", victim.name, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        st, agents = c.api("GET", "/v1/agents")
        a = [x for x in agents if x["name"] == victim.name][0]
        assert a["state"] == "drained" and a["inflight"] == 0, a
        before = c.pop("s")["evaluations"]
        done_before = a["results"]
        wait_for(lambda: c.pop("s")["evaluations"] > before + 200, timeout=60,
                 what="progress on the other agent")
        st, agents = c.api("GET", "/v1/agents")
        assert [x for x in agents if x["name"] == victim.name][0]["results"] == done_before
        assert victim.stop(signal.SIGTERM) == 0
        c.api("POST", "/v1/populations/s/stop")
        st, doc = c.api("GET", "/v1/lineage/export?format=json")
        keys = collections.Counter((r["population"], r["deme"], r["dseq"]) for r in doc["records"])
        assert max(keys.values()) == 1
        st, v = c.api("POST", "/v1/lineage/verify")
        assert v["ok"], v
        r = c.cli("agent", "drain", "no-such-agent")
        assert r.returncode == 2 and "no-such-agent" in r.stderr
    finally:
        c.stop()
