#!/usr/bin/env python3
"""textual.py - an example external mutator for `petri mutate`, no network.

Reads a prompt bundle (JSON) on stdin, takes one of its parents at random,
applies one random textual variation to the body of its function that keeps
the module a module (change an integer literal, swap + and -, swap * and +,
swap two clauses), and prints the child on stdout, preceded by a comment
naming the parent it used (`%% petri-parents: HASH`), which `petri mutate`
records as the child's parent.

    petri mutate quadratic --command 'python3 configs/mutators/textual.py'

The draws are seeded from the bundle's hash (PETRI_MUTATOR_SEED overrides),
so the same bundle gives the same child.
"""
import json
import os
import random
import re
import sys

TAG = "petri-parents:"
INT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def body_spans(src, elixir):
    """(start, end) of every function body: what follows '->' (Erlang) or
    'do:'/'do' (Elixir) up to the end of its line. Attributes are left alone."""
    spans = []
    pos = 0
    for line in src.splitlines(keepends=True):
        stripped = line.lstrip()
        if not stripped.startswith(("-", "%", "#")):
            marks = ["do:", " do"] if elixir else ["->"]
            for m in marks:
                i = line.find(m)
                if i >= 0:
                    spans.append((pos + i + len(m), pos + len(line)))
                    break
            else:
                if spans and not stripped.startswith(("end", "defmodule")):
                    spans.append((pos, pos + len(line)))  # a body continued
        pos += len(line)
    return spans


def variations(src, spans, rng):
    """Every candidate child as (description, source)."""
    out = []
    for start, end in spans:
        seg = src[start:end]
        for m in INT.finditer(seg):
            v = int(m.group(1))
            nv = max(0, v + rng.choice([-2, -1, 1, 2]))
            if nv != v:
                a, b = start + m.start(), start + m.end()
                out.append(("literal %d -> %d" % (v, nv), src[:a] + str(nv) + src[b:]))
        for i, ch in enumerate(seg):
            swap = {"+": "-", "-": "+", "*": "+"}.get(ch)
            if swap and seg[i + 1:i + 2] != ">" and seg[i - 1:i] not in ("-", "<", ">", "="):
                a = start + i
                out.append(("%s -> %s" % (ch, swap), src[:a] + swap + src[a + 1:]))
    clauses = [l for l in src.splitlines(keepends=True) if l.rstrip().endswith(";")]
    if clauses:  # swap a clause ending in ';' with the one after it
        lines = src.splitlines(keepends=True)
        i = lines.index(rng.choice(clauses))
        if i + 1 < len(lines):
            a, b = lines[i].rstrip("\n"), lines[i + 1].rstrip("\n")
            if a.endswith(";") and b.endswith("."):
                lines[i], lines[i + 1] = b[:-1] + ";\n", a[:-1] + ".\n"
                out.append(("swapped two clauses", "".join(lines)))
    return out


def main():
    bundle = json.load(sys.stdin)
    seed = os.environ.get("PETRI_MUTATOR_SEED") or bundle.get("bundle_hash", "")
    rng = random.Random(seed)
    parents = [p for p in bundle.get("parents", []) if isinstance(p.get("source"), str)]
    if not parents:
        print("textual.py: the bundle has no parent with a source", file=sys.stderr)
        return 1
    parent = rng.choice(parents)
    elixir = bundle.get("spec", {}).get("language") == "elixir"
    src = "".join(l for l in parent["source"].splitlines(keepends=True) if TAG not in l)
    if not src.endswith("\n"):
        src += "\n"
    cands = variations(src, body_spans(src, elixir), rng)
    what, child = rng.choice(cands) if cands else ("unchanged (nothing to vary)", src)
    comment = "#" if elixir else "%%"
    sys.stdout.write("%s %s %s\n%s" % (comment, TAG, parent["hash"], child))
    print("textual.py: %s" % what, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
