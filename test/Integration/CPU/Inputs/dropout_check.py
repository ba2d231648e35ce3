#!/usr/bin/env python3
"""Checks a dropout result of a constant input.

  dropout_check.py RESULT.npy X RATE

Every element must be 0 or X / (1 - RATE) (to f32 rounding, 1e-6
relative), and the fraction of zeros RATE within 0.01.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402


def main(path, x, rate):
    got = npy.read(path)
    kept = x / (1 - rate)
    zeros = sum(1 for v in got if v == 0)
    bad = [v for v in got if v != 0 and abs(v - kept) > 1e-6 * kept]
    fraction = zeros / len(got)
    ok = not bad and abs(fraction - rate) <= 0.01
    print("%s: %d elements, %.4f dropped, %d neither 0 nor %g" %
          ("ok" if ok else "FAIL", len(got), fraction, len(bad), kept))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
