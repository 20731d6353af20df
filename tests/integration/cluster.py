"""A real petri cluster on loopback for tests: one coordinator, N agents,
a fresh cluster key and API token, compressed gossip timings."""
import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import AGENT, PETRI, free_port, wait_for  # noqa: F401 (free_port: for the tests)

FAST = {
    "gossip.probe_interval_ms": "100",
    "gossip.probe_timeout_ms": "50",
    "gossip.gossip_interval_ms": "30",
    "gossip.suspicion_mult": "3",
    "gossip.push_pull_interval_ms": "2000",
}


def quadratic_spec(name="quad", size=60, demes=3, **extra):
    spec = {
        "name": name, "function": "f/1",
        "primitives": {"ops": ["+", "-", "*"], "vars": ["X"],
                       "constants": {"min": -3, "max": 3, "integer": True}},
        "fitness": {"cases": [{"in": [x], "out": x * x + 2 * x - 1} for x in range(-10, 11)]},
        "limits": {"timeout_ms": 500, "heap_words": 262144, "reductions": 1000000},
        "size": size, "demes": demes,
        "stop": {"target_fitness": 0, "max_evaluations": 400000},
    }
    spec.update(extra)
    return spec


class Proc:
    def __init__(self, args, log, env):
        self.args, self.log_path, self.env = args, log, env
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env)
        return self

    def kill(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def logtext(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Cluster:
    def __init__(self, tmp, agents=3, vms=1, key=None, fast=True, extra_agent=None):
        self.tmp = tmp
        self.key = key or base64.b64encode(os.urandom(32)).decode()
        self.token = os.urandom(16).hex()
        self.gport, self.wport, self.hport = free_port(), free_port(), free_port()
        self.env = dict(os.environ, PETRI_GOSSIP_KEY=self.key, PETRI_HTTP_TOKEN=self.token)
        self.timings = FAST if fast else {}
        self.vms = vms
        self.extra_agent = extra_agent or {}
        self.coord = None
        self.agents = []
        self.n = agents

    def opts(self, d):
        a = []
        for k, v in d.items():
            a += ["-o", f"{k}={v}"]
        return a

    def coord_proc(self):
        o = {"node.name": "coordinator", "node.data_dir": os.path.join(self.tmp, "coordinator"),
             "gossip.bind": f"127.0.0.1:{self.gport}", "work.bind": f"127.0.0.1:{self.wport}",
             "http.bind": f"127.0.0.1:{self.hport}", "log.level": "debug"}
        o.update(self.timings)
        return Proc([PETRI, "coordinator", *self.opts(o)],
                    os.path.join(self.tmp, "coordinator.log"), self.env)

    def agent_proc(self, i, key=None, **extra):
        name = f"agent-{i}"
        o = {"node.name": name, "node.data_dir": os.path.join(self.tmp, name),
             "node.run_dir": os.path.join(self.tmp, name, "run"),
             "gossip.bind": f"127.0.0.1:{free_port()}",
             "gossip.seeds": f"127.0.0.1:{self.gport}", "beam.vms": str(self.vms),
             "log.level": "debug"}
        o.update(self.timings)
        o.update(self.extra_agent)
        o.update(extra)
        env = dict(self.env)
        del env["PETRI_HTTP_TOKEN"]
        if key:
            env["PETRI_GOSSIP_KEY"] = key
        p = Proc([AGENT, *self.opts(o)], os.path.join(self.tmp, name + ".log"), env)
        p.name = name
        p.run_dir = o["node.run_dir"]
        return p

    def start(self):
        self.coord = self.coord_proc().start()
        for i in range(self.n):
            self.agents.append(self.agent_proc(i + 1).start())
        self.wait_ready(self.n)
        return self

    def add_agent(self, **extra):
        p = self.agent_proc(len(self.agents) + 1, **extra).start()
        self.agents.append(p)
        return p

    def api(self, method, path, body=None, token=True, timeout=60):
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            data = data.encode() if isinstance(data, str) else data
        req = urllib.request.Request(f"http://127.0.0.1:{self.hport}{path}", data=data,
                                     method=method)
        if token:
            req.add_header("Authorization", f"Bearer {self.token if token is True else token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw and raw[:1] in b"[{" else raw)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw

    def members(self):
        st, m = self.api("GET", "/v1/members")
        assert st == 200, m
        return m

    def ready_agents(self):
        return [m for m in self.members() if m["role"] == "agent" and m["status"] == "alive"
                and m["meta"].get("vms", 0) > 0]

    def wait_ready(self, n, timeout=60):
        return wait_for(lambda: len(self.ready_agents()) >= n, timeout=timeout,
                        what=f"{n} agents ready")

    def cli(self, *args, timeout=120):
        r = subprocess.run([PETRI, "--addr", f"127.0.0.1:{self.hport}", "--token", self.token,
                            *args], capture_output=True, text=True, timeout=timeout)
        return r

    def pop(self, name):
        st, p = self.api("GET", f"/v1/populations/{name}")
        assert st == 200, p
        return p

    def stop(self):
        for a in self.agents:
            a.stop(signal.SIGKILL)
        if self.coord:
            self.coord.stop(signal.SIGKILL)
