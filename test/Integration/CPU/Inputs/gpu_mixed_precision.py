#!/usr/bin/env python3
"""Checks mha-run --precision bf16 on the GPU path (here --device
gpu-emulated): as on the CPU, every matrix product on the bf16 roundings of
its f32 operands with f32 accumulation (by the tensor-core matmul kernel
with --gpu-tensor-cores), and attention, forward and backward, likewise (by
the tensor-core attention kernels); everything else in f32.

  gpu_mixed_precision.py MHA_RUN WORKDIR

* Inference of examples/gpt.mlir (causal attention of depth 32, 4 heads, 2
  layers) on tokens [2, 40] against the CPU's f32 run: its logits within
  3e-2 of their largest magnitude. Rounding an operand to bf16 (8 bits of
  precision) moves it by at most 2^-8 (3.9e-3) relative; each product's
  result then moves by about that much (the errors of a sum of products
  partly cancel), and the two layers' products (projections, attention,
  feed-forward, the output head: about ten in sequence) add up (measured:
  1.0e-2). The bf16 run must also differ from the f32 one (the rounding
  really happens), and the tensor-core kernels agree with the CUDA-core
  loops on the same bf16 operands within 2e-2: both accumulate in f32, but
  the tensor-core attention also rounds the probabilities and its output
  to bf16 (2^-8 relative each, in each layer), and a difference that moves
  an activation across a bf16 rounding boundary changes the next product's
  operand by a whole bf16 step (measured 7e-3).
* One epoch of the seed classifier's training (attention of depth 64, 8
  heads, over 16 positions; 16 examples in batches of 8) against the CPU's
  f32 run: the run says it is mixed, and its final loss is within 2e-2 of
  the f32 one (two Adam steps of 1e-3 from the same initialization).
Exit status 1 on any failure.
"""
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
SEED = os.path.join(ROOT, "examples", "seed_classifier.mlir")
GPT = os.path.join(ROOT, "examples", "gpt.mlir")
BOUND, TC_BOUND = 3e-2, 2e-2


def run(mha_run, model, args):
    done = subprocess.run([mha_run, model, "--no-cache"] + args,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("mha-run %s exited %d: %s" % (
            " ".join(args), done.returncode, done.stderr[-2000:]))
    return done.stdout + done.stderr


def main(mha_run, work):
    os.makedirs(work, exist_ok=True)
    failures = 0
    tokens = os.path.join(work, "tokens.npy")
    npy.write(tokens, "i8", "2x40",
              ",".join(str((i * 37) % 256) for i in range(2 * 40)))
    outputs = {}
    runs = {"f32": ["--device", "cpu"],
            "bf16": ["--device", "gpu-emulated", "--precision", "bf16",
                     "--gpu-tensor-cores"],
            "bf16_rows": ["--device", "gpu-emulated", "--precision", "bf16"]}
    for name, args in runs.items():
        out = os.path.join(work, name)
        run(mha_run, GPT, ["--input", "tokens=" + tokens, "--output", out] +
            args)
        outputs[name] = npy.read(os.path.join(out, "result0.npy"))

    largest = npy.worst(abs(v) for v in outputs["f32"])

    def worst(a, b):
        # (NaN where the f32 results hold one: largest is infinite.)
        if math.isinf(largest):
            return math.nan
        return npy.worst(abs(p - q)
                         for p, q in zip(outputs[a], outputs[b])) / largest

    checks = [("bf16 vs f32", worst("bf16", "f32"), BOUND),
              ("tensor cores vs per-row kernels", worst("bf16", "bf16_rows"),
               TC_BOUND)]
    for what, value, bound in checks:
        ok = value <= bound
        failures += not ok
        print("%s %s: max difference %.2g of the largest logit (bound %g)" % (
            "ok" if ok else "FAIL", what, value, bound))
    if worst("bf16", "f32") == 0:
        failures += 1
        print("FAIL bf16 equals f32: nothing was rounded")
    else:
        print("ok bf16 differs from f32")

    data, labels = os.path.join(work, "tx.npy"), os.path.join(work, "ty.npy")
    npy.write(data, "f4", "16x16x16",
              ",".join(repr(((i * 53) % 89 - 44) / 47.3)
                       for i in range(16 * 16 * 16)))
    npy.write(labels, "f4", "16x1", ",".join(str(i % 2) for i in range(16)))
    loss = {}
    for name, args in (("f32", ["--device", "cpu"]),
                       ("bf16", runs["bf16"][:])):
        log = run(mha_run, SEED, ["--train", "--data", data, "--labels", labels,
                            "--epochs", "1", "--batch-size", "8", "--save",
                            os.path.join(work, name + ".safetensors")] + args)
        if name == "bf16" and "mixed precision: bf16 matrix products and attention" not in log:
            failures += 1
            print("FAIL the bf16 run does not say it is mixed: %s" % log[-500:])
        found = re.findall(r"epoch 1/1: loss ([0-9.]+)", log)
        loss[name] = float(found[-1]) if found else None
    ok = None not in loss.values() and abs(loss["f32"] - loss["bf16"]) <= 2e-2
    failures += not ok
    print("%s training: final loss %s (f32, CPU) and %s (mixed bf16)" % (
        "ok" if ok else "FAIL", loss["f32"], loss["bf16"]))
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
