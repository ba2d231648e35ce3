#!/usr/bin/env python3
"""Checks mha-run --precision bf16 on a Dense layer against an independent
reference: the f32 inputs rounded to bf16 (nearest even) and multiplied in
double precision.

  mixed_precision.py MHA_RUN WORKDIR [TARGET_FEATURES]

x: [70, 300], w: [300, 50] (8-row register blocks + 6 rows, a panel of 32
columns + 18, an even reduction), values that bf16 cannot hold exactly. Bounds:
with bf16 operands the products are exact in f32 and only the f32
accumulation of K = 300 terms rounds, so |mha - ref| <= K * 2^-24 *
sum_k |x_ik w_kj|: the script uses 2e-5 * sum_k |x_ik w_kj| (K * 2^-24 is
1.8e-5). The f32 run (no --precision) must instead match the unrounded
product within the same bound and differ from the bf16 reference by more
than 5 times it somewhere (bf16 operands are off by up to 2^-9 each, 2.5e-4
here): the rounding really happens, and only with the flag.
Exit status 1 on any failure.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

M, K, N = 70, 300, 50


def product(x, w):
    out, scale = [], []
    for i in range(M):
        for j in range(N):
            terms = [x[i * K + k] * w[k * N + j] for k in range(K)]
            out.append(sum(terms))
            scale.append(sum(abs(t) for t in terms))
    return out, scale


def main(mha_run, work, features=""):
    os.makedirs(work, exist_ok=True)
    x = [npy.to_f32(((i * 37) % 101 - 50) / 31.7) for i in range(M * K)]
    w = [npy.to_f32(((i * 53) % 89 - 44) / 47.3) for i in range(K * N)]
    npy.write(os.path.join(work, "x.npy"), "f4", "%dx%d" % (M, K),
              ",".join(map(repr, x)))
    npy.write(os.path.join(work, "w.npy"), "f4", "%dx%d" % (K, N),
              ",".join(map(repr, w)))
    model = os.path.join(work, "dense.mlir")
    with open(model, "w") as f:
        f.write("func.func @dense(%%x: tensor<?x%dxf32>, %%w: tensor<%dx%dxf32>)"
                " -> tensor<?x%dxf32> {\n"
                "  %%y = mha.dense %%x, %%w : tensor<?x%dxf32>, tensor<%dx%dxf32>\n"
                "  return %%y : tensor<?x%dxf32>\n}\n" % (K, K, N, N, K, K, N, N))
    exact, scale = product(x, w)
    rounded, _ = product([npy.to_bf16(v) for v in x], [npy.to_bf16(v) for v in w])

    def run(tag, extra):
        out = os.path.join(work, tag)
        args = [mha_run, model, "--no-cache", "--output", out,
                "--input", "x=" + os.path.join(work, "x.npy"),
                "--input", "w=" + os.path.join(work, "w.npy")] + extra
        if features:
            args += ["--target-features", features]
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            print("FAIL %s: mha-run exited %d\n%s" % (tag, done.returncode,
                                                      done.stderr))
            return None
        return npy.read(os.path.join(out, "result0.npy"))

    def worst(got, want):
        return npy.worst(abs(g - e) / s for g, e, s in zip(got, want, scale))

    failures = 0
    bf16 = run("bf16", ["--precision", "bf16"])
    f32 = run("f32", [])
    if bf16 is None or f32 is None:
        return 1
    err = worst(bf16, rounded)
    ok = err <= 2e-5
    failures += not ok
    print("%s bf16 vs rounded reference: %.2g (bound 2e-5)" %
          ("ok" if ok else "FAIL", err))
    err = worst(f32, exact)
    ok = err <= 2e-5
    failures += not ok
    print("%s f32 vs exact reference: %.2g (bound 2e-5)" %
          ("ok" if ok else "FAIL", err))
    gap = worst(f32, rounded)
    ok = gap > 1e-4
    failures += not ok
    print("%s f32 differs from the rounded reference: %.2g (above 1e-4)" %
          ("ok" if ok else "FAIL", gap))
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
