#!/usr/bin/env python3
"""Checks the GPU's tiled matmul kernels (mha.gpu_matmul, from
mha-lower-to-gpu) without a GPU: each model's dense layers and matrix
products run with mha-run --device gpu-emulated --gpu-tensor-cores
--gpu-f32-matmuls tiled (the
kernel's blocks in sequence on the CPU, each block's threads as vector
lanes, mma.sync, ldmatrix and cp.async emulated from the PTX ISA), against
products computed here exactly: f16/bf16 ones on the tensor-core kernel,
f32 ones on the CUDA-core kernel (256 threads, 8 × 8 outputs a thread in
groups of 4, 16 of K a step).

  gpu_matmuls.py MHA_RUN MHA_OPT WORKDIR [DEVICE [KIND]]

DEVICE is mha-run's --device, gpu-emulated by default (gpu on a machine with
a GPU: scripts/gpu/device-check.sh); MHA_OPT checks that each product
reaches the kernel (mha-opt's mha-gpu-matmul-kernel-ops makes one
mha.gpu_matmul of it), "-" skips that check. KIND picks the cases: "half"
(f16/bf16), "f32", "tf32" (f32 products on tensor cores, --gpu-f32-matmuls
tf32) or "all" (the default).

The sizes cross every boundary of the kernel's tiles (128 rows, 128
columns, 32 of K a step, two stages): one row; 70, 130 and 136 rows (a
partial row tile); K = 8 (half of one mma's k, the rest zero-filled), 24,
40 (a partial step), 64 (two whole steps), 72, 136 (five steps: both stages
reused), 1030 (33 steps); N = 8, 24, 136 and 264 (partial column tiles); a
batch of 3; dynamic rows; with a bias (the accumulators start from it) and
without. Transposed operands are read in place (the kernel's lhs_transposed
/ rhs_transposed, checked in mha-opt's output): a weight's gradient xᵀ·dy,
whose K (the batch's rows, dynamic) is then the operands' rows, so 13 and
1030 run in the kernel too; x·wᵀ (a dense layer's input gradient) with a
bias; mha.scaled_matmul (a·bᵀ, scaled by 0.5: exact); a product of two
transposes. The f32 kernel's cases cross its tiles likewise (128 × 128
outputs, 16 of K a step, two stages): K = 4 (a quarter of a step), 40, 64
and 72; 13 rows of K for a weight's gradient; N = 12, 24, 136, 200 and 264;
300 and 70 rows, a batch, dynamic rows, a bias, each transposed layout.
A dynamic K is checked on the host (f32: 40 in the kernel, 6 in the
loops; bf16: 40 and 12), each writing the same result buffer.

Inputs are multiples of 1/8 in [-2, 2], exact in f16 and bf16; every product
is then a multiple of 1/64 and every partial sum below 2^11 in magnitude, so
f32 accumulation is exact in any order (and so is this script's reference in
double precision) and the only error is the result's
rounding to its type: at most half an ulp, a relative 2^-8 (3.9e-3) for bf16
(8 bits of precision) and 2^-11 (4.9e-4) for f16 (11). An f32 result is
exact (every partial sum fits f32's 24 bits). Tolerance on |got - exact| /
(1 + |exact|): 4e-3 (bf16), 5e-4 (f16) and 1e-6 (f32, i.e. exact but for
the reading of the .npy). A wrong fragment, tile or stage is off by O(1).

The TF32 cases take inputs with full f32 mantissas, which TF32 rounds (to
11 significant bits, nearest, ties away from zero), and compare with the
exact product of the rounded operands, within twice K·2^-24 times the sum
of its terms' magnitudes (tf32_check); the unrounded operands' product
must lie more than 10 such bounds away somewhere, so that a kernel that
does not round, or rounds another way, fails.
"""
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

TOLERANCE = {"bf16": 4e-3, "f16": 5e-4, "f32": 1e-6}

