#!/usr/bin/env python3
"""Checks the GPU's tensor-core matmul kernel (mha.gpu_matmul, from
mha-lower-to-gpu{tensor-cores}) without a GPU: each model's f16/bf16 dense
layers and matrix products run with mha-run --device gpu-emulated
--gpu-tensor-cores (the kernel's blocks in sequence on the CPU, each block's
threads as vector lanes, mma.sync, ldmatrix and cp.async emulated from the
PTX ISA), against products computed here exactly.

  gpu_matmuls.py MHA_RUN MHA_OPT WORKDIR [DEVICE]

DEVICE is mha-run's --device, gpu-emulated by default (gpu on a machine with
a GPU: scripts/gpu/device-check.sh); MHA_OPT checks that each product
reaches the kernel (mha-opt's mha-gpu-matmul-kernel-ops makes one
mha.gpu_matmul of it), "-" skips that check.

The sizes cross every boundary of the kernel's tiles (64 rows, 128 columns,
32 of K a step, two stages): one row; 70 and 130 rows (a partial row tile);
K = 8 (half of one mma's k, the rest zero-filled), 24, 40 (a partial step),
64 (two whole steps), 136 (five steps: both stages reused); N = 8, 24, 136
and 264 (partial column tiles); a batch of 3; dynamic rows; with a bias
(the accumulators start from it) and without; a weight's gradient, whose K
(the rows) is dynamic: 72 (the kernel) and 13 (not a multiple of 8: the
CUDA-core loops, chosen at run time).

Inputs are multiples of 1/8 in [-2, 2], exact in f16 and bf16; every product
is then a multiple of 1/64 and every partial sum below 2^11 in magnitude, so
f32 accumulation is exact in any order (and so is this script's reference in
double precision) and the only error is the result's
rounding to its type: at most half an ulp, a relative 2^-8 (3.9e-3) for bf16
(8 bits of precision) and 2^-11 (4.9e-4) for f16 (11). Tolerance on
|got - exact| / (1 + |exact|): 4e-3 (bf16) and 5e-4 (f16). A wrong fragment, tile or stage is off by O(1).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

TOLERANCE = {"bf16": 4e-3, "f16": 5e-4}

# name, dtype, x shape, w shape, bias, dynamic rows, op
CASES = [
    ("dense_bias_crossing", "bf16", (2, 35, 40), (40, 136), True, False, "dense"),
    ("dense_one_row", "bf16", (1, 24), (24, 8), False, False, "dense"),
    ("dense_k8", "bf16", (5, 8), (8, 16), True, False, "dense"),
    ("dense_k136", "bf16", (3, 136), (136, 24), False, False, "dense"),
    ("batch_matmul", "bf16", (3, 17, 64), (3, 64, 24), False, False, "matmul"),
    ("dense_f16_dynamic", "f16", (130, 48), (48, 264), True, True, "dense"),
    # A weight's gradient xᵀ·dy: K the rows, dynamic (a multiple of 8 at run
    # time: the kernel; else the loops on CUDA cores).
    ("weight_grad_k72", "bf16", (72, 48), (72, 40), False, True,
     "dense_weight_grad"),
    ("weight_grad_k13", "bf16", (13, 48), (13, 40), False, True,
     "dense_weight_grad"),
    # Thousands of rows: 2060 (17 row tiles of 128, the last partial), 8
    # steps of K, 3 column tiles (the last of 8 columns), a bias.
    ("dense_2060_rows", "bf16", (2, 1030, 256), (256, 264), True, True,
     "dense"),
]


def tensor(dims, dtype):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in dims), dtype)


def model(c):
    name, dtype, xs, ws, bias, dynamic, op = c
    xtype = tensor(("?",) + xs[1:] if dynamic else xs, dtype)
    if op == "dense_weight_grad":
        wtype = tensor(("?",) + ws[1:], dtype)
        otype = tensor((xs[-1], ws[-1]), dtype)
    else:
        wtype = tensor(ws, dtype)
        out = tuple(xs[:-1]) + (ws[-1],)
        otype = tensor(("?",) + out[1:] if dynamic else out, dtype)
    args = "%%x: %s, %%w: %s" % (xtype, wtype)
    operands = "%x, %w"
    types = "%s, %s" % (xtype, wtype)
    if bias:
        btype = tensor((ws[-1],), dtype)
        args += ", %%b: %s" % btype
        operands += ", %b"
        types += ", " + btype
    return ("func.func @%s(%s) -> %s {\n"
            "  %%y = mha.%s %s : %s\n"
            "  return %%y : %s\n}\n" % (name, args, otype, op, operands, types,
                                         otype))


def values(seed, count):
    return [((i * 7 + seed * 13) % 33 - 16) / 8 for i in range(count)]


def size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def reference(c, x, w, b):
    _, _, xs, ws, _, _, op = c
    if op == "dense_weight_grad":
        rows, m, n = xs[0], xs[1], ws[1]
        return [sum(x[r * m + i] * w[r * n + j] for r in range(rows))
                for i in range(m) for j in range(n)]
    k, n = ws[-2], ws[-1]
    rows = size(xs[:-1])
    batch_rows = xs[-2] if op == "matmul" else rows
    out = []
    for r in range(rows):
        wbase = (r // batch_rows) * k * n if op == "matmul" else 0
        for j in range(n):
            s = b[j] if b else 0.0
            for i in range(k):
                s += x[r * k + i] * w[wbase + i * n + j]
            out.append(s)
    return out


def main(mha_run, mha_opt, work, device="gpu-emulated"):
    os.makedirs(work, exist_ok=True)
    failures = 0
    for c in CASES:
        name, dtype, xs, ws, bias = c[:5]
        path = os.path.join(work, name + ".mlir")
        with open(path, "w") as f:
            f.write(model(c))
        # The product must reach the kernel (not the per-element loops).
        front = mha_opt != "-" and subprocess.run(
            [mha_opt, path, "--mha-params-to-arguments",
             "--convert-mha-to-linalg", "--canonicalize",
             "--mha-gpu-matmul-kernel-ops"], capture_output=True, text=True)
        kernels = front.stdout.count("mha.gpu_matmul") if front else 1
        if front and (front.returncode != 0 or kernels != 1):
            print("FAIL %s: %d mha.gpu_matmul (want 1)\n%s" %
                  (name, kernels, front.stderr[-2000:]))
            failures += 1
            continue
        x = values(1, size(xs))
        w = values(2, size(ws))
        b = values(3, ws[-1]) if bias else None
        code = "f2" if dtype == "f16" else "f4"
        args = [mha_run, path, "--device", device,
                "--gpu-tensor-cores", "--output", os.path.join(work, name)]
        for arg, shape, data in (("x", xs, x), ("w", ws, w), ("b", (ws[-1],), b)):
            if data is None:
                continue
            file = os.path.join(work, "%s_%s.npy" % (name, arg))
            npy.write(file, code, "x".join(map(str, shape)),
                      ",".join(str(float(v)) for v in data))
            args += ["--input", "%s=%s" % (arg, file)]
        run = subprocess.run(args, capture_output=True, text=True)
        if run.returncode != 0:
            print("FAIL %s: mha-run exited %d\n%s" % (name, run.returncode,
                                                      run.stderr[-3000:]))
            failures += 1
            continue
        got = npy.read(os.path.join(work, name, "result0.npy"))
        want = reference(c, x, w, b)
        worst = max(abs(g - float(e)) / (1 + abs(float(e)))
                    for g, e in zip(got, want))
        ok = len(got) == len(want) and worst <= TOLERANCE[dtype]
        failures += not ok
        print("%s %s: %d values, max relative difference %.2g" %
              ("ok" if ok else "FAIL", name, len(want), worst))
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
