#!/usr/bin/env python3
"""Writes a padded-sequence task with two model inputs as .npy files (no NumPy).

  padded_max_task.py DIR

DIR/ids.npy [N, 8] int64: token ids in [0, 8), real and padding drawn alike;
DIR/keep.npy [N, 1, 1, 8] bool: true at the 2-8 real (leading) positions;
DIR/labels.npy [N, 8] int64: at real positions the largest real id, -100 at
padding. Only a model that masks padding keys out can label every position.
DIR/keep_short.npy: keep without its last example (a length mismatch).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

N, S, V = 512, 8, 8


def main(out):
    state = 2024
    ids, keep, labels = [], [], []

    def draw(n):
        nonlocal state
        state = (1103515245 * state + 12345) % 2**31
        return state // 65536 % n

    for _ in range(N):
        length = 2 + draw(S - 1)
        tokens = [draw(V) for _ in range(S)]
        largest = max(tokens[:length])
        ids += tokens
        keep += [1 if p < length else 0 for p in range(S)]
        labels += [largest if p < length else -100 for p in range(S)]

    def write(name, dtype, shape, values):
        npy.write(os.path.join(out, name), dtype, shape,
                  ",".join(str(v) for v in values))

    write("ids.npy", "i8", "%dx%d" % (N, S), ids)
    write("keep.npy", "b1", "%dx1x1x%d" % (N, S), keep)
    write("labels.npy", "i8", "%dx%d" % (N, S), labels)
    write("keep_short.npy", "b1", "%dx1x1x%d" % (N - 1, S), keep[:-S])


if __name__ == "__main__":
    main(sys.argv[1])
