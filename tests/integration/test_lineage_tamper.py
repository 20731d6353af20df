"""The lineage under attack: a coordinator whose log was rolled back (an older
copy of its data directory put back) refuses to start because an agent holds
a newer signed checkpoint; a store re-signed under a new key fails the pinned
verification and is refused while agents hold the old key's checkpoints; a
tampered export fails the offline verification."""
import base64
import json
import os
import re
import shutil
import signal
import struct

from cluster import Cluster, quadratic_spec
from conftest import PETRI, run, wait_for

EXIT_LINEAGE = 3  # COORD_EXIT_LINEAGE
CKPT = {"lineage.checkpoint_interval_ms": "100", "lineage.checkpoint_records": "20"}


class TamperCluster(Cluster):
    """A cluster whose coordinator takes extra settings (checkpoints often)."""

    def __init__(self, tmp, coord_extra=None, **kw):
        super().__init__(tmp, **kw)
        self.coord_extra = dict(CKPT, **(coord_extra or {}))

    def coord_proc(self):
        p = super().coord_proc()
        p.args += self.opts(self.coord_extra)
        return p


def status(c):
    st, s = c.api("GET", "/v1/status")
    assert st == 200, s
    return s


def agent_ckpt_seqs(c):
    """The seq of the checkpoint each agent gossips (0 for none)."""
    out = []
    for m in c.members():
        if m["role"] != "agent":
            continue
        b64 = m["meta"].get("ckpt")
        out.append(struct.unpack(">Q", base64.b64decode(b64)[:8])[0] if b64 else 0)
    return out


def key_of(c):
    m = re.search(r"event=coord.start .*?key=([0-9a-f]{32})", c.coord.logtext())
    assert m, c.coord.logtext()[-2000:]
    return m.group(1)


def exited(proc, timeout=60):
    return wait_for(lambda: proc.proc.poll() is not None, timeout=timeout,
                    what="the coordinator to exit") and proc.proc.returncode


def test_rolled_back_log_is_refused(tmp):
    c = TamperCluster(tmp, agents=2).start()
    try:
        spec = quadratic_spec(name="rb", size=40, stop={"target_fitness": None,
                                                        "max_evaluations": 100000})
        st, _ = c.api("POST", "/v1/populations", spec)
        assert st == 201
        wait_for(lambda: status(c)["records"] >= 40, timeout=90, what="records")
        fp = key_of(c)
        assert status(c)["lineage"]["key"] == fp and status(c)["lineage"]["pinned"] is False

        # the attacker keeps a copy of the store as it is now
        assert c.coord.stop(signal.SIGTERM) == 0
        data = os.path.join(tmp, "coordinator")
        old = os.path.join(tmp, "coordinator.old")
        shutil.copytree(data, old)
        old_head = None
        c.coord = c.coord_proc().start()
        wait_for(lambda: c.api("GET", "/v1/status")[0] == 200, timeout=30, what="restart")
        old_head = status(c)["records"]
        # the log moves on and the agents keep a checkpoint past the copy's head
        wait_for(lambda: min(agent_ckpt_seqs(c)) > old_head + 20, timeout=120,
                 what="agents holding a newer checkpoint")
        r = c.cli("lineage", "verify", "--pin", fp)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "the pinned key" in r.stdout

        # drop the tail: put the older copy back and restart
        c.coord.stop(signal.SIGKILL)
        shutil.rmtree(data)
        shutil.copytree(old, data)
        c.coord = c.coord_proc().start()
        assert exited(c.coord) == EXIT_LINEAGE
        log = c.coord.logtext()
        assert "event=coord.lineage_rolled_back" in log
        assert "ahead of the log" in log or "another record" in log

        # the agents still hold the newer checkpoint after their own restart
        a = c.agents[0]
        a.stop(signal.SIGTERM)
        with open(os.path.join(tmp, a.name, "lineage.ckpt")) as f:
            kept = struct.unpack(">Q", base64.b64decode(f.read().strip())[:8])[0]
        assert kept > old_head + 20
    finally:
        c.stop()


