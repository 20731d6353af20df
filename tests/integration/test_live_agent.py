"""The agent daemon's live individuals over the work channel (WIRE_WORK_LIVE),
against a fake coordinator (live_coord.c) that speaks the real session
handshake: start, upgrades (external, bred by the agent, pinned), status
every second, signed events, a VM killed and the individual resumed at its
last good version, bad commands answered with failed, SIGTERM stops them."""
import base64
import hashlib
import json
import os
import queue
import signal
import subprocess
import threading

import pytest

from conftest import BUILD, ROOT, Agent, free_port, wait_for

LIVE = os.path.join(ROOT, "configs", "live")
COORD = os.path.join(BUILD, "tests", "integration", "live_coord")


def f(name):
    return os.path.join(LIVE, name)


def blake(data):
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


class Coord:
    def __init__(self, tmp, key, features=None):
        import time
        self.err = os.path.join(tmp, "coord.err")
        for _ in range(5):  # a free port can be taken before live_coord binds it
            self.port = free_port()
            extra = [str(features)] if features is not None else []
            self.proc = subprocess.Popen([COORD, f"tcp://127.0.0.1:{self.port}", key, *extra],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=open(self.err, "wb"), text=True, bufsize=1)
            time.sleep(0.3)
            if self.proc.poll() is None:
                break
        self.q = queue.Queue()
        self.seen = []
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in self.proc.stdout:
            self.q.put(json.loads(line))

    def send(self, *words):
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()

    def next(self, pred, timeout=60, what="message"):
        for m in self.seen:
            if pred(m):
                self.seen.remove(m)
                return m
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                m = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            if pred(m):
                return m
            self.seen.append(m)
        events = [m for m in self.seen if m["type"] != "status"]
        with open(self.err, errors="replace") as fh:
            err = fh.read()[-1000:]
        pytest.fail(f"no {what} in {timeout}s; events seen: {events[-8:]}; live_coord "
                    f"{'exited ' + str(self.proc.returncode) if self.proc.poll() is not None else 'running'}"
                    f", its stderr: {err!r}")

    def event(self, kind, ind=1, timeout=60, **match):
        def ok(m):
            return (m["type"] == "event" and m.get("kind") == kind and m["individual"] == ind
                    and all(m.get(k) == v for k, v in match.items()))
        e = self.next(ok, timeout, f"{kind} event of {ind} {match}")
        assert e["sig_ok"], e
        return e

    def status(self, pred=lambda it: True, timeout=30):
        return self.next(lambda m: m["type"] == "status" and any(pred(i) for i in m["items"]),
                         timeout, "status")

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def live(tmp):
    key = base64.b64encode(os.urandom(32)).decode()
    coord = Coord(tmp, key)
    started = []

    def make(**extra):
        opts = {"gossip.key": key, "work.coordinator": f"tcp://127.0.0.1:{coord.port}",
                "beam.vms": "1", "live.max_individuals": "2"}
        opts.update(extra)
        a = Agent(tmp, f"a{len(started) + 1}", opts).start()
        started.append(a)
        try:
            coord.next(lambda m: m["type"] == "session", 60, "session")
        except pytest.fail.Exception as e:
            with open(a.log_path, errors="replace") as fh:
                pytest.fail(f"{e}; the agent's log ends: {fh.read()[-2000:]}")
        return a

    yield coord, make
    for a in started:
        a.stop(signal.SIGKILL)
    coord.close()


def breed_spec(tmp):
    p = os.path.join(tmp, "breed.json")
    if not os.path.exists(p):  # written once: the coordinator reads it while we go on
        with open(p + ".new", "w") as fh:
            json.dump({"function": "handle/2",
                       "fitness": {"cases": [{"in": [1, 2], "out": 3}]}}, fh)
        os.rename(p + ".new", p)
    return p


def start(coord, tmp, ind=1, inc=1, spec=None, source=None, lang=0, snapshot="-"):
    coord.send("start", "pop", ind, inc, lang, 1, 0, spec or f("ratelimit.json"),
               f("trace.jsonl"), breed_spec(tmp), source or f("parent.erl"), snapshot)


