#!/usr/bin/env python3
"""A stand-in for `erl` that misbehaves on the protocol pipe (fd 4), to prove
that petri-agent survives whatever a VM sends. PETRI_TEST_FAKE_MODE selects how.

Mode "scripted" is a well-behaved VM with a script in its genomes: it answers
PING and EVAL (fitness 0, status ok) until an EVAL's bytes contain
"FREEZE" (it stops reading and answering, like a VM whose only scheduler is
stuck), "ABORT" (it exits at once with status 1) or "SLOW" (it answers after
five more pings, answering those meanwhile). Its pongs report
PETRI_TEST_FAKE_ATOMS + 100 per evaluation answered as its atom count."""
import os
import random
import struct
import sys
import time

mode = os.environ.get("PETRI_TEST_FAKE_MODE", "random")


def frame(typ, payload):
    body = struct.pack(">BHB16sI", 1, typ, 0, b"\0" * 16, len(payload)) + payload
    return struct.pack(">I", len(body)) + body


def s(text):
    b = text.encode()
    return struct.pack(">I", len(b)) + b


hello = frame(1, s("25") + struct.pack(">IIB", os.getpid(), 64, 0) + s("0.1.0"))
out = os.fdopen(4, "wb", buffering=0)
if mode == "random":
    out.write(os.urandom(4096))
elif mode == "bad_version":
    out.write(struct.pack(">I", 24) + struct.pack(">BHB16sI", 9, 1, 0, b"\0" * 16, 0))
elif mode == "huge_length":
    out.write(struct.pack(">I", 0xFFFFFFF0) + b"x" * 100)
elif mode == "truncated_hello":
    out.write(hello[:-3] and frame(1, s("25")[:3]))
elif mode == "unknown_result":
    out.write(hello)
    out.write(frame(5, struct.pack(">QBd", 999999, 0, 1.0) + s("") + struct.pack(">QQ", 1, 1)))
elif mode == "unknown_bred":
    out.write(hello)
    out.write(frame(10, struct.pack(">QBd", 424242, 0, 1.0) + s("") + struct.pack(">QQ", 1, 1)
                    + s("-module(genome).")))
elif mode == "double_hello":
    out.write(hello + hello)
elif mode == "silent_after_hello":
    out.write(hello)
    time.sleep(3600)
elif mode == "scripted":
    out.write(hello)
    inp = os.fdopen(3, "rb", buffering=0)

    def read_exact(n):
        b = b""
        while len(b) < n:
            chunk = inp.read(n - len(b))
            if not chunk:
                sys.exit(0)  # the agent closed the pipe
            b += chunk
        return b

    atoms = int(os.environ.get("PETRI_TEST_FAKE_ATOMS", "1000"))
    evals = 0
    slow = []  # [req, pings to wait]

    def result(req):
        global evals
        evals += 1
        out.write(frame(5, struct.pack(">QBd", req, 0, 0.0) + s("") + struct.pack(">QQ", 5, 5)
                        + struct.pack(">IIdBII", 1, 1, 0.0, 0, 0, 0)))

    while True:
        (n,) = struct.unpack(">I", read_exact(4))
        body = read_exact(n)
        typ = struct.unpack(">H", body[1:3])[0]
        payload = body[24:]
        if typ == 2:  # PING -> PONG
            (seq,) = struct.unpack(">Q", payload[:8])
            out.write(frame(3, struct.pack(">QQIIIQIQQ", seq, 1 << 20, 50, atoms + 100 * evals,
                                           0, evals, 0, evals, 0)))
            for w in slow:
                w[1] -= 1
                if w[1] == 0:
                    result(w[0])
            slow = [w for w in slow if w[1] > 0]
        elif typ == 4:  # EVAL -> RESULT (with RESULT_EXT, empty metrics/errors)
            (req,) = struct.unpack(">Q", payload[:8])
            if b"FREEZE" in payload:
                time.sleep(3600)
            if b"ABORT" in payload:
                os._exit(1)
            if b"SLOW" in payload:
                slow.append([req, 5])
            else:
                result(req)
        elif typ == 8:  # STOP
            sys.exit(0)
sys.stdout.write("fake erl wrote garbage (%s)\n" % mode)
sys.stdout.flush()
time.sleep(3600)
