#!/usr/bin/env python3
"""Measures the error of mha.gelu and mha.gelu_grad (exact form), whose erf
is MLIR's polynomial approximation (vectorized), not libm's erff.

  gelu_accuracy.py MHA_RUN WORKDIR MAX_ABSOLUTE_ERROR

x spans [-8, 8] in 4001 steps; the results are compared with
x/2 (1 + erf(x/√2)) and its derivative Φ(x) + x φ(x) in double, for the
inputs rounded to f32. Prints the largest absolute errors and fails above
the bound. Measured here: 4.3e-7 for GELU (values up to 8, where one f32
ulp is 9.5e-7) and 1.3e-7 for its gradient.
"""
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

N = 4001


def f32(x):
    return npy.struct.unpack("<f", npy.struct.pack("<f", x))[0]


def main(mha_run, work, bound):
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "gelu.mlir")
    with open(model, "w") as f:
        f.write("""func.func @f(%x: tensor<?xf32>, %dy: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
  %y = mha.gelu %x : tensor<?xf32>
  %g = mha.gelu_grad %x, %dy : tensor<?xf32>
  return %y, %g : tensor<?xf32>, tensor<?xf32>
}
""")
    xs = [f32(-8 + 16 * i / (N - 1)) for i in range(N)]
    x_path, dy_path = os.path.join(work, "x.npy"), os.path.join(work, "dy.npy")
    npy.write(x_path, "f4", str(N), ",".join(repr(x) for x in xs))
    npy.write(dy_path, "f4", str(N), "1")
    out = os.path.join(work, "out")
    run = subprocess.run([mha_run, model, "--input", "x=" + x_path, "--input",
                          "dy=" + dy_path, "--output", out],
                         capture_output=True, text=True)
    if run.returncode:
        print(run.stderr)
        return 1
    y = npy.read(os.path.join(out, "result0.npy"))
    g = npy.read(os.path.join(out, "result1.npy"))
    worst_y = worst_g = 0.0
    for i, x in enumerate(xs):
        cdf = 0.5 * (1 + math.erf(x / math.sqrt(2)))
        pdf = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        worst_y = npy.worst([worst_y, abs(y[i] - x * cdf)])
        worst_g = npy.worst([worst_g, abs(g[i] - (cdf + x * pdf))])
    print("max absolute error of gelu over [-8, 8]: %.3g, of its gradient: "
          "%.3g (bound %.3g)" % (worst_y, worst_g, bound))
    return 0 if max(worst_y, worst_g) <= bound else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
