#!/usr/bin/env python3
"""Compares mha.sinusoidal_positions' result with the formula in double.

  sinusoidal_check.py RESULT.npy S D [OFFSET]

result[r, 2i] = sin(p / 10000^(2i/D)), result[r, 2i+1] = cos(same angle)
for the position p = OFFSET + r (OFFSET defaults to 0).
The compiled code computes the angle in f32: its error grows with p (one
f32 rounding of p * frequency is up to 6e-8 * p radians, 1.8e-5 at
p = 300) and sin/cos add a few ulps; the bound is 4e-5 absolute.
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402


def main(path, s, d, offset):
    got = npy.read(path)
    worst = 0.0
    for r in range(s):
        p = offset + r
        for c in range(d):
            angle = p / 10000 ** (2 * (c // 2) / d)
            want = math.sin(angle) if c % 2 == 0 else math.cos(angle)
            worst = npy.worst([worst, abs(got[r * d + c] - want)])
    ok = len(got) == s * d and worst <= 4e-5
    print("%s: %d values, largest difference %.3g" %
          ("ok" if ok else "FAIL", len(got), worst))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                  int(sys.argv[4]) if len(sys.argv) > 4 else 0))
