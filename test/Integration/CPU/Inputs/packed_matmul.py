#!/usr/bin/env python3
"""Runs mha.dense through mha-run's default pipeline at sizes that cross
every block of the packed matmul code (block-k 1024, block-m 128 or 64 rows
per parallel task, panels of 32 columns) and checks the results exactly.

  packed_matmul.py MHA_RUN WORKDIR

x: [4, 35, 1068] (140 rows: one block of 128 + 12, or 2 parallel blocks of
64 + 12), w: [1068, 70]: two reduction panels of 1024 + 44 steps, two column
panels + 6 columns. Each dimension static or dynamic (a dynamic reduction
is packed in as many whole panels as its run-time size holds), on one
thread and on every core. The values are multiples of 1/8 in [-11/8, 11/8]: every partial
sum is a multiple of 1/64 below 1068 * (11/8)^2 < 2^11, exact in f32 in any order, so the
results must equal the reference exactly. The same with bf16 operands (the
values are exact in bf16; AVX-512 BF16 dot products where the host has
them, and with them disabled): the f32 sums are exact, so the bf16 result
must be the exact sum rounded to nearest even. Exit status 1 on any
failure.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

B, S, K, N = 4, 35, 1068, 70


def values(n, seed):
    return [((i * 7 + seed * 13) % 23 - 11) / 8.0 for i in range(n)]


def main(mha_run, work):
    os.makedirs(work, exist_ok=True)
    x, w = values(B * S * K, 1), values(K * N, 2)
    npy.write(os.path.join(work, "x.npy"), "f4", "%dx%dx%d" % (B, S, K),
              ",".join(map(str, x)))
    npy.write(os.path.join(work, "w.npy"), "f4", "%dx%d" % (K, N),
              ",".join(map(str, w)))
    columns = [w[j::N] for j in range(N)]
    want = []
    for i in range(B * S):
        row = x[i * K:(i + 1) * K]
        want.extend(sum(a * b for a, b in zip(row, col)) for col in columns)

    # The same product with bf16 operands (the values are exact in bf16):
    # accumulated in f32 (exact), then rounded once to the bf16 result.
    want_bf16 = [npy.to_bf16(v) for v in want]

    runs = []
    for dynamic in ["", "B", "S", "K", "N", "BSKN"]:
        for threads in ["1", "0"]:
            runs.append(("f32", dynamic, threads, ""))
            # AVX-512 BF16 dot products on pair-packed panels (where the
            # host has them).
            runs.append(("bf16", dynamic, threads, ""))
    # The path for targets without AVX-512 BF16: tiles widened to f32.
    runs.append(("bf16", "", "1", "-avx512bf16"))
    runs.append(("bf16", "BSKN", "0", "-avx512bf16"))

    failures = cases = 0
    for dtype, dynamic, threads, features in runs:
        tag = "".join(d if d in dynamic else d.lower() for d in "BSKN")
        dim = lambda d, v: "?" if d in dynamic else str(v)  # noqa: E731
        xt = "tensor<%sx%sx%sx%s>" % (dim("B", B), dim("S", S), dim("K", K),
                                      dtype)
        wt = "tensor<%sx%sx%s>" % (dim("K", K), dim("N", N), dtype)
        yt = "tensor<%sx%sx%sx%s>" % (dim("B", B), dim("S", S), dim("N", N),
                                      dtype)
        model = os.path.join(work, "dense_%s_%s.mlir" % (dtype, tag))
        with open(model, "w") as f:
            f.write("func.func @dense(%%x: %s, %%w: %s) -> %s {\n"
                    "  %%y = mha.dense %%x, %%w : %s, %s\n"
                    "  return %%y : %s\n}\n" % (xt, wt, yt, xt, wt, yt))
        if True:
            cases += 1
            name = "dense_%s %s threads=%s%s" % (
                tag, dtype, threads, (" " + features) if features else "")
            out = os.path.join(work, "out_%s_%s_%s%s" % (dtype, tag, threads,
                                                          features))
            args = [mha_run, model, "--threads", threads, "--output", out,
                    "--input", "x=" + os.path.join(work, "x.npy"),
                    "--input", "w=" + os.path.join(work, "w.npy")]
            if features:
                args += ["--target-features", features]
            run = subprocess.run(args, capture_output=True, text=True)
            if run.returncode != 0:
                print("FAIL %s: mha-run exited %d\n%s" % (name, run.returncode,
                                                          run.stderr))
                failures += 1
                continue
            got = npy.read(os.path.join(out, "result0.npy"))
            expected = want_bf16 if dtype == "bf16" else want
            wrong = [i for i, (g, e) in enumerate(zip(got, expected))
                     if g != e]
            if len(got) != len(want) or wrong:
                first = wrong[0] if wrong else 0
                print("FAIL %s: %d of %d values differ, first at row %d "
                      "column %d" % (name, len(wrong), len(want),
                                     first // N, first % N))
                failures += 1
            else:
                print("ok %s" % name)
    print("%d of %d cases failed" % (failures, cases))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