def test_start_upgrade_status_stop(tmp, live):
    coord, make = live
    agent = make()
    start(coord, tmp)
    s = coord.event("started")
    assert s["incarnation"] == 1 and s["version"] == 1
    assert s["child_hash"] == blake(read(f("parent.erl")))
    assert s["parent_hash"] == "0" * 64 and s["snapshot"] and s["source"] == ""
    # status every second, the trace replayed in a loop
    st = coord.status(lambda it: it["requests"] > 2500)["items"][0]
    assert (st["population"], st["individual"], st["incarnation"]) == ("pop", 1, 1)
    assert st["lost"] == 0 and st["twice"] == 0 and st["fitness"] is not None
    assert st["p50_us"] > 0 and st["p99_us"] >= st["p50_us"]
    # an external child: its source is the coordinator's, not sent back
    # (judge 0: the trace's expected replies assume a fresh state each pass,
    # so a score comparison in the loop's later passes is a coin toss)
    coord.send("upgrade", "pop", 1, 1, 10, "external", 0, 0, 0, f("child_better.erl"))
    u = coord.event("upgrade", upgrade_id=10)
    assert u["op"] == "external" and u["source"] == ""
    assert u["child_hash"] == blake(read(f("child_better.erl")))
    assert u["parent_hash"] == blake(read(f("parent.erl")))
    p = coord.event("promoted", upgrade_id=10)
    assert p["version"] == 2 and p["snapshot"]
    # bred by the agent in the individual's VM: the child comes back
    coord.send("upgrade", "pop", 1, 1, 11, "point", 7, 20, 1, "-", f("child_better.erl"))
    b = coord.next(lambda m: m["type"] == "event" and m.get("upgrade_id") == 11, 60, "bred")
    assert b["sig_ok"] and b["op"] == "point" and b["seed"] == 7
    assert b["kind"] in ("upgrade", "refused"), b
    if b["kind"] == "upgrade":
        assert b["source"] and b["child_hash"] == b["source_hash"]
        assert b["parent_hash"] == blake(read(f("child_better.erl")))
        end = coord.next(lambda m: m["type"] == "event" and m.get("upgrade_id") == 11
                         and m["kind"] in ("promoted", "rollback"), 60, "bred settled")
        assert end["source"] == b["source"]
    # a breed that cannot work (an unknown operator) is refused with the reason
    coord.send("upgrade", "pop", 1, 1, 12, "nosuchop", 1, 0, 1, "-", f("parent.erl"))
    r = coord.event("refused", upgrade_id=12)
    assert "breeding failed" in r["reason"], r
    # a pin (judge 0) of a worse child is promoted all the same
    coord.send("upgrade", "pop", 1, 1, 13, "pin", 0, 30, 0, f("child_worse.erl"))
    coord.event("upgrade", upgrade_id=13)
    pin = coord.event("promoted", upgrade_id=13, timeout=90)
    assert pin["child_hash"] == blake(read(f("child_worse.erl")))
    # a child that does not load is refused
    coord.send("upgrade", "pop", 1, 1, 14, "external", 0, 0, 1, f("child_bad.erl"))
    coord.next(lambda m: m["type"] == "event" and m.get("upgrade_id") == 14
               and m["kind"] in ("refused", "rollback"), 60, "bad child")
    status = agent.status()["work"]["live"]
    assert status["individuals"][0]["individual"] == "pop/1"
    coord.send("stop", "pop", 1, 1)
    coord.event("stopped")
    wait_for(lambda: agent.status()["work"]["live"]["individuals"] == [], what="forgotten")
    assert "live.event" in agent.logtext()


def test_bad_commands_are_answered_failed(tmp, live):
    coord, make = live
    make()
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as fh:
        json.dump({"probation": 10, "limitz": {}}, fh)
    start(coord, tmp, ind=5, spec=bad)
    e = coord.event("failed", ind=5)
    assert "bad live spec" in e["reason"] and "limitz" in e["reason"]
    coord.send("upgrade", "pop", 6, 1, 1, "external", 0, 0, 1, f("parent.erl"))
    assert "no live individual" in coord.event("failed", ind=6)["reason"]
    coord.send("stop", "pop", 6, 1)
    coord.event("failed", ind=6)
    coord.send("raw", "pop", 6, 1, 9)
    assert "unknown live command" in coord.event("failed", ind=6)["reason"]
    # [live] max_individuals = 2: a third is refused with the reason
    start(coord, tmp, ind=1)
    start(coord, tmp, ind=2)
    coord.event("started", ind=1)
    coord.event("started", ind=2)
    start(coord, tmp, ind=3)
    assert "max_individuals" in coord.event("failed", ind=3)["reason"]
    # another incarnation's command is not this one's
    coord.send("stop", "pop", 1, 9)
    assert "incarnation" in coord.event("failed", ind=1)["reason"]
    # a genome that cannot start fails with the VM's reason
    coord.send("stop", "pop", 2, 1)
    coord.event("stopped", ind=2)
    g = os.path.join(tmp, "g.erl")
    with open(g, "w") as fh:
        fh.write("-module(g).\n-export([init/1, handle/2]).\ninit(_) -> os:cmd(\"id\").\n"
                 "handle(R, S) -> {R, S}.\n")
    start(coord, tmp, ind=4, source=g)
    assert "not allowed" in coord.event("failed", ind=4)["reason"]


