"""Membership with real petri-agent processes on loopback and compressed
timings: convergence, crash, pause, graceful leave, wrong keys, garbage on
the gossip port, key rotation."""
import base64
import json
import os
import random
import signal
import socket
import time

import pytest

from cluster import FAST, Proc, free_port
from conftest import AGENT, run, wait_for

MEMBER_FIELDS = {"name", "id", "addr", "status", "incarnation", "role", "meta"}


class Mesh:
    def __init__(self, tmp, key=None):
        self.tmp = tmp
        self.key = key or base64.b64encode(os.urandom(32)).decode()
        self.nodes = []
        self.seed = None

    def start_node(self, key=None, **extra):
        i = len(self.nodes) + 1
        name = f"n{i}"
        port = free_port()
        o = {"node.name": name, "node.data_dir": os.path.join(self.tmp, name),
             "node.run_dir": os.path.join(self.tmp, name, "run"),
             "gossip.bind": f"127.0.0.1:{port}", "beam.vms": "1", "log.level": "debug",
             "beam.heartbeat_timeout_ms": "60000"}
        o.update(FAST)
        if self.seed:
            o["gossip.seeds"] = self.seed
        o.update(extra)
        args = [AGENT]
        for k, v in o.items():
            args += ["-o", f"{k}={v}"]
        env = dict(os.environ, PETRI_GOSSIP_KEY=key or self.key)
        p = Proc(args, os.path.join(self.tmp, name + ".log"), env).start()
        p.name, p.run_dir, p.port, p.opts = name, o["node.run_dir"], port, o
        if not self.seed:
            self.seed = f"127.0.0.1:{port}"
        self.nodes.append(p)
        return p

    def members(self, node):
        r = run([AGENT, "members", "--json", "-o", f"node.run_dir={node.run_dir}"], timeout=20)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def status_of(self, node, name):
        for m in self.members(node):
            if m["name"] == name:
                return m["status"]
        return None

    def view(self, node):
        return {m["name"]: m["status"] for m in self.members(node)}

    def all_see(self, name, status, nodes=None):
        nodes = nodes or [n for n in self.nodes if n.proc.poll() is None and n.name != name]
        return all(self.status_of(n, name) == status for n in nodes)

    def converged(self, n):
        live = [x for x in self.nodes if x.proc.poll() is None]
        return all(sum(1 for s in self.view(x).values() if s == "alive") == n for x in live)

    def stop(self):
        for n in self.nodes:
            if n.proc.poll() is None:
                try:
                    os.kill(n.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            n.stop(signal.SIGKILL)


@pytest.fixture
def mesh(tmp):
    m = Mesh(tmp)
    yield m
    m.stop()


def start(mesh, n):
    for _ in range(n):
        mesh.start_node()
    wait_for(lambda: mesh.converged(n), timeout=60, what=f"{n} nodes converged")


def test_members_json_shape_and_convergence(mesh):
    start(mesh, 8)
    ms = mesh.members(mesh.nodes[3])
    assert len(ms) == 8
    for m in ms:
        assert set(m) == MEMBER_FIELDS, m
        assert m["role"] == "agent" and "pk" in m["meta"] and "vms_total" in m["meta"]
    r = run([AGENT, "members", "-o", f"node.run_dir={mesh.nodes[0].run_dir}"])
    assert r.returncode == 0 and "NAME" in r.stdout and "n8" in r.stdout


def test_crash_pause_and_leave(mesh):
    start(mesh, 5)
    victim = mesh.nodes[4]
    victim.stop(signal.SIGKILL)
    wait_for(lambda: mesh.all_see("n5", "dead"), timeout=30, what="n5 dead everywhere")
    paused = mesh.nodes[3]
    os.kill(paused.proc.pid, signal.SIGSTOP)
    wait_for(lambda: mesh.all_see("n4", "dead"), timeout=30, what="paused n4 dead")
    os.kill(paused.proc.pid, signal.SIGCONT)
    wait_for(lambda: mesh.all_see("n4", "alive", nodes=mesh.nodes[:3]), timeout=30,
             what="n4 alive again after SIGCONT")
    leaver = mesh.nodes[2]
    assert leaver.stop(signal.SIGTERM) == 0
    wait_for(lambda: mesh.all_see("n3", "left", nodes=mesh.nodes[:2]), timeout=30,
             what="n3 left")


def test_restarted_node_is_alive_again(mesh):
    start(mesh, 3)
    n3 = mesh.nodes[2]
    inc0 = [m for m in mesh.members(mesh.nodes[0]) if m["name"] == "n3"][0]["incarnation"]
    n3.stop(signal.SIGKILL)
    wait_for(lambda: mesh.all_see("n3", "dead", nodes=mesh.nodes[:2]), timeout=30, what="dead")
    n3.start()
    wait_for(lambda: mesh.all_see("n3", "alive", nodes=mesh.nodes[:2]), timeout=30, what="alive")
    inc1 = [m for m in mesh.members(mesh.nodes[0]) if m["name"] == "n3"][0]["incarnation"]
    assert inc1 > inc0


def test_wrong_key_never_joins_and_garbage_changes_nothing(mesh):
    start(mesh, 3)
    intruder = mesh.start_node(key=base64.b64encode(os.urandom(32)).decode())
    before = mesh.view(mesh.nodes[0])
    # spray random and truncated bytes at every gossip port (ZMTP and raw)
    for n in mesh.nodes[:3]:
        for size in (0, 1, 7, 64, 1500, 70000):
            try:
                s = socket.create_connection(("127.0.0.1", n.port), timeout=2)
                s.sendall(os.urandom(size))
                s.close()
            except OSError:
                pass
    time.sleep(3)
    for n in mesh.nodes[:3]:
        v = mesh.view(n)
        assert intruder.name not in v, v
        assert sorted(s for s in v.values()) == ["alive"] * 3, v
        assert n.proc.poll() is None
    assert mesh.view(mesh.nodes[0]) == before
    assert intruder.name in mesh.view(intruder)  # it only knows itself


def test_key_rotation_drops_no_member(mesh):
    start(mesh, 4)
    new = base64.b64encode(os.urandom(32)).decode()

    def keys(node, *args):
        r = run([AGENT, "keys", *args, "--json", "-o", f"node.run_dir={node.run_dir}"])
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(r.stdout)

    for n in mesh.nodes:
        keys(n, "install", new)
    for n in mesh.nodes:
        keys(n, "use", new)
    for n in mesh.nodes:
        keys(n, "remove", mesh.key)
    listed = keys(mesh.nodes[0], "list")["keys"]
    assert [k["key"] for k in listed] == [new] and listed[0]["primary"]
    time.sleep(2)
    assert mesh.converged(4)
    # the old key no longer gets in
    late = mesh.start_node(key=mesh.key)
    time.sleep(3)
    assert late.name not in mesh.view(mesh.nodes[0])
    r = run([AGENT, "keys", "remove", new, "-o", f"node.run_dir={mesh.nodes[0].run_dir}"])
    assert r.returncode == 1 and "primary" in (r.stdout + r.stderr)