# name, dtype, x shape, w shape (as stored), bias, dynamic rows, op, the
# kernel's transposed operands
CASES = [
    ("dense_bias_crossing", "bf16", (2, 35, 40), (40, 136), True, False,
     "dense", ""),
    ("dense_one_row", "bf16", (1, 24), (24, 8), False, False, "dense", ""),
    ("dense_k8", "bf16", (5, 8), (8, 16), True, False, "dense", ""),
    ("dense_k136", "bf16", (3, 136), (136, 24), False, False, "dense", ""),
    ("batch_matmul", "bf16", (3, 17, 64), (3, 64, 24), False, False, "matmul",
     ""),
    ("dense_f16_dynamic", "f16", (130, 48), (48, 264), True, True, "dense",
     ""),
    # A weight's gradient xᵀ·dy: K the rows, dynamic; x read in place.
    ("weight_grad_k72", "bf16", (72, 48), (72, 40), False, True,
     "dense_weight_grad", "lhs"),
    ("weight_grad_k13", "bf16", (13, 48), (13, 40), False, True,
     "dense_weight_grad", "lhs"),
    ("weight_grad_k1030", "bf16", (1030, 48), (1030, 40), False, True,
     "dense_weight_grad", "lhs"),
    # x·wᵀ, w stored [N, K] (a dense layer's input gradient), a bias.
    ("dense_transposed_w", "bf16", (2, 35, 40), (136, 40), True, True,
     "dense_wt", "rhs"),
    ("scaled_matmul", "f16", (3, 17, 64), (3, 24, 64), False, False,
     "scaled_matmul", "rhs"),
    # xᵀ·wᵀ of a batch: x stored [B, K, M], w [B, N, K].
    ("matmul_both_transposed", "bf16", (2, 72, 136), (2, 264, 72), False,
     False, "matmul_tt", "lhs rhs"),
    # Thousands of rows: 2060 (17 row tiles of 128, the last partial), 8
    # steps of K, 3 column tiles (the last of 8 columns), a bias.
    ("dense_2060_rows", "bf16", (2, 1030, 256), (256, 264), True, True,
     "dense", ""),
    # The f32 kernel: 70 rows, K = 40 (two and a half steps), N = 136 (a
    # second column tile of 8), a bias.
    ("f32_dense_bias_crossing", "f32", (2, 35, 40), (40, 136), True, False,
     "dense", ""),
    ("f32_dense_k4", "f32", (5, 4), (4, 12), True, False, "dense", ""),
    ("f32_batch_matmul", "f32", (3, 17, 64), (3, 64, 24), False, False,
     "matmul", ""),
    # 300 rows (3 row tiles), 4 steps, 2 column tiles, dynamic rows.
    ("f32_dense_300_rows", "f32", (300, 64), (64, 200), True, True, "dense",
     ""),
    ("f32_weight_grad_k13", "f32", (13, 48), (13, 40), False, True,
     "dense_weight_grad", "lhs"),
    ("f32_dense_transposed_w", "f32", (2, 35, 40), (136, 40), True, True,
     "dense_wt", "rhs"),
    ("f32_matmul_both_transposed", "f32", (2, 72, 136), (2, 264, 72), False,
     False, "matmul_tt", "lhs rhs"),
    # A dynamic K, checked on the host: 40 runs in the kernel, 6 (not a
    # multiple of 4) in the loops, each into the same result buffer.
    ("f32_dynamic_k40", "f32", (70, 40), (40, 24), True, "k", "dense", ""),
    ("f32_dynamic_k6", "f32", (70, 6), (6, 24), True, "k", "dense", ""),
    ("dynamic_k40", "bf16", (70, 40), (40, 24), True, "k", "dense", ""),
    ("dynamic_k12", "bf16", (70, 12), (12, 24), True, "k", "dense", ""),
    # f32 products on tensor cores, rounded to TF32 (--gpu-f32-matmuls
    # tf32): 128 x 128 outputs, 16 of K a step (two mma.sync m16n8k8), on
    # inputs with full f32 mantissas. 70 rows, K = 72 (4.5 steps), N = 136
    # (a second column tile), a bias; a transposed lhs (read one element a
    # load) with 13 rows of K; a transposed rhs (ldmatrix of its rows); a
    # batch of two transposes; a dynamic K of 40 (the kernel) and of 6 (the
    # loops: exact f32 products, not TF32).
    ("tf32_dense_bias", "tf32", (70, 72), (72, 136), True, True, "dense", ""),
    ("tf32_weight_grad_k13", "tf32", (13, 48), (13, 40), False, True,
     "dense_weight_grad", "lhs"),
    ("tf32_dense_transposed_w", "tf32", (2, 35, 40), (136, 40), True, True,
     "dense_wt", "rhs"),
    ("tf32_matmul_both_transposed", "tf32", (2, 72, 40), (2, 24, 72), False,
     False, "matmul_tt", "lhs rhs"),
    ("tf32_dynamic_k40", "tf32", (70, 40), (40, 24), True, "k", "dense", ""),
    ("tf32_dynamic_k6", "tf32", (70, 6), (6, 24), True, "k", "dense", ""),
]


