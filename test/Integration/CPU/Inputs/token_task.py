#!/usr/bin/env python3
"""Writes a token classification task as .npy files (no NumPy needed).

  token_task.py DIR

DIR/ids.npy: [256, 6] int64 ids in [0, 10); DIR/labels.npy: [256, 1] float32,
1 where the sequence holds token 7. DIR/bad.npy: the ids with one id of 12
(example 3); DIR/float.npy: the ids as float32.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

N, S, V = 256, 6, 10


def main(out):
    state = 12345
    ids = []
    for _ in range(N * S):
        state = (1103515245 * state + 12345) % 2**31
        ids.append(state // 65536 % V)
    labels = [1.0 if 7 in ids[i * S:(i + 1) * S] else 0.0 for i in range(N)]
    text = ",".join(map(str, ids))
    npy.write(os.path.join(out, "ids.npy"), "i8", "%dx%d" % (N, S), text)
    npy.write(os.path.join(out, "float.npy"), "f4", "%dx%d" % (N, S), text)
    npy.write(os.path.join(out, "labels.npy"), "f4", "%dx1" % N,
              ",".join(map(str, labels)))
    bad = list(ids)
    bad[3 * S + 2] = 12
    npy.write(os.path.join(out, "bad.npy"), "i8", "%dx%d" % (N, S),
              ",".join(map(str, bad)))


if __name__ == "__main__":
    main(sys.argv[1])
