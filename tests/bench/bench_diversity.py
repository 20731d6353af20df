#!/usr/bin/python3
"""bench_diversity.py - does a population keep its diversity, and how good is
the best it finds, against DEAP at the same budget.

Targets (ops + - * /, integer constants -5..5, fitness = the sum of absolute
errors over the cases):
  pagie1     Pagie-1: 1/(1+x^-4) + 1/(1+y^-4), 676 cases on a 26x26 grid in
             [-5, 5] (configs/specs/pagie1-population.json)
  keijzer5   Keijzer-5: 30xz / ((x-10) y^2), 294 cases on a 7x6x7 grid,
             x, z in [-1, 1], y in [1, 2]: 3 variables, and its constants
             (30, 10) must be built from -5..5 (the default pair: pagie1,keijzer5)
  keijzer12  Keijzer-12: x^4 - x^3 + y^2/2 - y, 169 cases on a 13x13 grid in
             [-3, 3]; solvable exactly with these primitives (--targets only)
Methods, each N runs of 25,500 evaluations (failed ones included), 500
members in 4 demes, tournament 4, elitism 2, the default operators:
  no_worse   petri, the old replacement ("replacement": "no_worse")
  niche      petri, the default replacement (clones dropped, niche cap)
  niche@S    petri, niche with share S (not in the default set)
  map_elites petri, "archive": {"map_elites": ...} over size x passed cases
  deap       DEAP (installed from PyPI into build/bench-venv by this script):
             eaSimple-style generational GP, population 500, tournament 4,
             crossover 0.5 (one point), mutation 0.1 (uniform, full 0..2),
             height <= 12 and <= 200 nodes, evaluations counted one by one
             and stopped at the same budget.
Division, on both sides, has petri's semantics: x / 0 (and any float
overflow) fails the genome, i.e. fitness +infinity; DEAP's usual protected
division (returning 1) is not used.
A run "collapsed" when at its end every live member has the same fitness.

The petri runs share one cluster (coordinator + 1 agent, 2 VMs), --parallel
populations at a time; the DEAP runs go on beside them (their outcome does
not depend on time). Prints a table and one JSON line; never fails because
of a number. Options: --runs N (5), --parallel K (3), --targets a,b,
--methods a,b, --budget N (25500), --code-path DIR (the agents' .beam files).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, HERE)
import benchlib as bl  # noqa: E402
import bench_coordinator as bc  # noqa: E402

VENV = os.path.join(bl.BUILD, "bench-venv")


def grid(lo, hi, n):
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def pagie1_cases():
    out = []
    for x in grid(-5, 5, 26):
        for y in grid(-5, 5, 26):
            out.append(([x, y], 1 / (1 + x ** -4) + 1 / (1 + y ** -4)))
    return out


def keijzer12_cases():
    out = []
    for x in grid(-3, 3, 13):
        for y in grid(-3, 3, 13):
            out.append(([x, y], x ** 4 - x ** 3 + y * y / 2 - y))
    return out


def keijzer5_cases():
    out = []
    for x in grid(-1, 1, 7):
        for y in grid(1, 2, 6):
            for z in grid(-1, 1, 7):
                out.append(([x, y, z], 30 * x * z / ((x - 10) * y * y)))
    return out


TARGETS = {
    "pagie1": (pagie1_cases, 0.1),  # pass_error of the map_elites "passed" descriptor
    "keijzer12": (keijzer12_cases, 1.0),
    "keijzer5": (keijzer5_cases, 0.1),
}
METHODS = ["no_worse", "niche", "map_elites", "deap"]


PAGIE1_SPEC = os.path.join(bl.ROOT, "configs", "specs", "pagie1-population.json")


def spec(name, target, method, budget):
    cases, pass_error = TARGETS[target]
    cs = cases()
    if target == "pagie1":  # the shipped example, which is the same problem
        with open(PAGIE1_SPEC) as f:
            s = json.load(f)
        s.pop("replacement", None)
        s["name"] = name
        s["stop"]["max_evaluations"] = budget
        cs = [(c["in"], c["out"]) for c in s["fitness"]["cases"]]
    else:
        s = None
    s = s or {
        "name": name, "function": "f/%d" % len(cs[0][0]),
        "primitives": {"ops": ["+", "-", "*", "/"], "vars": ["X", "Y", "Z"][:len(cs[0][0])],
                       "constants": {"min": -5, "max": 5, "integer": True}},
        "fitness": {"cases": [{"in": i, "out": o} for i, o in cs], "error": "abs"},
        "limits": {"timeout_ms": 500, "heap_words": 262144, "reductions": 1000000},
        "size": 500, "demes": 4, "selection": {"tournament": 4}, "elitism": 2,
        "stop": {"target_fitness": 0, "max_evaluations": budget},
    }
    if method == "no_worse":
        s["replacement"] = "no_worse"
    elif method.startswith("niche@"):
        s["replacement"] = {"niche": {"share": float(method[6:])}}
    elif method == "map_elites":
        s["archive"] = {"map_elites": {"descriptors": ["size", "passed"], "bins": [16, 16],
                                       "range": [[40, 1240], [0, len(cs)]],
                                       "pass_error": pass_error}}
    return s


# ---- DEAP ------------------------------------------------------------------

DEAP_PROG = r'''
import functools, json, math, operator, random, sys
from deap import base, creator, gp, tools

target, seed, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cases = json.load(sys.stdin)

class Fail(Exception):
    pass

def div(a, b):
    # petri's semantics: x / 0 fails the genome (Erlang raises badarith)
    if b == 0:
        raise Fail()
    return a / b

pset = gp.PrimitiveSet("MAIN", len(cases[0][0]))
pset.addPrimitive(operator.add, 2)
pset.addPrimitive(operator.sub, 2)
pset.addPrimitive(operator.mul, 2)
pset.addPrimitive(div, 2)
pset.addEphemeralConstant("c", functools.partial(random.randint, -5, 5))
creator.create("FitnessMin", base.Fitness, weights=(-1.0,))
creator.create("Individual", gp.PrimitiveTree, fitness=creator.FitnessMin)
tb = base.Toolbox()
tb.register("expr", gp.genHalfAndHalf, pset=pset, min_=1, max_=4)
tb.register("individual", tools.initIterate, creator.Individual, tb.expr)
tb.register("population", tools.initRepeat, list, tb.individual)
tb.register("compile", gp.compile, pset=pset)
INF = float("inf")

def evaluate(ind):
    try:
        f = tb.compile(expr=ind)
        tot = 0.0
        for args, out in cases:
            v = f(*args)
            tot += abs(v - out)
        return (tot if math.isfinite(tot) else INF,)
    except (Fail, OverflowError, ZeroDivisionError, ValueError):
        return (INF,)

tb.register("evaluate", evaluate)
tb.register("select", tools.selTournament, tournsize=4)
tb.register("mate", gp.cxOnePoint)
tb.register("expr_mut", gp.genFull, min_=0, max_=2)
tb.register("mutate", gp.mutUniform, expr=tb.expr_mut, pset=pset)
for op in ("mate", "mutate"):
    tb.decorate(op, gp.staticLimit(key=operator.attrgetter("height"), max_value=12))
    tb.decorate(op, gp.staticLimit(key=len, max_value=200))

random.seed(seed)
pop = tb.population(n=500)
evals = 0
best = INF

def score(inds):
    global evals, best
    for ind in inds:
        if evals >= budget:
            ind.fitness.values = (INF,)
            continue
        ind.fitness.values = tb.evaluate(ind)
        evals += 1
        best = min(best, ind.fitness.values[0])

score(pop)
while evals < budget:
    off = [tb.clone(i) for i in tb.select(pop, len(pop))]
    for a, b in zip(off[::2], off[1::2]):
        if random.random() < 0.5:
            tb.mate(a, b)
            del a.fitness.values, b.fitness.values
    for m in off:
        if random.random() < 0.1:
            tb.mutate(m)
            del m.fitness.values
    score([i for i in off if not i.fitness.valid])
    pop = off
fits = [i.fitness.values[0] for i in pop]
print(json.dumps({"best": best, "evaluations": evals,
                  "fitness_values": len(set(fits)),
                  "collapsed": len(set(fits)) == 1}))
'''


def deap_python():
    """The venv's python with deap, created and filled from PyPI if needed."""
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run(["/usr/bin/python3", "-m", "venv", VENV], check=True)
    if subprocess.run([py, "-c", "import deap"], capture_output=True).returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", "deap"], check=True)
    ver = subprocess.run([py, "-c", "import deap; print(deap.__version__)"],
                         capture_output=True, text=True).stdout.strip()
    return py, ver