def tensor(dims, dtype):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in dims), dtype)


def output_shape(c):
    """The product's shape [..., M, N]."""
    _, _, xs, ws, _, _, op, _ = c
    if op == "dense_weight_grad":
        return (xs[-1], ws[-1])
    if op in ("dense_wt", "scaled_matmul"):
        return tuple(xs[:-1]) + (ws[-2],)
    if op == "matmul_tt":
        return (xs[0], xs[2], ws[1])
    return tuple(xs[:-1]) + (ws[-1],)


def model(c):
    name, dtype, xs, ws, bias, dynamic, op, _ = c
    dtype = "f32" if dtype == "tf32" else dtype
    xtype = tensor(("?",) + xs[1:] if dynamic else xs, dtype)
    wtype = tensor(ws, dtype)
    if dynamic == "k":
        # K dynamic too: checked on the host (the kernel when it is a
        # multiple of the kernel's row copies, the loops otherwise).
        xtype = tensor(("?",) * len(xs), dtype)
        wtype = tensor(("?",) + ws[1:], dtype)
    out = output_shape(c)
    if op == "dense_weight_grad":
        wtype = tensor(("?",) + ws[1:], dtype)
    elif dynamic:
        out = ("?",) + out[1:]
    otype = tensor(out, dtype)
    args = "%%x: %s, %%w: %s" % (xtype, wtype)
    if bias:
        args += ", %%b: %s" % tensor((out[-1],), dtype)
    body = []
    x, w = "%x", "%w"
    if op == "dense_wt":
        body.append("%%wt = mha.transpose %%w perm = [1, 0] : %s" % wtype)
        w, wtype, op = "%wt", tensor(ws[::-1], dtype), "dense"
    if op == "matmul_tt":
        body.append("%%xt = mha.transpose %%x perm = [0, 2, 1] : %s" % xtype)
        body.append("%%wt = mha.transpose %%w perm = [0, 2, 1] : %s" % wtype)
        x, xtype = "%xt", tensor((xs[0], xs[2], xs[1]), dtype)
        w, wtype, op = "%wt", tensor((ws[0], ws[2], ws[1]), dtype), "matmul"
    operands, types = "%s, %s" % (x, w), "%s, %s" % (xtype, wtype)
    if bias:
        operands += ", %b"
        types += ", " + tensor((out[-1],), dtype)
    attrs = " {scale = 0.5 : f32}" if op == "scaled_matmul" else ""
    body.append("%%y = mha.%s %s%s : %s" % (op, operands, attrs, types))
    return ("func.func @%s(%s) -> %s {\n%s\n  return %%y : %s\n}\n" %
            (name, args, otype, "".join("  %s\n" % line for line in body),
             otype))


