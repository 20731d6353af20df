#!/bin/bash
# run_checks.sh - membership properties asserted on the deterministic
# simulator's JSON (DESIGN.md section 6). Simulated time, fixed seeds: these
# are correctness properties, not wall-clock timings.
#   usage: tests/sim/run_checks.sh build/bin/swimsim
set -u
SIM=${1:?usage: run_checks.sh path/to/swimsim}
PY=/usr/bin/python3
SEED=${SWIMSIM_SEED:-1}
fail=0

# check NAME CONDITION ARGS... : runs swimsim ARGS, prints its table, and
# evaluates CONDITION (Python) with L = the Lifeguard run, P = plain SWIM
# (when --lifeguard both), pp(n) = the scaled push-pull interval in s.
check() {
    local name=$1 cond=$2
    shift 2
    echo "== $name: swimsim $*"
    local out
    if ! out=$("$SIM" "$@" --seed "$SEED"); then
        echo "FAIL $name: swimsim exited with an error"
        fail=1
        return
    fi
    echo "$out" | head -n -1
    echo "$out" | tail -n 1 >>"$JSONL"
    if ! echo "$out" | tail -n 1 | "$PY" -c '
import json, math, sys
name, cond = sys.argv[1], sys.argv[2]
d = json.loads(sys.stdin.read())
runs = d["runs"]
L = next((r for r in runs if r["lifeguard"]), None)
P = next((r for r in runs if not r["lifeguard"]), None)
def pp(n):
    return 30.0 if n <= 32 else 30.0 * (math.ceil(math.log2(n) - 5) + 1)
ok = eval(cond)
print(("ok   " if ok else "FAIL ") + name + ": " + cond)
sys.exit(0 if ok else 1)
' "$name" "$cond"; then
        fail=1
    fi
}

JSONL=$(mktemp)
trap 'rm -f "$JSONL"' EXIT

check "crash: one member dies at N=100 (5 crashes pooled); dead everywhere, median <= 10 s, p99 <= 15 s" \
    "L['detect_count'] == L['detect_expected'] > 0 and 0 < L['detect_median_s'] <= 10 and 0 < L['detect_p99_s'] <= 15" \
    --nodes 100 --scenario crash

check "metadata update at N=1000, 0% loss: 99% within 2 s, all within one push-pull interval" \
    "L['dissem_count'] == L['dissem_expected'] > 0 and 0 <= L['dissem_p99_s'] <= 2 and 0 <= L['dissem_all_s'] <= pp(1000)" \
    --nodes 1000 --scenario metadata-update --loss 0

check "metadata update at N=1000, 10% loss: 99% within 2 s, all within one push-pull interval" \
    "L['dissem_count'] == L['dissem_expected'] > 0 and 0 <= L['dissem_p99_s'] <= 2 and 0 <= L['dissem_all_s'] <= pp(1000)" \
    --nodes 1000 --scenario metadata-update --loss 0.1

check "one simulated hour at N=50, 10% loss on every link: no healthy member declared dead" \
    "L['fp_dead_nodes'] == 0 and L['duration_s'] >= 3600" \
    --nodes 50 --scenario steady --loss 0.1 --duration 3600 --lifeguard both

check "a member paused 30 s at N=50: no healthy member declared dead, it refutes and is alive everywhere" \
    "L['fp_dead_nodes'] == 0 and L['recovered']" \
    --nodes 50 --scenario pause --lifeguard both

check "slow members (1-2.5 s inbound delay) at N=50: Lifeguard raises >= 10x fewer false suspicions than plain SWIM" \
    "P['false_suspicions'] > 0 and 10 * L['false_suspicions'] <= P['false_suspicions'] and L['fp_dead_nodes'] == 0" \
    --nodes 50 --scenario slow --lifeguard both

check "a third of N=100 cut off for 5 minutes: heals by itself within 2 push-pull intervals" \
    "L['recovered'] and 0 <= L['recover_s'] <= 2 * pp(100)" \
    --nodes 100 --scenario partition-heal

check "a restarted member (same name/addr, incarnation floor from disk) at N=100: alive everywhere within 3 probe periods" \
    "L['recovered'] and 0 <= L['recover_s'] <= 3.0" \
    --nodes 100 --scenario restart

check "churn at N=100 (crashes, leaves, restarts): converges, no healthy member declared dead" \
    "L['recovered'] and L['fp_dead_nodes'] == 0" \
    --nodes 100 --scenario churn

check "steady N=10 (message rate baseline)" "L['msgs_per_node_s'] > 0" \
    --nodes 10 --scenario steady --duration 300
check "steady N=1000 (message rate)" "L['msgs_per_node_s'] > 0 and L['fp_dead_nodes'] == 0" \
    --nodes 1000 --scenario steady --duration 300

echo "== messages per member per second, N=1000 against N=10"
if ! tail -n 2 "$JSONL" | "$PY" -c '
import json, sys
a, b = [json.loads(l)["runs"][0]["msgs_per_node_s"] for l in sys.stdin.read().splitlines()]
ratio = b / a
ok = ratio <= 1.5 and a / b <= 1.5
print(("ok   " if ok else "FAIL ") + "N=10 %.2f msg/s, N=1000 %.2f msg/s, ratio %.2f (<= 1.5)" % (a, b, ratio))
sys.exit(0 if ok else 1)
'; then
    fail=1
fi

if [ "$fail" != 0 ]; then
    echo "swimsim checks: FAILED"
    exit 1
fi
echo "swimsim checks: all passed"
