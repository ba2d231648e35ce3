#!/usr/bin/python3
"""Whole models side by side: mha (build/benchmarks/mha-benchmarks) against
PyTorch 1.13 with OpenBLAS, same shapes and thread counts, interleaved A, B,
A, B.

  scripts/bench_models.sh [--rounds N] [--threads 1,2] [--seqs 16,64,256]
                          [--matmuls 512,2048] [--bf16]

Cases: an [N, N] x [N, N] f32 matmul (mha.dense without bias against
torch.mm); the seed classifier (examples/seed_classifier.mlir, B = 32)
forward, and its training step (forward, binary cross-entropy, backward,
Adam update) against the same model in PyTorch
(test/Integration/PyTorch/seed_crosscheck.py's forward, torch.optim.Adam).
GFLOP/s use the same operation counts on both sides
(benchmarks/ModelBenchmarks.cpp: matmul 2N^3; the forward's multiply-adds,
three times that for a training step), on wall time; each figure is the mean
over rounds with the spread (min-max), mha's also as a fraction of the
single-core FMA peak measured in its process.

--bf16 adds the same matmuls with bf16 operands and f32 accumulation (mha:
BM_DenseBF16; PyTorch: torch.mm on bf16 tensors, oneDNN) and the training
step in mixed precision (mha: BM_SeedTrainStepBF16, bf16 matrix products;
PyTorch: the same step under torch.autocast("cpu", dtype=torch.bfloat16)).
"""
import argparse
import os
import sys

import bench_common
from bench_common import ROOT, stats
CROSSCHECK = os.path.join(ROOT, "test", "Integration", "PyTorch")
BATCH = 32

TORCH_CODE = r"""
import json, sys, time, torch
sys.path.insert(0, %r)
from seed_crosscheck import forward
kind, size, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)
def seed_flops(b, s):
    rows = b * s
    return (2 * rows * 16 * 512 * 3 + 2 * rows * 512 * 512 + 4.0 * b * 8 * s * s * 64
            + 2.0 * b * 512 * 1024 + 2.0 * b * 1024)
bf16 = kind.endswith("_bf16")
kind = kind.replace("_bf16", "")
if kind == "matmul":
    a, b = (torch.randn(size, size, generator=g) for _ in range(2))
    if bf16:
        a, b = a.bfloat16(), b.bfloat16()
    step = lambda: torch.mm(a, b)
    flops = 2.0 * size ** 3
else:
    shapes = {"wq": (16, 512), "bq": (512,), "wk": (16, 512), "bk": (512,),
              "wv": (16, 512), "bv": (512,), "wo": (512, 512), "bo": (512,),
              "w1": (512, 1024), "b1": (1024,), "w2": (1024, 1), "b2": (1,)}
    p = {n: (torch.randn(s, generator=g) * 0.05).requires_grad_(kind == "train")
         for n, s in shapes.items()}
    x = torch.randn(%d, size, 16, generator=g)
    y = (torch.rand(%d, 1, generator=g) > 0.5).float()
    if kind == "forward":
        def step():
            with torch.no_grad():
                return forward(p, x)
        flops = seed_flops(%d, size)
    else:
        opt = torch.optim.Adam(p.values(), lr=1e-3)
        def step():
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = forward(p, x)
            loss = torch.nn.functional.binary_cross_entropy(out.float(), y)
            loss.backward()
            opt.step()
        flops = 3 * seed_flops(%d, size)
step()
times = []
deadline = time.perf_counter() + 1.0
while time.perf_counter() < deadline or len(times) < 3:
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"gflops": flops / times[len(times) // 2] / 1e9}))
""" % (CROSSCHECK, BATCH, BATCH, BATCH, BATCH)




def run_torch(kind, size, threads):
    return bench_common.run_torch(TORCH_CODE, [kind, size, threads], threads)


def run_mha(kind, size, threads):
    # threads: 1 = sequential code; otherwise OpenMP on every core (0).
    name = {"matmul": "BM_Dense/N", "forward": "BM_SeedForward/S",
            "train": "BM_SeedTrainStep/S", "matmul_bf16": "BM_DenseBF16/N",
            "train_bf16": "BM_SeedTrainStepBF16/S"}[kind]
    return bench_common.run_mha("^%s:%d/threads:%d/" % (
        name, size, 1 if threads == 1 else 0))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", default="1,%d" % os.cpu_count())
    p.add_argument("--seqs", default="16,64,256")
    p.add_argument("--matmuls", default="512,2048")
    p.add_argument("--bf16", action="store_true",
                   help="also bf16 matmuls and mixed-precision training")
    args = p.parse_args()
    configs = []
    for threads in [int(t) for t in args.threads.split(",")]:
        matmuls = ["matmul"] + (["matmul_bf16"] if args.bf16 else [])
        for kind in matmuls:
            for n in [int(s) for s in args.matmuls.split(",") if s]:
                configs.append((kind, n, threads))
        models = ["forward", "train"] + (["train_bf16"] if args.bf16 else [])
        for kind in models:
            for s in [int(s) for s in args.seqs.split(",") if s]:
                configs.append((kind, s, threads))
    results = {c: {"mha": [], "frac": [], "torch": []} for c in configs}
    for r in range(args.rounds):
        for c in configs:
            g, frac = run_mha(*c)
            results[c]["mha"].append(g)
            results[c]["frac"].append(frac)
            results[c]["torch"].append(run_torch(*c))
            print("round %d %s: mha %.1f, torch %.1f GFLOP/s" %
                  (r + 1, c, g, results[c]["torch"][-1]), file=sys.stderr)
    print("| case | threads | mha GFLOP/s | of 1-core peak | PyTorch GFLOP/s | mha / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (kind, size, threads), res in results.items():
        label = {"matmul": "matmul %d^3" % size,
                 "matmul_bf16": "matmul %d^3 bf16" % size,
                 "forward": "seed forward B=32 S=%d" % size,
                 "train": "seed training step B=32 S=%d" % size,
                 "train_bf16": "seed training step B=32 S=%d, mixed bf16"
                               % size}[kind]
        m, t, f = stats(res["mha"]), stats(res["torch"]), stats(res["frac"])
        ratios = [a / b for a, b in zip(res["mha"], res["torch"])]
        q = stats(ratios)
        print("| %s | %d | %.1f [%.1f-%.1f] | %.2f | %.1f [%.1f-%.1f] | %.2f [%.2f-%.2f] |"
              % (label, threads, m[0], m[1], m[2], f[0], t[0], t[1], t[2],
                 q[0], q[1], q[2]))


if __name__ == "__main__":
    main()
