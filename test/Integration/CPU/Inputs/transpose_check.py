#!/usr/bin/env python3
"""Writes an f32 tensor whose elements are their own flat indices, and checks
a transposition of its last two dimensions exactly.

  transpose_check.py write PATH 2x35x48
  transpose_check.py check INPUT.npy RESULT.npy 2x35x48

Indices below 2^24 are exact in f32, so a misplaced element is a wrong
value: the check compares for equality.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402


def dims(text):
    return [int(d) for d in text.split("x")]


def main(argv):
    shape = dims(argv[-1])
    n = 1
    for d in shape:
        n *= d
    if argv[1] == "write":
        npy.write(argv[2], "f4", argv[3], ",".join(str(i) for i in range(n)))
        return 0
    x, y = npy.read(argv[2]), npy.read(argv[3])
    rows, cols = shape[-2], shape[-1]
    if len(x) != n or len(y) != n:
        print("sizes %d, %d; expected %d" % (len(x), len(y), n))
        return 1
    wrong = 0
    for b in range(n // (rows * cols)):
        for i in range(rows):
            for j in range(cols):
                if y[b * rows * cols + j * rows + i] != x[b * rows * cols + i * cols + j]:
                    wrong += 1
    print("%s: %d of %d elements misplaced" % ("ok" if not wrong else "FAIL", wrong, n))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
