#!/usr/bin/env python3
"""Compares one decoding step's logits with the last row of a full pass.

  last_row_check.py FULL.npy STEP.npy

FULL [1, n, V] are the logits of a forward pass over n tokens; STEP [1, 1, V]
those of the decoding step for token n - 1 after a prefill of the first
n - 1. Both are f32 computations of the same sums in different orders (the
flash attention over a cache vs. over the whole sequence): with logits of
magnitude about 1 and depths of 16-32, their differences stay near 1e-6;
the bound 1e-4 * (1 + |logit|) leaves a wide margin yet catches any wrong
position, offset or cache row (which change logits by 1e-2 or more).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402


def main(full_path, step_path):
    full = npy.read(full_path)
    step = npy.read(step_path)
    v = len(step)
    last = full[len(full) - v:]
    worst = npy.worst(abs(a - b) / (1 + abs(b)) for a, b in zip(step, last))
    ok = len(full) % v == 0 and worst <= 1e-4
    print("%s: %d logits, largest relative difference %.3g" %
          ("ok" if ok else "FAIL", v, worst))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
