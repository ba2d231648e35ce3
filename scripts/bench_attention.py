#!/usr/bin/python3
"""Attention side by side: mha's flash lowering (build/benchmarks/
mha-benchmarks) against unfused PyTorch (softmax(Q·Kᵀ·scale)·V with
OpenBLAS), same shapes and thread counts, interleaved A, B, A, B.

  scripts/bench_attention.sh [--rounds N] [--seqs 512,2048] [--depths 64]
                             [--threads 1,2] [--no-memory | --memory-only]

(the .sh wrapper installs python3-torch and libopenblas0-pthread when
missing and builds first). Shapes: [B, H = 8, S, D] f32 with B·S = 8192, as
in benchmarks/AttentionBenchmarks.cpp. GFLOP/s use the FlashAttention
convention (forward 4·B·H·S²·D, halved when causal; forward + backward 3.5
times that), measured on wall time: each figure is the mean over rounds,
with the spread (min-max) in brackets, and mha's also as a fraction of the
single-core FMA peak measured in its process. The last part measures the
peak resident memory of one forward + backward at S = 16384 (B = 1).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import bench_common
from bench_common import ROOT, stats
MHA_RUN = os.path.join(ROOT, "build", "bin", "mha-run")
HEADS, TOKENS = 8, 8192

TORCH_CODE = r"""
import json, sys, time, torch
seq, depth, causal, train, threads = [int(a) for a in sys.argv[1:6]]
torch.set_num_threads(threads)
batch = max(1, %d // seq)
g = torch.Generator().manual_seed(0)
shape = (batch, %d, seq, depth)
q, k, v, do = (torch.randn(shape, generator=g) for _ in range(4))
mask = torch.ones(seq, seq, dtype=torch.bool).tril() if causal else None
def step():
    qq, kk, vv = (t.requires_grad_(bool(train)) for t in (q, k, v))
    s = qq @ kk.transpose(-1, -2) * depth ** -0.5
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    o = torch.softmax(s, dim=-1) @ vv
    if train:
        o.backward(do)
    return o
step()
times = []
deadline = time.perf_counter() + 1.0
while time.perf_counter() < deadline or len(times) < 2:
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
flops = 4.0 * batch * %d * seq * seq * depth * (0.5 if causal else 1.0)
flops *= 3.5 if train else 1.0
times.sort()
print(json.dumps({"gflops": flops / times[len(times) // 2] / 1e9}))
""" % (TOKENS, HEADS, HEADS)




def run_torch(seq, depth, causal, train, threads):
    return bench_common.run_torch(
        TORCH_CODE, [seq, depth, int(causal), int(train), threads], threads)


def run_mha(seq, depth, causal, train, threads):
    # threads: 1 = sequential code; otherwise OpenMP on every core (0).
    name = "BM_AttentionTrain" if train else "BM_Attention"
    return bench_common.run_mha("^%s/S:%d/D:%d/causal:%d/flash:1/threads:%d/" % (
        name, seq, depth, int(causal), 1 if threads == 1 else 0))


def peak_memory_mha():
    """Peak RSS (KiB) of mha-run doing forward + backward at S = 16384."""
    model = """func.func @f(%q: T, %k: T, %v: T, %do: T) -> (T, T, T) {
  %o, %l = mha.attention_with_lse %q, %k, %v : T, T, T
  %dq, %dk, %dv = mha.attention_grad %q, %k, %v, %o, %l, %do : T, T, T, T, tensor<1x8x?xf32>
  return %dq, %dk, %dv : T, T, T
}
""".replace("T", "tensor<1x8x?x64xf32>")
    with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False) as f:
        f.write(model)
    # The child's own peak (wait4), not the maximum over every child so far.
    proc = subprocess.Popen([MHA_RUN, f.name, "--dynamic-size", "16384"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    os.unlink(f.name)
    if status != 0:
        sys.exit("mha-run failed:\n" + proc.stderr.read().decode())
    return usage.ru_maxrss


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seqs", default="512,2048,4096")
    p.add_argument("--depths", default="64,128")
    p.add_argument("--threads", default="1,%d" % os.cpu_count())
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory-only", action="store_true")
    args = p.parse_args()
    if args.memory_only:
        print("forward + backward at B=1, H=8, S=16384, D=64: mha peak RSS "
              "%.0f MiB" % (peak_memory_mha() / 1024.0))
        return
    configs = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for seq in [int(s) for s in args.seqs.split(",")]:
            for depth in [int(d) for d in args.depths.split(",")]:
                for causal in (False, True):
                    for train in (False, True):
                        configs.append((seq, depth, causal, train, threads))
    results = {c: {"mha": [], "frac": [], "torch": []} for c in configs}
    for r in range(args.rounds):
        for c in configs:
            # A, B, A, B: the order alternates between rounds.
            order = ("mha", "torch") if r % 2 == 0 else ("torch", "mha")
            for who in order:
                if who == "mha":
                    g, frac = run_mha(*c)
                    results[c]["mha"].append(g)
                    results[c]["frac"].append(frac)
                else:
                    results[c]["torch"].append(run_torch(*c))
            print("round %d: %s done" % (r + 1, c), file=sys.stderr,
                  flush=True)
    print("| threads | S | D | causal | pass | mha GFLOP/s | of 1-core peak"
          " | PyTorch GFLOP/s | mha / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        seq, depth, causal, train, threads = c
        m, t, f = (stats(results[c][k]) for k in ("mha", "torch", "frac"))
        ratios = [a / b for a, b in zip(results[c]["mha"], results[c]["torch"])]
        rr = stats(ratios)
        print("| %d | %d | %d | %s | %s | %.1f [%.1f-%.1f] | %.2f | %.1f "
              "[%.1f-%.1f] | %.2f [%.2f-%.2f] |" % (
                  threads, seq, depth, "yes" if causal else "no",
                  "fwd+bwd" if train else "fwd", m[0], m[1], m[2], f[0],
                  t[0], t[1], t[2], rr[0], rr[1], rr[2]))
    if not args.no_memory:
        kib = peak_memory_mha()
        print("\nforward + backward at B=1, H=8, S=16384, D=64: mha peak RSS "
              "%.0f MiB; unfused PyTorch would hold several [8, 16384, 16384]"
              " f32 matrices (8 GiB each): not run." % (kib / 1024.0))


if __name__ == "__main__":
    main()
