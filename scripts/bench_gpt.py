#!/usr/bin/python3
"""The byte-level GPT (examples/gpt.mlir) side by side: trained by mha-run
and by the same model in PyTorch 1.13 (OpenBLAS), same data, optimizer,
batch size, dropout and epochs; then generation with mha's key/value cache
against recomputing the prefix.

  scripts/bench_gpt.sh [--threads 1] [--epochs 12] [--tokens 200]
                       [--long-context 1024]

Training: the GNU GPL v3 text in windows of 64 bytes, the last 10% of the
file for validation (mha's `text` dataset; the PyTorch side cuts the same
windows), AdamW (lr 2e-3, weight decay 0.01), batch 16, dropout 0.1 after
the attention projection and the MLP. Printed per side: the validation loss
after the last epoch (nats per byte) and its best epoch, and the training
time (the sum of the epoch times, without mha's compilation, which is
printed apart). Initialization follows the model file's initializers on
both sides but draws different numbers, and so does batch order: compare the
losses as those of two runs, not bit for bit.

Generation: tokens/s of `mha-run --generate` with the cache and with
`--no-kv-cache`, on the trained model (context 64), and on the same
architecture with a position table of --long-context rows (untrained; the
speed does not depend on the weights), where a token without the cache costs
a forward pass over up to that many positions.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile

import bench_common
from bench_common import ROOT

MODEL = os.path.join(ROOT, "examples", "gpt.mlir")
MHA_RUN = os.path.join(ROOT, "build", "bin", "mha-run")
TEXT = "/usr/share/common-licenses/GPL-3"

TORCH_CODE = r"""
import json, math, sys, time, torch
import torch.nn.functional as F
text_path, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
D, H, FF, L, V, S = 128, 4, 512, 2, 256, 64
data = open(text_path, "rb").read()
cut = int(math.floor(len(data) * 0.9))
def windows(b):
    n = (len(b) - 1) // S
    x = torch.tensor([list(b[i * S:(i + 1) * S]) for i in range(n)], dtype=torch.long)
    y = torch.tensor([list(b[i * S + 1:(i + 1) * S + 1]) for i in range(n)], dtype=torch.long)
    return x, y
xt, yt = windows(data[:cut])
xv, yv = windows(data[cut:])
def glorot(i, o):
    a = math.sqrt(6.0 / (i + o))
    return (torch.rand(i, o) * 2 - 1) * a
p = {"tok": torch.randn(V, D) * 0.02, "pos": torch.randn(S, D) * 0.02,
     "lnf_g": torch.ones(D), "lnf_b": torch.zeros(D), "head": glorot(D, V)}
for l in range(L):
    p.update({f"{l}ln1_g": torch.ones(D), f"{l}ln1_b": torch.zeros(D),
              f"{l}wq": glorot(D, D), f"{l}wk": glorot(D, D), f"{l}wv": glorot(D, D),
              f"{l}wo": glorot(D, D), f"{l}bo": torch.zeros(D),
              f"{l}ln2_g": torch.ones(D), f"{l}ln2_b": torch.zeros(D),
              f"{l}w1": glorot(D, FF), f"{l}b1": torch.zeros(FF),
              f"{l}w2": glorot(FF, D), f"{l}b2": torch.zeros(D)})
for t in p.values():
    t.requires_grad_(True)
