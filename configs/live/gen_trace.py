#!/usr/bin/env python3
"""gen_trace.py - writes the rate limiter's recorded trace (trace.jsonl): a
seeded stream of {hit, Client, TimeMs} requests, each with the answer of the
reference limiter, a token bucket (5 tokens, one back every 200 ms).

usage: gen_trace.py [--seed N] [--requests N] > trace.jsonl"""
import argparse
import json
import random

CAP = 5000        # milli-tokens: 5 tokens
REFILL = 5        # milli-tokens per ms: one token per 200 ms
COST = 1000       # milli-tokens per request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    buckets = {}
    t = 0
    for i in range(a.requests):
        t += rng.choice([0, 0, 5, 10, 20, 40, 80])
        if i % 100 == 99:
            t += 1000  # a quiet second: every bucket fills up again
        # client 1 bursts, the others are steady
        client = 1 if rng.random() < 0.45 else rng.randint(2, 6)
        tok, last = buckets.get(client, (CAP, t))
        tok = min(CAP, tok + (t - last) * REFILL)
        if tok >= COST:
            ans, tok = "allow", tok - COST
        else:
            ans = "deny"
        buckets[client] = (tok, t)
        req = {"$tuple": [{"$atom": "hit"}, client, t]}
        print(json.dumps({"req": req, "expect": {"$atom": ans}}, separators=(",", ":")))


if __name__ == "__main__":
    main()
