#!/usr/bin/env python3
"""Runs every mha op that accepts f16/bf16 through mha-run's default pipeline
in f32, f16 and bf16 on the same inputs, and compares each half-precision
result with the f32 one.

  half_precision.py MHA_RUN WORKDIR

Inputs are multiples of 1/8 in [-2, 2], exact in all three types, so the
differences come only from rounding results (and intermediates fed to later
ops) to the half type. Tolerances, on |half - f32| / (1 + |f32|): bf16 has a
unit roundoff of 2^-8 (3.9e-3), f16 of 2^-11 (4.9e-4); an op's result is
rounded once and the grads consume at most two rounded inputs, amplified by
the op's conditioning (softmax, layer norm: a few units), so 3e-2 for bf16
and 4e-3 for f16. A lowering that computed garbage would be off by O(1).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

TOLERANCE = {"f16": 4e-3, "bf16": 3e-2}

# name -> shape; 'labels' is i32, the rest float.
INPUTS = {
    "x": "2x9x17", "w": "17x33", "bias": "33", "wb": "2x17x33",
    "a": "2x2x9x16", "b": "2x2x9x16", "m": "9x9", "g": "17", "t": "2x9x17",
    "l": "6x5", "labels": "6", "x2": "2x9x16",
}

MODEL = """
func.func @ops(%x: tensor<2x9x17xT>, %w: tensor<17x33xT>, %bias: tensor<33xT>,
               %wb: tensor<2x17x33xT>, %a: tensor<2x2x9x16xT>, %b: tensor<2x2x9x16xT>,
               %m: tensor<9x9xT>, %g: tensor<17xT>, %t: tensor<2x9x17xT>,
               %l: tensor<6x5xT>, %labels: tensor<6xi32>, %x2: tensor<2x9x16xT>)
    -> (tensor<2x9x33xT>, tensor<2x9x33xT>, tensor<2x2x9x9xT>, tensor<2x9x17xT>,
        tensor<2x17xT>, tensor<2x9xT>, tensor<2x17xT>, tensor<2x9x17xT>,
        tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x9x17xT>,
        tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x2x9x9xT>,
        tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x8xT>, tensor<2x9x32xT>,
        tensor<T>, tensor<T>, tensor<T>, tensor<2x17x9xT>, tensor<2x9x33xT>,
        tensor<33xT>, tensor<17x33xT>, tensor<2x9x17xT>, tensor<2x9x17xT>,
        tensor<2x2x9x16xT>, tensor<2x2x9xf32>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>,
        tensor<2x2x9x16xT>, tensor<2x9x17xT>, tensor<17xT>, tensor<17xT>,
        tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<6x5xT>, tensor<2x9x17xT>) {
  %dense = mha.dense %x, %w, %bias : tensor<2x9x17xT>, tensor<17x33xT>, tensor<33xT>
  %mm = mha.matmul %x, %wb : tensor<2x9x17xT>, tensor<2x17x33xT>
  %s = mha.scaled_matmul %a, %b : tensor<2x2x9x16xT>, tensor<2x2x9x16xT>
  %sm = mha.softmax %x : tensor<2x9x17xT>
  %rs = mha.reduce sum %x dims = [1] : tensor<2x9x17xT>
  %rm = mha.reduce mean %x dims = [2] : tensor<2x9x17xT>
  %rx = mha.reduce max %x dims = [1] : tensor<2x9x17xT>
  %zero = mha.sub %g, %g : tensor<17xT>, tensor<17xT>
  %ln = mha.layer_norm %x, %g, %zero : tensor<2x9x17xT>, tensor<17xT>, tensor<17xT>
  %add = mha.add %x, %g : tensor<2x9x17xT>, tensor<17xT>
  %sub = mha.sub %x, %t : tensor<2x9x17xT>, tensor<2x9x17xT>
  %mul = mha.mul %x, %t : tensor<2x9x17xT>, tensor<2x9x17xT>
  %relu = mha.relu %x : tensor<2x9x17xT>
  %gelu = mha.gelu %x : tensor<2x9x17xT>
  %sig = mha.sigmoid %x : tensor<2x9x17xT>
  %tanh = mha.tanh %x : tensor<2x9x17xT>
  %masked = mha.apply_mask %s mask(%m : tensor<9x9xT>) : tensor<2x2x9x9xT>
  %att = mha.attention %a, %b, %b causal : tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>
  %attm = mha.attention %a, %b, %a mask(%m : tensor<9x9xT>) : tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>
  %split = mha.split_heads %x2 into 2 heads : tensor<2x9x16xT>
  %merge = mha.merge_heads %a : tensor<2x2x9x16xT>
  %bce = mha.bce_loss %sig, %t : tensor<2x9x17xT>, tensor<2x9x17xT>
  %mse = mha.mse_loss %x, %t : tensor<2x9x17xT>, tensor<2x9x17xT>
  %ce = mha.cross_entropy %l, %labels : tensor<6x5xT>, tensor<6xi32>
  %tr = mha.transpose %x perm = [0, 2, 1] : tensor<2x9x17xT>
  %bc = mha.broadcast_to %bias like %dense dims = [0, 1] : tensor<33xT>, tensor<2x9x33xT>
  %rt = mha.reduce_to %dense like %bias : tensor<2x9x33xT>, tensor<33xT>
  %dw = mha.dense_weight_grad %x, %dense : tensor<2x9x17xT>, tensor<2x9x33xT>
  %rg = mha.relu_grad %x, %t : tensor<2x9x17xT>
  %gg = mha.gelu_grad %x, %t : tensor<2x9x17xT>
  %o, %lse = mha.attention_with_lse %a, %b, %b causal : tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>
  %dq, %dk, %dv = mha.attention_grad %a, %b, %b, %o, %lse, %a causal : tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9xf32>
  %dx, %dg, %db = mha.layer_norm_grad %x, %g, %t : tensor<2x9x17xT>, tensor<17xT>
  %bg = mha.bce_loss_grad %sig, %t, %mse : tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<T>
  %mg = mha.mse_loss_grad %x, %t, %mse : tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<T>
  %cg = mha.cross_entropy_grad %l, %labels, %ce : tensor<6x5xT>, tensor<6xi32>, tensor<T>
  %mx = mha.reduce max %x dims = [1] keep_dims : tensor<2x9x17xT>
  %xg = mha.reduce_max_grad %x, %mx, %mx dims = [1] keep_dims : tensor<2x9x17xT>, tensor<2x1x17xT>
  return %dense, %mm, %s, %sm, %rs, %rm, %rx, %ln, %add, %sub, %mul, %relu, %gelu,
         %sig, %tanh, %masked, %att, %attm, %split, %merge, %bce, %mse, %ce, %tr, %bc,
         %rt, %dw, %rg, %gg, %o, %lse, %dq, %dk, %dv, %dx, %dg, %db, %bg, %mg, %cg, %xg
      : tensor<2x9x33xT>, tensor<2x9x33xT>, tensor<2x2x9x9xT>, tensor<2x9x17xT>,
        tensor<2x17xT>, tensor<2x9xT>, tensor<2x17xT>, tensor<2x9x17xT>,
        tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x9x17xT>,
        tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<2x2x9x9xT>,
        tensor<2x2x9x16xT>, tensor<2x2x9x16xT>, tensor<2x2x9x8xT>, tensor<2x9x32xT>,
        tensor<T>, tensor<T>, tensor<T>, tensor<2x17x9xT>, tensor<2x9x33xT>,
        tensor<33xT>, tensor<17x33xT>, tensor<2x9x17xT>, tensor<2x9x17xT>,
        tensor<2x2x9x16xT>, tensor<2x2x9xf32>, tensor<2x2x9x16xT>, tensor<2x2x9x16xT>,
        tensor<2x2x9x16xT>, tensor<2x9x17xT>, tensor<17xT>, tensor<17xT>,
        tensor<2x9x17xT>, tensor<2x9x17xT>, tensor<6x5xT>, tensor<2x9x17xT>
}
"""

NAMES = ("dense matmul scaled_matmul softmax reduce_sum reduce_mean reduce_max "
         "layer_norm add sub mul relu gelu sigmoid tanh apply_mask "
         "attention_causal attention_additive_mask split_heads merge_heads "
         "bce_loss mse_loss cross_entropy transpose broadcast_to reduce_to "
         "dense_weight_grad relu_grad gelu_grad attention_with_lse "
         "attention_with_lse.lse attention_grad.dq attention_grad.dk "
         "attention_grad.dv layer_norm_grad.dx layer_norm_grad.dgamma "
         "layer_norm_grad.dbeta bce_loss_grad mse_loss_grad cross_entropy_grad "
         "reduce_max_grad").split()


def values(name, shape):
    n = 1
    for d in shape.split("x"):
        n *= int(d)
    seed = sum(map(ord, name))
    if name == "labels":
        return [(i * 3 + 1) % 5 for i in range(n)]
    if name == "t":  # targets in [0, 1]
        return [((i * 5 + seed) % 9) / 8.0 for i in range(n)]
    if name == "g":  # layer norm gain, away from 0
        return [0.5 + ((i * 3) % 5) / 8.0 for i in range(n)]
    return [((i * 7 + seed) % 33 - 16) / 8.0 for i in range(n)]


def main(mha_run, work):
    os.makedirs(work, exist_ok=True)
    results = {}
    for dtype in ("f32", "f16", "bf16"):
        model = os.path.join(work, "ops_%s.mlir" % dtype)
        with open(model, "w") as f:
            f.write(MODEL.replace("xT>", "x%s>" % dtype)
                    .replace("<T>", "<%s>" % dtype))
        args = [mha_run, model, "--output", os.path.join(work, dtype)]
        for name, shape in INPUTS.items():
            path = os.path.join(work, "%s_%s.npy" % (name, dtype))
            # bf16 arguments take f32 .npy data (NumPy has no bfloat16).
            code = "i4" if name == "labels" else ("f2" if dtype == "f16" else "f4")
            npy.write(path, code, shape, ",".join(map(str, values(name, shape))))
            args += ["--input", "%s=%s" % (name, path)]
        run = subprocess.run(args, capture_output=True, text=True)
        if run.returncode != 0:
            print("FAIL %s: mha-run exited %d\n%s" % (dtype, run.returncode,
                                                      run.stderr[-3000:]))
            return 1
        results[dtype] = [npy.read(os.path.join(work, dtype, "result%d.npy" % i))
                          for i in range(len(NAMES))]
    failures = 0
    for dtype in ("f16", "bf16"):
        for name, got, want in zip(NAMES, results[dtype], results["f32"]):
            worst = npy.worst(abs(g - w) / (1 + abs(w)) for g, w in zip(got, want))
            ok = len(got) == len(want) and worst <= TOLERANCE[dtype]
            failures += not ok
            print("%s %s %s: max relative difference %.2g" %
                  ("ok" if ok else "FAIL", dtype, name, worst))
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