def values(seed, count):
    return [((i * 7 + seed * 13) % 33 - 16) / 8 for i in range(count)]


def fine_values(seed, count):
    """Values in [-2, 2] with full f32 mantissas (TF32 rounds them)."""
    return [npy.to_f32(((i * 7919 + seed * 104729) % 2003 - 1001) / 500.3)
            for i in range(count)]


def to_tf32(v):
    """v rounded to TF32's 11 significant bits, to nearest with ties away
    from zero (cvt.rna.tf32.f32), from the definition (not the bits)."""
    if v == 0 or math.isinf(v) or math.isnan(v):
        return v
    m, e = math.frexp(abs(v))  # m in [0.5, 1)
    return math.copysign(math.floor(m * 2 ** 11 + 0.5) * 2.0 ** (e - 11), v)


def reduction(c):
    """The product's K."""
    _, _, xs, _, _, _, op, _ = c
    return {"dense_weight_grad": xs[0], "matmul_tt": xs[1]}.get(op, xs[-1])


def size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def reference(c, x, w, b, operand=lambda v: v):
    """The exact product, from the operands as stored (each through
    `operand`: TF32's rounding), and each output's sum of the magnitudes
    of its terms (the bias and the products)."""
    _, _, xs, ws, _, _, op, _ = c
    out = output_shape(c)
    m, n = out[-2], out[-1]
    batches = size(out[:-2])
    k = reduction(c)
    if op == "dense_weight_grad":
        a = lambda q, i, r: x[r * m + i]          # noqa: E731
        bb = lambda q, r, j: w[r * n + j]         # noqa: E731
    elif op in ("dense", "dense_wt"):
        m, batches = size(xs[:-1]), 1
        a = lambda q, i, r: x[i * k + r]          # noqa: E731
        if op == "dense":
            bb = lambda q, r, j: w[r * n + j]     # noqa: E731
        else:
            bb = lambda q, r, j: w[j * k + r]     # noqa: E731
    elif op == "matmul":
        a = lambda q, i, r: x[(q * m + i) * k + r]  # noqa: E731
        bb = lambda q, r, j: w[(q * k + r) * n + j]  # noqa: E731
    elif op == "scaled_matmul":
        a = lambda q, i, r: x[(q * m + i) * k + r]  # noqa: E731
        bb = lambda q, r, j: 0.5 * w[(q * n + j) * k + r]  # noqa: E731
    else:  # matmul_tt: x [B, K, M], w [B, N, K]
        a = lambda q, i, r: x[(q * k + r) * m + i]  # noqa: E731
        bb = lambda q, r, j: w[(q * n + j) * k + r]  # noqa: E731
    result, magnitude = [], []
    for q in range(batches):
        for i in range(m):
            for j in range(n):
                s = b[j] if b else 0.0
                total = abs(s)
                for r in range(k):
                    term = operand(a(q, i, r)) * operand(bb(q, r, j))
                    s += term
                    total += abs(term)
                result.append(s)
                magnitude.append(total)
    return result, magnitude


def tf32_check(c, got, x, w, b, loops):
    """Whether `got` is the product of the TF32 roundings of x and w (of x
    and w themselves where the product runs in the loops), and a report.

    Each product of two TF32 values (11 significant bits each) is exact in
    f32 (22 bits); the f32 sum of K of them and the bias errs by at most
    about K·u·(the sum of their magnitudes), u = 2^-24 for rounding to
    nearest: the bound is twice that (tensor cores need not round their
    sums to nearest). The same inputs' unrounded product must be farther
    than 10 bounds from the rounded one somewhere, or the check could not
    tell TF32 from f32."""
    rounded, magnitude = reference(c, x, w, b, to_tf32)
    exact, _ = reference(c, x, w, b)
    want, other = (exact, rounded) if loops else (rounded, exact)
    bound = [max(2 * (reduction(c) + 1) * 2.0 ** -24 * m, 1e-30)
             for m in magnitude]
    if len(got) != len(want):
        return False, "%d values, not %d" % (len(got), len(want))
    worst = npy.worst(abs(g - e) / d for g, e, d in zip(got, want, bound))
    apart = npy.worst(abs(o - e) / d for o, e, d in zip(other, want, bound))
    ok = worst <= 1 and apart > 10
    return ok, ("largest difference %.2g of its bound; %s %.3g bounds "
                "away" % (worst, "TF32" if loops else "unrounded", apart))