def run_deap(py, target, seed, budget):
    cs = TARGETS[target][0]()
    p = subprocess.run([py, "-c", DEAP_PROG, target, str(seed), str(budget)],
                       input=json.dumps(cs), capture_output=True, text=True)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"best": None, "collapsed": None, "error": p.stderr[-500:]}


def deap_thread(py, jobs, budget, results):
    """One DEAP run at a time beside the cluster (two would take its cores)."""
    def work():
        for t, r in jobs:
            results[(t, "deap", r)] = run_deap(py, t, 1000 + r, budget)
            print("  deap %s run %d: best %s" % (t, r, results[(t, "deap", r)].get("best")),
                  flush=True)
    th = threading.Thread(target=work, daemon=True)
    th.start()
    return th


# ---- petri -------------------------------------------------------------------

def run_petri(c, jobs, parallel, budget):
    """jobs: [(target, method, run)]; returns {(target, method, run): result}."""
    out, live = {}, {}
    pending = list(jobs)
    while pending or live:
        while pending and len(live) < parallel:
            target, method, r = pending.pop(0)
            name = "%s-%s-%d" % (target, method.replace("_", "-").replace("@", "-")
                                 .replace(".", ""), r)
            st, body = c.api("POST", "/v1/populations", spec(name, target, method, budget))
            if st not in (200, 201):
                raise RuntimeError("create %s: %s %s" % (name, st, body))
            live[name] = ((target, method, r), time.monotonic())
        time.sleep(1.0)
        for name in list(live):
            st, p = c.api("GET", "/v1/populations/" + name)
            if st != 200 or p.get("state") == "running":
                continue
            key, t0 = live.pop(name)
            div = p.get("diversity") or {}
            arch = p.get("archive") or {}
            out[key] = {"best": p["best"]["fitness"], "evaluations": p["evaluations"],
                        "state": p["state"], "seconds": round(time.monotonic() - t0, 1),
                        "fitness_values": div.get("fitness_values"),
                        "genomes": div.get("genomes"),
                        "collapsed_demes": div.get("collapsed_demes"),
                        "clones_dropped": div.get("clones_dropped"),
                        "coverage": arch.get("coverage"),
                        "collapsed": div.get("fitness_values") == 1}
            print("  %-28s best %-10s evals %d  fitness values %s  collapsed demes %s"
                  "  coverage %s  %.0f s  %s %s" % (name, out[key]["best"], p["evaluations"],
                                             div.get("fitness_values"),
                                             div.get("collapsed_demes"), arch.get("coverage"),
                                             out[key]["seconds"], p["state"],
                                             p.get("reason")), flush=True)
    return out


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return (xs[0], xs[0]) if xs else (None, None)
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--budget", type=int, default=25500)
    ap.add_argument("--targets", default="pagie1,keijzer5")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--code-path", help="the agents' [beam] code_path (default: theirs)")
    a = ap.parse_args()
    if a.code_path:
        bc.AGENT_EXTRA["beam.code_path"] = a.code_path
    targets = [t for t in a.targets.split(",") if t]
    methods = [m for m in a.methods.split(",") if m]
    for t in targets:
        if t not in TARGETS:
            sys.exit("--targets: unknown target %s" % t)
    for m in methods:
        if m not in METHODS and not m.startswith("niche@"):
            sys.exit("--methods: unknown method %s" % m)
    t0 = time.monotonic()
    results = {}
    th = None
    deap_ver = None
    if "deap" in methods:
        py, deap_ver = deap_python()
        th = deap_thread(py, [(t, r) for r in range(a.runs) for t in targets], a.budget, results)
    jobs = [(t, m, r) for r in range(a.runs) for t in targets for m in methods if m != "deap"]
    print("load average before: %s" % " ".join(bl.loadavg()), flush=True)
    if jobs:
        with bl.TempDir() as tmp:
            c = bc.Cluster(tmp, "div", agents=1, vms=2, fast=False).start()
            try:
                results.update(run_petri(c, jobs, a.parallel, a.budget))
            finally:
                c.stop()
    if th:
        th.join()
    wall = time.monotonic() - t0
    rows, summary = [], {}
    for t in targets:
        for m in methods:
            rs = [results[(t, m, r)] for r in range(a.runs) if (t, m, r) in results]
            bests = [x["best"] for x in rs if x.get("best") is not None]
            if not bests:
                continue
            med = statistics.median(bests)
            q1, q3 = quartiles(bests)
            coll = sum(1 for x in rs if x.get("collapsed"))
            summary["%s/%s" % (t, m)] = {"median_best": med, "q1": q1, "q3": q3,
                                         "runs": len(bests), "collapsed": coll,
                                         "bests": sorted(bests)}
            rows.append((t, m, med, q1, q3, "%d/%d" % (coll, len(rs))))
    print("\nload average after: %s; wall time %.0f s; DEAP %s" %
          (" ".join(bl.loadavg()), wall, deap_ver))
    print("| target | method | median best | IQR | collapsed runs |")
    print("|---|---|---|---|---|")
    for t, m, med, q1, q3, coll in rows:
        print("| %s | %s | %.4g | %.4g - %.4g | %s |" % (t, m, med, q1, q3, coll))
    print(json.dumps({"bench": "diversity", "budget": a.budget, "runs": a.runs,
                      "wall_s": round(wall), "deap": deap_ver, "results": summary}))


if __name__ == "__main__":
    main()
