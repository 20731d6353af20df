#!/usr/bin/env python3
"""prompt.py - glue between `petri mutate` and a language model's command line.

    prompt.py           bundle JSON on stdin -> a text prompt on stdout
    prompt.py --strip   a model's answer on stdin -> the module alone on stdout
                        (markdown code fences and the text around them removed)

Wired as one command, for instance with the `llm` tool:

    petri mutate quadratic --name llm --concurrency 4 --timeout 120 --command \\
        'python3 configs/mutators/prompt.py | llm -m MODEL | python3 configs/mutators/prompt.py --strip'
"""
import json
import sys


def prompt(b):
    s = b["spec"]
    lang = s.get("language", "erlang")
    out = [
        "You improve a program by evolution. Write one new %s module that exports "
        "%s/%d and scores better than the parents below on the cases (the error of a case "
        "is %s(f(in) - out); lower total error is better)." % (
            lang.capitalize(), s["function"], s["arity"],
            "the square of" if s.get("error") == "squared" else "the absolute value of"),
        "Use only arithmetic on the arguments; no I/O, processes, or calls outside math.",
        "Answer with the module source only. Its first line must be the comment",
        "%s petri-parents: <hash of the parent you started from>" % ("#" if lang == "elixir" else "%%"),
        "",
        "Cases (in -> out)%s:" % ("" if len(s["cases"]) == s.get("cases_total") else
                                 ", a sample of %d" % s.get("cases_total", 0)),
    ]
    for c in s["cases"]:
        out.append("  %s -> %s" % (json.dumps(c.get("in")), json.dumps(c.get("out"))))
    for p in b["parents"]:
        out += ["", "Parent %s: fitness %s, %s/%s cases passed" % (
            p["hash"], p.get("fitness"), p.get("passed"), p.get("cases"))]
        for f in (p.get("failing") or [])[:8]:
            out.append("  fails on %s: expected %s, error %s" % (
                json.dumps(f.get("in")), json.dumps(f.get("out")), f.get("error")))
        out += ["```", p.get("source") or "", "```"]
    return "\n".join(out) + "\n"


def strip(text):
    lines = text.splitlines(keepends=True)
    fences = [i for i, l in enumerate(lines) if l.lstrip().startswith("```")]
    if len(fences) >= 2:
        lines = lines[fences[0] + 1:fences[1]]
    return "".join(lines)


def main():
    if sys.argv[1:] == ["--strip"]:
        sys.stdout.write(strip(sys.stdin.read()))
    else:
        sys.stdout.write(prompt(json.load(sys.stdin)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