def test_resigned_store_fails_pin_and_is_refused(tmp):
    c = TamperCluster(tmp, agents=1).start()
    try:
        spec = quadratic_spec(name="rs", size=20, demes=1, stop={"target_fitness": None,
                                                                 "max_evaluations": 100000})
        st, _ = c.api("POST", "/v1/populations", spec)
        assert st == 201
        wait_for(lambda: min(agent_ckpt_seqs(c) or [0]) > 0, timeout=90, what="a checkpoint")
        fp_old = key_of(c)
        c.coord.stop(signal.SIGKILL)

        # a new key and a store signed by it replace the coordinator's
        data = os.path.join(tmp, "coordinator")
        shutil.rmtree(data)
        k = run([PETRI, "keygen", "--dir", data])
        assert k.returncode == 0, k.stderr
        fp_new = re.search(r"^key +([0-9a-f]{32})$", k.stdout, re.M).group(1)
        assert fp_new != fp_old

        c.coord = c.coord_proc().start()
        assert exited(c.coord) == EXIT_LINEAGE
        log = c.coord.logtext()
        assert "event=coord.lineage_rolled_back" in log and fp_old in log

        # pinned to the new key, the operator accepts it: it runs, and the
        # log fails verification pinned to the old key
        c.coord_extra["lineage.pinned_key"] = fp_new
        c.coord = c.coord_proc().start()
        wait_for(lambda: c.api("GET", "/v1/status")[0] == 200, timeout=30, what="restart")
        st, _ = c.api("POST", "/v1/populations", dict(spec, name="forged"))
        assert st == 201
        wait_for(lambda: status(c)["records"] > 0, timeout=60, what="forged records")
        r = c.cli("lineage", "verify", "--pin", fp_old)
        assert r.returncode == 1, r.stdout
        assert fp_new in r.stderr and "not the pinned key" in r.stderr
        assert c.cli("lineage", "verify", "--pin", fp_new).returncode == 0
        assert c.cli("lineage", "verify", "--pin", "nothex").returncode == 2

        # a coordinator whose key is not the pinned one does not start
        c.coord.stop(signal.SIGTERM)
        c.coord_extra["lineage.pinned_key"] = fp_old
        c.coord = c.coord_proc().start()
        assert exited(c.coord) == EXIT_LINEAGE
        assert "event=coord.key_not_pinned" in c.coord.logtext()
    finally:
        c.stop()


def test_tampered_export_fails_offline(tmp):
    c = TamperCluster(tmp, agents=1).start()
    try:
        spec = quadratic_spec(name="ex", size=20, demes=1, stop={"target_fitness": None,
                                                                 "max_evaluations": 80})
        st, _ = c.api("POST", "/v1/populations", spec)
        assert st == 201
        wait_for(lambda: c.pop("ex")["state"] != "running", timeout=120, what="stopped")
        fp = key_of(c)
        path = os.path.join(tmp, "export.json")
        r = c.cli("lineage", "export", "-o", path)
        assert r.returncode == 0, r.stderr
        dot = c.cli("lineage", "export", "--format", "dot")
        assert dot.returncode == 0 and "records, 0 damaged" in dot.stdout
    finally:
        c.stop()  # from here on, no coordinator
    good = run([PETRI, "lineage", "verify", "--file", path, "--pin", fp])
    assert good.returncode == 0, good.stdout + good.stderr
    with open(path) as f:
        doc = json.load(f)
    n = len(doc["records"])
    assert n >= 80 and doc["damaged"] == 0 and doc["end"]["seq"] == n

    def attempt(name, change, expect):
        d = json.loads(json.dumps(doc))
        change(d)
        p = os.path.join(tmp, name + ".json")
        with open(p, "w") as f:
            json.dump(d, f)
        r = run([PETRI, "lineage", "verify", "--file", p, "--pin", fp])
        assert r.returncode == 1, (name, r.stdout)
        assert expect in r.stderr, (name, r.stderr)

    def fitness(d):
        rec = next(x for x in d["records"] if x["fitness"] is not None)
        rec["fitness"] = rec["fitness"] + 1

    attempt("fitness", fitness, "field fitness")
    attempt("tail", lambda d: d["records"].pop(), "end")
    attempt("middle", lambda d: d["records"].pop(n // 2), "seq")
    attempt("raw", lambda d: d["records"][3].update(raw=d["records"][4]["raw"]), "seq 4")
    wrong = run([PETRI, "lineage", "verify", "--file", path, "--pin", "0" * 32])
    assert wrong.returncode == 1 and "not the pinned key" in wrong.stderr
    # cut short: not a whole document
    with open(path) as f:
        text = f.read()
    cut = os.path.join(tmp, "cut.json")
    with open(cut, "w") as f:
        f.write(text[: len(text) // 2])
    r = run([PETRI, "lineage", "verify", "--file", cut])
    assert r.returncode == 1 and "cut short" in r.stderr


def test_bad_pinned_key_is_a_config_error(tmp):
    r = run([PETRI, "coordinator", "--insecure", "-o", f"node.data_dir={tmp}/c",
             "-o", "lineage.pinned_key=not-a-fingerprint"], timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "[lineage] pinned_key" in r.stderr and "not-a-fingerprint" in r.stderr
