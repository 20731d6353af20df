"""petri-agent as a daemon: VM supervision with real VMs (kill -9, SIGSTOP,
RSS ceiling), garbage from a VM, clean shutdown and no orphans."""
import os
import signal
import time

from conftest import pid_alive, wait_for

FAST = {
    "beam.vms": "2",
    "beam.heartbeat_interval_ms": "100",
    "beam.heartbeat_timeout_ms": "800",
    "beam.restart_backoff_ms": "50",
    "beam.restart_backoff_max_ms": "500",
}
FAKE = os.path.join(os.path.dirname(__file__), "fake_erl.py")


def vm_pids(agent):
    return [v["pid"] for v in agent.status()["pool"]["vms"] if v["state"] == "ready"]


def test_killed_vm_is_replaced(agents):
    a = agents("kill", FAST).start()
    a.ready(2)
    pids = vm_pids(a)
    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: len(vm_pids(a)) == 2 and pids[0] not in vm_pids(a), what="replacement VM")
    st = a.status()["pool"]
    assert st["restarts"] >= 1
    assert pids[1] in vm_pids(a)  # the other VM was left alone


def test_hung_vm_is_detected_and_replaced(agents):
    a = agents("stop", FAST).start()
    a.ready(2)
    victim = vm_pids(a)[0]
    os.kill(victim, signal.SIGSTOP)
    wait_for(lambda: victim not in vm_pids(a) and len(vm_pids(a)) == 2, timeout=20,
             what="hung VM replaced")
    assert "heartbeat timeout" in a.logtext()
    wait_for(lambda: not pid_alive(victim), what="stopped VM reaped")


def test_rss_ceiling_is_enforced_from_outside(agents):
    a = agents("rss", dict(FAST, **{"beam.max_rss_mb": "5", "beam.vms": "1"})).start()
    wait_for(lambda: "over the 5 MiB ceiling" in a.logtext(), timeout=30, what="RSS kill")
    assert a.proc.poll() is None  # the agent lives on


def test_garbage_from_a_vm_never_crashes_the_agent(agents):
    for mode in ("random", "bad_version", "huge_length", "truncated_hello", "unknown_result",
                 "unknown_bred", "double_hello"):
        a = agents("fake-" + mode, dict(FAST, **{
            "beam.erl": FAKE, "beam.vms": "1", "beam.restart_intensity": "3",
            "beam.boot_timeout_ms": "1000"}))
        os.environ["PETRI_TEST_FAKE_MODE"] = mode
        try:
            a.start()
        finally:
            del os.environ["PETRI_TEST_FAKE_MODE"]
        rc = a.proc.wait(60)
        log = a.logtext()
        assert rc == 1, (mode, rc, log[-2000:])  # gave up like a supervisor, did not crash
        assert "vm.kill" in log, mode
        assert "pool.failed" in log, mode


def test_silent_vm_after_hello_is_replaced(agents):
    a = agents("silent", dict(FAST, **{"beam.erl": FAKE, "beam.vms": "1",
                                       "beam.restart_intensity": "2"}))
    os.environ["PETRI_TEST_FAKE_MODE"] = "silent_after_hello"
    try:
        a.start()
    finally:
        del os.environ["PETRI_TEST_FAKE_MODE"]
    assert a.proc.wait(60) == 1
    assert "heartbeat timeout" in a.logtext()


def test_sigterm_is_clean_and_leaves_no_vm(agents):
    a = agents("term", FAST).start()
    a.ready(2)
    pids = vm_pids(a)
    t0 = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 10
    for p in pids:
        wait_for(lambda: not pid_alive(p), timeout=5, what=f"VM {p} gone")
    assert "agent.stopped" in a.logtext()
    assert not os.path.exists(os.path.join(a.run_dir, "agent.sock"))


def test_killed_agent_leaves_no_orphans(agents):
    a = agents("orphan", FAST).start()
    a.ready(2)
    pids = vm_pids(a)
    a.proc.kill()
    a.proc.wait()
    for p in pids:
        wait_for(lambda: not pid_alive(p), timeout=10, what=f"VM {p} gone with its agent")