def main(mha_run, mha_opt, work, device="gpu-emulated", kind="all"):
    os.makedirs(work, exist_ok=True)
    failures = 0
    # MHA_MATMUL_CASES (a regular expression): only the cases it matches
    # (the sanitized suite's representatives, sanitized-kernels.test; the
    # other tests run every case).
    only = re.compile(os.environ.get("MHA_MATMUL_CASES", ""))
    for c in CASES:
        name, dtype, xs, ws, bias = c[:5]
        if not only.search(name):
            continue
        group = dtype if dtype in ("f32", "tf32") else "half"
        if kind != "all" and group != kind:
            continue
        # A TF32 case runs in the loops where an operand's rows (its last
        # dimension, as stored) or N are not multiples of 4.
        loops = dtype == "tf32" and any(
            d % 4 for d in (xs[-1], ws[-1], output_shape(c)[-1]))
        path = os.path.join(work, name + ".mlir")
        with open(path, "w") as f:
            f.write(model(c))
        # The product must reach the kernel (not the per-element loops).
        front = mha_opt != "-" and subprocess.run(
            [mha_opt, path, "--mha-params-to-arguments",
             "--convert-mha-to-linalg", "--canonicalize",
             "--mha-gpu-matmul-kernel-ops" +
             ("=tf32=1" if dtype == "tf32" else "")],
            capture_output=True, text=True)
        kernels = front.stdout.count("mha.gpu_matmul") if front else 1
        transposed = " ".join(
            side for side in ("lhs", "rhs")
            if front and side + "_transposed" in front.stdout)
        if front and (front.returncode != 0 or kernels != 1 or
                      transposed != c[7] or
                      (dtype == "tf32") != ("tf32" in front.stdout)):
            print("FAIL %s: %d mha.gpu_matmul (want 1), transposed '%s' "
                  "(want '%s')\n%s" % (name, kernels, transposed, c[7],
                                        front.stderr[-2000:]))
            failures += 1
            continue
        inputs = fine_values if dtype == "tf32" else values
        x = inputs(1, size(xs))
        w = inputs(2, size(ws))
        b = inputs(3, output_shape(c)[-1]) if bias else None
        code = "f2" if dtype == "f16" else "f4"  # (bf16 read from f32)
        args = [mha_run, path, "--device", device,
                "--gpu-tensor-cores", "--gpu-f32-matmuls",
                "tf32" if dtype == "tf32" else "tiled",
                "--output", os.path.join(work, name)]
        for arg, shape, data in (("x", xs, x), ("w", ws, w),
                                 ("b", output_shape(c)[-1:], b)):
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
        if dtype == "tf32":
            ok, report = tf32_check(c, got, x, w, b, loops)
            failures += not ok
            print("%s %s: %d values, %s" % ("ok" if ok else "FAIL", name,
                                            len(got), report))
            continue
        want, _ = reference(c, x, w, b)
        worst = npy.worst(abs(g - float(e)) / (1 + abs(float(e)))
                          for g, e in zip(got, want))
        ok = len(got) == len(want) and worst <= TOLERANCE[dtype]
        failures += not ok
        print("%s %s: %d values, max relative difference %.2g" %
              ("ok" if ok else "FAIL", name, len(want), worst))
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
