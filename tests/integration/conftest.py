"""Helpers for petri's integration tests: real binaries, real VMs, loopback."""
import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("PETRI_BUILD", os.path.join(ROOT, "build"))
AGENT = os.path.join(BUILD, "bin", "petri-agent")
PETRI = os.path.join(BUILD, "bin", "petri")
SPECS = os.path.join(ROOT, "configs", "specs")
GENOMES = os.path.join(os.path.dirname(__file__), "genomes")


_handed = set()
_rng = random.Random()  # seeded from the OS: concurrent runs pick apart


def free_port():
    """A loopback TCP port nobody holds, below Linux's ephemeral range
    (32768-60999), so no socket's automatic source port can take it between
    this check and the daemon's bind; never the same one twice per run."""
    for _ in range(1000):
        p = _rng.randrange(20000, 32000)
        if p in _handed:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        _handed.add(p)
        return p
    raise RuntimeError("no free loopback port in 20000-32000")


def run(args, timeout=120, env=None, **kw):
    """Runs a command to completion; returns CompletedProcess with text output."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=e, **kw)


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as ex:  # noqa: BLE001 - keep polling, report the last error
            last = ex
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


class Agent:
    """A petri-agent daemon in its own temporary directories."""

    def __init__(self, tmp, name="a1", extra=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.run_dir = os.path.join(self.dir, "run")
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "agent.log")
        port = free_port()
        self.opts = {
            "node.name": name,
            "node.data_dir": self.data_dir,
            "node.run_dir": self.run_dir,
            "gossip.bind": f"127.0.0.1:{port}",
            "log.level": "debug",
        }
        self.opts.update(extra or {})
        self.proc = None

    def args(self):
        a = [AGENT]
        for k, v in self.opts.items():
            a += ["-o", f"{k}={v}"]
        return a

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, PETRI_GOSSIP_KEY=base64.b64encode(os.urandom(32)).decode())
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        return self

    def ctl(self, cmd, *args):
        r = run([AGENT, cmd, "--json", "-o", f"node.run_dir={self.run_dir}", *args], timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd}: rc={r.returncode} {r.stderr.strip()}")
        return json.loads(r.stdout)

    def status(self):
        return self.ctl("status")

    def ready(self, n):
        return wait_for(lambda: self.status()["pool"]["ready"] == n, what=f"{n} ready VMs")

    def logtext(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="petri-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def agents(tmp):
    started = []

    def make(name="a1", extra=None):
        a = Agent(tmp, name, extra)
        started.append(a)
        return a

    yield make
    for a in started:
        a.stop(signal.SIGKILL)
