#!/usr/bin/env python3
"""Compares mha.rotary's result with the formula in double.

  rotary_check.py INPUT.npy RESULT.npy OFFSET BASE

For x [B, H, S, D]: the pair (2i, 2i+1) at position p = OFFSET + s is
rotated by θ = p · BASE^(-2i/D). The compiled code computes θ in f32 (one
rounding of p · frequency: up to 6e-8 · p radians, 6e-5 at p = 1040) and
cos/sin add a few ulps; with |x| ≤ 2 the bound is 3e-4 absolute.
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402


def main(x_path, y_path, offset, base):
    x, y = npy.read(x_path), npy.read(y_path)
    b, h, s, d = 2, 3, 40, 16
    worst = 0.0
    for row in range(b * h * s):
        p = offset + row % s
        for i in range(d // 2):
            theta = p * base ** (-2 * i / d)
            x0, x1 = x[row * d + 2 * i], x[row * d + 2 * i + 1]
            want = (x0 * math.cos(theta) - x1 * math.sin(theta),
                    x0 * math.sin(theta) + x1 * math.cos(theta))
            worst = npy.worst([worst, abs(y[row * d + 2 * i] - want[0]),
                               abs(y[row * d + 2 * i + 1] - want[1])])
    ok = len(y) == len(x) == b * h * s * d and worst <= 3e-4
    print("%s: %d values, largest difference %.3g" %
          ("ok" if ok else "FAIL", len(y), worst))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
