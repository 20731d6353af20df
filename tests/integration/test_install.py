"""make install: PREFIX and DESTDIR honoured, the version from VERSION, and the
installed binaries score a genome with the installed BEAM app."""
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_make_install_into_destdir_gives_working_binaries(tmp_path):
    dest = tmp_path / "root"
    r = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/opt/petri"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    prefix = dest / "opt" / "petri"
    for f in ["bin/petri", "bin/petri-agent", "lib/petri/ebin/petri_node.beam",
              "lib/petri/ebin/petri.app", "share/petri/agent.conf", "share/petri/coordinator.conf"]:
        assert (prefix / f).exists(), f
    version = open(os.path.join(ROOT, "VERSION")).read().strip()
    for b in ["petri", "petri-agent"]:
        out = subprocess.run([str(prefix / "bin" / b), "--version"], capture_output=True, text=True)
        assert out.stdout.strip() == f"{b} {version}", out.stdout
    app = (prefix / "lib/petri/ebin/petri.app").read_text()
    assert f'{{vsn, "{version}"}}' in app
    # The default code path baked into the installed agent is PREFIX's, not the checkout's.
    agent = str(prefix / "bin" / "petri-agent")
    shown = subprocess.run([agent, "-n", "-o", "node.data_dir=" + str(tmp_path / "d")],
                           capture_output=True, text=True)
    assert "/opt/petri/lib/petri/ebin" in shown.stdout + shown.stderr
    # Relocated by DESTDIR, the app is found through [beam] code_path and scores a genome.
    genome = tmp_path / "g.erl"
    genome.write_text("-module(g).\n-export([f/1]).\nf(X) -> X*X + 2*X - 1.\n")
    ev = subprocess.run([agent, "eval", "--spec", os.path.join(ROOT, "configs/specs/quadratic.json"),
                         "--vms", "1", "-o", f"beam.code_path={prefix}/lib/petri/ebin", str(genome)],
                        capture_output=True, text=True, timeout=120)
    assert ev.returncode == 0, ev.stderr
    res = json.loads(ev.stdout.splitlines()[0])
    assert res["status"] == "ok" and res["fitness"] == 0.0, res
