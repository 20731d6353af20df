"""benchlib.py - helpers shared by the Python benchmarks of tests/bench/: paths,
starting and stopping a petri-agent daemon, /proc readings, the HTTP API."""
import base64
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("PETRI_BUILD") or os.path.join(ROOT, "build")
AGENT = os.path.join(BUILD, "bin", "petri-agent")
PETRI = os.path.join(BUILD, "bin", "petri")
SPEC = os.path.join(ROOT, "configs", "specs", "quadratic.json")
CLK_TCK = os.sysconf("SC_CLK_TCK")

FAST_GOSSIP = {
    "gossip.probe_interval_ms": "100",
    "gossip.probe_timeout_ms": "50",
    "gossip.gossip_interval_ms": "30",
    "gossip.suspicion_mult": "3",
    "gossip.push_pull_interval_ms": "2000",
}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def loadavg():
    """The 1, 5 and 15 minute load averages (the machine is shared: context)."""
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


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


def new_key():
    return base64.b64encode(os.urandom(32)).decode()


def opts(d):
    a = []
    for k, v in d.items():
        a += ["-o", "%s=%s" % (k, v)]
    return a


def clean_env(**extra):
    """Our environment without PETRI_* variables (the agent rejects unknown ones)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PETRI_")}
    env.update(extra)
    return env


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks; None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


class Daemon:
    """A petri-agent daemon in its own temp dirs, with a fresh cluster key."""

    def __init__(self, tmp, name="agent", key=None, extra=None, seeds=None):
        self.dir = os.path.join(tmp, name)
        self.run_dir = os.path.join(self.dir, "run")
        os.makedirs(self.run_dir, exist_ok=True)
        self.name = name
        self.gport = free_port()
        o = {"node.name": name, "node.data_dir": os.path.join(self.dir, "data"),
             "node.run_dir": self.run_dir, "gossip.bind": "127.0.0.1:%d" % self.gport}
        if seeds:
            o["gossip.seeds"] = seeds
        o.update(extra or {})
        self.args = [AGENT, *opts(o)]
        self.env = clean_env(PETRI_GOSSIP_KEY=key or new_key())
        self.log_path = os.path.join(self.dir, "agent.log")
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=self.env)
        return self

    def status(self):
        try:
            p = subprocess.run([AGENT, "status", "--json", "-o", "node.run_dir=" + self.run_dir],
                               capture_output=True, text=True, timeout=10, env=self.env)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None

    def ready(self):
        s = self.status()
        return s["pool"]["ready"] if s else 0

    def vm_pids(self):
        s = self.status()
        return [v["pid"] for v in s["pool"]["vms"]] if s else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="petri-bench-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def http(port, method, path, token=None, body=None, timeout=30):
    data = None
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw
    except (urllib.error.URLError, OSError):
        return None, None
