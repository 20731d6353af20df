#!/usr/bin/env python3
"""A stand-in for `erl` that misbehaves on the protocol pipe (fd 4), to prove
that petri-agent survives whatever a VM sends. PETRI_TEST_FAKE_MODE selects how."""
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
sys.stdout.write("fake erl wrote garbage (%s)\n" % mode)
sys.stdout.flush()
time.sleep(3600)