def forward(tokens, train):
    b, s = tokens.shape
    x = p["tok"][tokens] + p["pos"][:s]
    mask = torch.triu(torch.ones(s, s, dtype=torch.bool), 1)
    for l in range(L):
        n = F.layer_norm(x, (D,), p[f"{l}ln1_g"], p[f"{l}ln1_b"], 1e-5)
        q, k, v = (n @ p[f"{l}w{c}"] for c in "qkv")
        q, k, v = (t.view(b, s, H, D // H).transpose(1, 2) for t in (q, k, v))
        a = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
        a = a.masked_fill(mask, float("-inf")).softmax(-1)
        o = (a @ v).transpose(1, 2).reshape(b, s, D) @ p[f"{l}wo"] + p[f"{l}bo"]
        x = x + F.dropout(o, 0.1, train)
        n = F.layer_norm(x, (D,), p[f"{l}ln2_g"], p[f"{l}ln2_b"], 1e-5)
        f = F.gelu(n @ p[f"{l}w1"] + p[f"{l}b1"]) @ p[f"{l}w2"] + p[f"{l}b2"]
        x = x + F.dropout(f, 0.1, train)
    x = F.layer_norm(x, (D,), p["lnf_g"], p["lnf_b"], 1e-5)
    return x @ p["head"]
opt = torch.optim.AdamW(p.values(), lr=2e-3, weight_decay=0.01)
seconds, losses = 0.0, []
for epoch in range(epochs):
    t0 = time.process_time(), time.perf_counter()
    order = torch.randperm(len(xt))
    for i in range(0, len(xt), 16):
        idx = order[i:i + 16]
        loss = F.cross_entropy(forward(xt[idx], True).reshape(-1, V), yt[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds += time.perf_counter() - t0[1]
    with torch.no_grad():
        total = 0.0
        for i in range(0, len(xv), 16):
            logits = forward(xv[i:i + 16], False)
            total += F.cross_entropy(logits.reshape(-1, V), yv[i:i + 16].reshape(-1),
                                     reduction="sum").item()
        losses.append(total / yv.numel())
print(json.dumps({"val_loss": losses, "seconds": seconds}))
"""


def mha_train(epochs, threads, workdir):
    log = os.path.join(workdir, "gpt.csv")
    save = os.path.join(workdir, "gpt.safetensors")
    out = subprocess.run(
        [MHA_RUN, MODEL, "--train", "--epochs", str(epochs), "--threads",
         str(threads), "--log", log, "--save", save, "--no-cache"],
        capture_output=True, text=True)
    if out.returncode:
        sys.exit("mha-run --train failed:\n" + out.stderr)
    compile_s = float(re.search(r"compiled the training step in ([0-9.]+) s",
                                out.stderr).group(1))
    rows = list(csv.DictReader(open(log)))
    return ([float(r["val_loss"]) for r in rows],
            sum(float(r["seconds"]) for r in rows), compile_s, save)


def tokens_per_second(model, params, tokens, threads, cache, workdir):
    cmd = [MHA_RUN, model, "--generate", "--prompt", "This License",
           "--max-tokens", str(tokens), "--temperature", "0.8", "--top-k", "40",
           "--threads", str(threads)]
    if params:
        cmd += ["--params", params]
    if not cache:
        cmd.append("--no-kv-cache")
    env = dict(os.environ, MHA_CACHE_DIR=os.path.join(workdir, "cache"))
    # Sampled bytes need not be UTF-8.
    out = subprocess.run(cmd, capture_output=True, encoding="latin-1", env=env)
    if out.returncode:
        sys.exit("mha-run --generate failed:\n" + out.stderr)
    return float(re.search(r"([0-9.]+) tokens/s", out.stderr).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--long-context", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        mha_losses, mha_s, compile_s, params = mha_train(args.epochs,
                                                         args.threads, workdir)
        torch_out = bench_common.run_torch_json(
            TORCH_CODE, [TEXT, args.epochs, args.threads], args.threads)
        torch_losses, torch_s = torch_out["val_loss"], torch_out["seconds"]
        print(f"GPT training, {args.epochs} epochs, {args.threads} thread(s), "
              f"GPL-3 in windows of 64 bytes:")
        print("| | final val loss (nats/byte) | best (epoch) | training time (s) |")
        print("| --- | --- | --- | --- |")
        for name, losses, seconds in (("mha", mha_losses, mha_s),
                                      ("PyTorch", torch_losses, torch_s)):
            best = min(range(len(losses)), key=lambda i: losses[i])
            print(f"| {name} | {losses[-1]:.3f} | {losses[best]:.3f} ({best + 1}) "
                  f"| {seconds:.1f} |")
        print(f"mha compiled the training step in {compile_s:.1f} s (not counted); "
              f"PyTorch / mha training time: {torch_s / mha_s:.2f}x")

        long_model = os.path.join(workdir, "gpt_long.mlir")
        with open(MODEL) as f:
            text = f.read().replace("tensor<64x128xf32>",
                                    f"tensor<{args.long_context}x128xf32>")
        with open(long_model, "w") as f:
            f.write(text)
        print(f"\nGeneration ({args.tokens} tokens, {args.threads} thread(s)), "
              "tokens/s:")
        print("| model | with the cache | recomputing the prefix | speedup |")
        print("| --- | --- | --- | --- |")
        for name, model, p, n in (
                ("trained, context 64", MODEL, params, args.tokens),
                (f"context {args.long_context}", long_model, None,
                 args.long_context - len("This License"))):
            with_cache = tokens_per_second(model, p, n, args.threads, True, workdir)
            without = tokens_per_second(model, p, n, args.threads, False, workdir)
            print(f"| {name} ({n} tokens) | {with_cache:.0f} | {without:.0f} | "
                  f"{with_cache / without:.1f}x |")


if __name__ == "__main__":
    main()
