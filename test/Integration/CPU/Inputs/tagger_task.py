#!/usr/bin/env python3
"""Writes a per-token tagging task with padding as .npy files (no NumPy).

  tagger_task.py DIR

DIR/ids.npy [128, 8] int64: sequences of 3-8 tokens in [1, 10), padded with
token 0; DIR/tags.npy [128, 8] int64: each token's id % 3, -1 at padding.
DIR/badtags.npy: the tags with a 5 at example 3.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

N, S, V = 128, 8, 10


def main(out):
    state = 777
    ids, tags = [], []

    def draw(n):
        nonlocal state
        state = (1103515245 * state + 12345) % 2**31
        return state // 65536 % n

    for _ in range(N):
        length = 3 + draw(S - 2)
        for p in range(S):
            if p < length:
                token = 1 + draw(V - 1)
                ids.append(token)
                tags.append(token % 3)
            else:
                ids.append(0)
                tags.append(-1)
    shape = "%dx%d" % (N, S)
    npy.write(os.path.join(out, "ids.npy"), "i8", shape, ",".join(map(str, ids)))
    npy.write(os.path.join(out, "tags.npy"), "i8", shape,
              ",".join(map(str, tags)))
    bad = list(tags)
    bad[3 * S] = 5
    npy.write(os.path.join(out, "badtags.npy"), "i8", shape,
              ",".join(map(str, bad)))


if __name__ == "__main__":
    main(sys.argv[1])
