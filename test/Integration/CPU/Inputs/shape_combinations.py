#!/usr/bin/env python3
"""Runs mha.dense and mha.matmul with every static/dynamic combination of
their dimensions through mha-run's default (vectorized) pipeline and checks
the results against a pure-Python reference.

  shape_combinations.py MHA_RUN WORKDIR

Sizes cross every register-block boundary of the default tiling (8 x 32 x 16):
27 rows (B = 3, S = 9), K = 17, N = 33. A static sequence length with a
dynamic batch once failed to link (memrefCopy). Exit status 1 on any failure.
"""
import itertools
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

SIZES = {"B": 3, "S": 9, "K": 17, "N": 33}


def values(n, seed):
    # Small exact binary fractions: the reference in double is exact up to
    # the f32 rounding of the sums.
    return [((i * 7 + seed * 13) % 23 - 11) / 8.0 for i in range(n)]


def tensor_type(dims, dynamic):
    shape = "x".join("?" if d in dynamic else str(SIZES[d]) for d in dims)
    return "tensor<%sxf32>" % shape


def matmul_ref(a, b, batch, m, k, n):
    out = []
    for t in range(batch):
        for i in range(m):
            for j in range(n):
                out.append(sum(a[(t * m + i) * k + p] * b[(t * k + p) * n + j]
                               for p in range(k)))
    return out


def main(mha_run, work):
    os.makedirs(work, exist_ok=True)
    cases = []
    for dynamic in itertools.chain.from_iterable(
            itertools.combinations("BSKN", r) for r in range(5)):
        tag = "".join(d if d in dynamic else d.lower() for d in "BSKN")
        x, w, bias = (tensor_type("BSK", dynamic), tensor_type("KN", dynamic),
                      tensor_type("N", dynamic))
        y = tensor_type("BSN", dynamic)
        cases.append(("dense_" + tag, "dense",
            "func.func @dense_%s(%%x: %s, %%w: %s, %%b: %s) -> %s {\n"
            "  %%y = mha.dense %%x, %%w, %%b : %s, %s, %s\n"
            "  return %%y : %s\n}\n" % (tag, x, w, bias, y, x, w, bias, y)))
        # Batched matmul [B, S, K] x [B, K, N].
        rhs = tensor_type("BKN", dynamic)
        cases.append(("matmul_" + tag, "matmul",
            "func.func @matmul_%s(%%x: %s, %%w: %s) -> %s {\n"
            "  %%y = mha.matmul %%x, %%w : %s, %s\n"
            "  return %%y : %s\n}\n" % (tag, x, rhs, y, x, rhs, y)))

    B, S, K, N = (SIZES[d] for d in "BSKN")
    x = values(B * S * K, 1)
    w = values(K * N, 2)
    bias = values(N, 3)
    wb = values(B * K * N, 4)
    npy.write(os.path.join(work, "x.npy"), "f4", "%dx%dx%d" % (B, S, K),
              ",".join(map(str, x)))
    npy.write(os.path.join(work, "w.npy"), "f4", "%dx%d" % (K, N),
              ",".join(map(str, w)))
    npy.write(os.path.join(work, "b.npy"), "f4", "%d" % N,
              ",".join(map(str, bias)))
    npy.write(os.path.join(work, "wb.npy"), "f4", "%dx%dx%d" % (B, K, N),
              ",".join(map(str, wb)))
    dense = matmul_ref(x, w, 1, B * S, K, N)
    dense = [v + bias[i % N] for i, v in enumerate(dense)]
    expected = {"dense": dense, "matmul": matmul_ref(x, wb, B, S, K, N)}

    failures = 0
    for name, kind, text in cases:
        # One model file each: mha-run compiles every function of a module.
        model = os.path.join(work, name + ".mlir")
        with open(model, "w") as f:
            f.write(text)
        out = os.path.join(work, name)
        args = [mha_run, model, "--output", out,
                "--input", "x=" + os.path.join(work, "x.npy")]
        if kind == "dense":
            args += ["--input", "w=" + os.path.join(work, "w.npy"),
                     "--input", "b=" + os.path.join(work, "b.npy")]
        else:
            args += ["--input", "w=" + os.path.join(work, "wb.npy")]
        run = subprocess.run(args, capture_output=True, text=True)
        if run.returncode != 0:
            print("FAIL %s: mha-run exited %d\n%s" % (name, run.returncode,
                                                      run.stderr))
            failures += 1
            continue
        got = npy.read(os.path.join(out, "result0.npy"))
        want = expected[kind]
        worst = npy.worst(abs(g - e) / (1 + abs(e)) for g, e in zip(got, want))
        # f32 sums of 17 exact products: a few ulps.
        if len(got) != len(want) or not worst <= 1e-5:
            print("FAIL %s: max relative difference %.3g" % (name, worst))
            failures += 1
        else:
            print("ok %s" % name)
    print("%d of %d cases failed" % (failures, len(cases)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