def live_vm_pid(agent):
    items = agent.status()["work"]["live"]["individuals"]
    return items[0]["vm_pid"] if items else 0


def test_a_killed_vm_resumes_at_the_last_good_version(tmp, live):
    coord, make = live
    agent = make()
    start(coord, tmp, inc=3)
    coord.event("started")
    coord.send("upgrade", "pop", 1, 3, 1, "external", 0, 0, 0, f("child_better.erl"))
    promoted = coord.event("promoted", upgrade_id=1)
    pid = wait_for(lambda: live_vm_pid(agent), what="the live VM")
    os.kill(pid, signal.SIGKILL)
    r = coord.event("restarted")
    assert r["version"] == promoted["version"] and r["incarnation"] == 3
    assert r["child_hash"] == blake(read(f("child_better.erl")))
    assert r["state_after"] == promoted["state_after"] and r["snapshot"] == promoted["snapshot"]
    before = coord.status(lambda it: it["requests"] > 0)["items"][0]["requests"]
    after = coord.status(lambda it: it["requests"] > before + 500)["items"][0]
    assert after["twice"] == 0 and after["version"] == promoted["version"]
    # SIGTERM: the individual is stopped, said so, before the agent leaves
    assert agent.stop(signal.SIGTERM) == 0
    coord.event("stopped")
    assert "live.stop" in agent.logtext() or "asked to stop" in agent.logtext()


def test_an_elixir_individual(tmp, live):
    coord, make = live
    make()
    start(coord, tmp, source=f("ratelimit.ex"), lang=1)
    s = coord.event("started")
    assert s["child_hash"] == blake(read(f("ratelimit.ex")))
    st = coord.status(lambda it: it["requests"] > 200)["items"][0]
    assert st["correct"] > 0 and st["failed"] == 0
    # breeding works on Erlang only: refused, said why; the individual runs on
    coord.send("upgrade", "pop", 1, 1, 1, "point", 3, 0, 1, "-", f("ratelimit.ex"))
    assert "breeding failed" in coord.event("refused", upgrade_id=1)["reason"]
    # an Elixir child goes through the Elixir front end
    child = os.path.join(tmp, "child.ex")
    with open(child, "w") as fh:
        fh.write(read(f("ratelimit.ex")).decode().replace("n < 5", "n < 6"))
    coord.send("upgrade", "pop", 1, 1, 2, "external", 0, 0, 1, child)
    assert coord.event("upgrade", upgrade_id=2)["version"] == 2


def test_too_many_vm_deaths_fail_the_individual(tmp, live):
    coord, make = live
    agent = make()
    start(coord, tmp)
    coord.event("started")
    for i in range(9):  # LIVE_MAX_RESTARTS = 8
        pid = wait_for(lambda: live_vm_pid(agent), what="the live VM")
        os.kill(pid, signal.SIGKILL)
        if i < 8:
            coord.event("restarted")
            wait_for(lambda: live_vm_pid(agent) not in (0, pid), what="a new VM")
    e = coord.event("failed")
    assert "giving up" in e["reason"], e
    wait_for(lambda: agent.status()["work"]["live"]["individuals"] == [], what="forgotten")


def test_live_individuals_take_their_vms_out_of_the_batch_credit(tmp, live):
    """Each live individual runs on a VM of its own and takes one VM's share
    of the credit the agent announces for batch work; one VM's share stays
    while a VM is ready, and the credit comes back when they stop."""
    coord, make = live
    agent = make(**{"beam.vms": "2", "work.credit_per_vm": "5"})
    agent.ready(2)

    def work():
        return agent.status()["work"]

    wait_for(lambda: work()["credit"] == 10, what="credit of 2 VMs x 5")
    assert work()["batch_vms"] == 2
    start(coord, tmp, ind=1)
    coord.event("started", ind=1)
    w = work()
    assert (w["batch_vms"], w["credit"]) == (1, 5), w
    start(coord, tmp, ind=2)
    coord.event("started", ind=2)
    w = work()
    assert (w["batch_vms"], w["credit"]) == (1, 5), w  # never below one VM's share
    coord.send("stop", "pop", 1, 1)
    coord.event("stopped", ind=1)
    coord.send("stop", "pop", 2, 1)
    coord.event("stopped", ind=2)
    wait_for(lambda: work()["credit"] == 10, what="the credit back")
    assert work()["batch_vms"] == 2
