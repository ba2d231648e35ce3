#!/usr/bin/env python3
"""The example models on the GPU against the CPU (device-check.sh).

  compare_models.py MHA_RUN WORKDIR

Each model's forward runs on random inputs (mha-run's, seed 0) with
--device cpu and --device gpu; every result is compared elementwise by
|gpu - cpu| / (1 + |cpu|). Both compute in f32; the GPU's decomposition sums
in a different order than the CPU's tiled, vectorized code and uses
libdevice's exp/tanh/erf: a few ulps per reduction step, so the bound is
1e-4 for the reductions over a few thousand terms these models have. Then
the seed classifier trains for its 20 epochs on each device and both final
validation accuracies are printed.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "test", "Integration"))
import npy  # noqa: E402

TOLERANCE = 1e-4
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

MODELS = [
    ("seed_classifier", "examples/seed_classifier.mlir", ["--dynamic-size", "7"]),
    ("encoder_block", "examples/encoder_block.mlir", ["--dynamic-size", "5"]),
    ("bag_of_tokens", "examples/bag_of_tokens.mlir", ["--dynamic-size", "9"]),
    ("gpt", "examples/gpt.mlir", ["--dynamic-size", "6"]),
]


def run(mha_run, args):
    start = time.time()
    proc = subprocess.run([mha_run] + args, capture_output=True, text=True)
    return proc, time.time() - start


def compare(mha_run, work, name, model, extra):
    outputs = {}
    for device in ("cpu", "gpu"):
        outdir = os.path.join(work, "%s_%s" % (name, device))
        proc, _ = run(mha_run, [os.path.join(ROOT, model), "--device", device,
                                "--output", outdir] + extra)
        if proc.returncode != 0:
            return "mha-run --device %s exited %d: %s" % (
                device, proc.returncode, proc.stderr[-1500:])
        files = sorted(f for f in os.listdir(outdir) if f.endswith(".npy"))
        outputs[device] = [npy.read(os.path.join(outdir, f)) for f in files]
    worst = 0.0
    for got, want in zip(outputs["gpu"], outputs["cpu"]):
        if len(got) != len(want):
            return "result sizes differ"
        for g, w in zip(got, want):
            if g != g:
                return "NaN in the GPU's results"
            worst = max(worst, abs(g - w) / (1 + abs(w)))
    return worst


def train(mha_run, device):
    proc, seconds = run(mha_run, [os.path.join(ROOT, "examples/seed_classifier.mlir"),
                                  "--train", "--device", device, "--save",
                                  os.path.join("/tmp", "seed_%s.safetensors" % device)])
    if proc.returncode != 0:
        return "exited %d: %s" % (proc.returncode, proc.stderr[-1500:])
    last = [l for l in proc.stdout.splitlines() if l.startswith("epoch")]
    first_line = proc.stdout.splitlines()[0] if proc.stdout else ""
    return "%s | %s | %.1f s in all" % (first_line, last[-1] if last else "no epochs",
                                       seconds)


def main(mha_run, work):
    os.makedirs(work, exist_ok=True)
    failures = 0
    for name, model, extra in MODELS:
        result = compare(mha_run, work, name, model, extra)
        if isinstance(result, str) or result > TOLERANCE:
            failures += 1
            print("FAIL %s: %s" % (name, result if isinstance(result, str)
                                   else "max relative difference %.3g" % result))
        else:
            print("ok %s: max relative difference %.2g" % (name, result))
        sys.stdout.flush()
    for device in ("cpu", "gpu"):
        print("train seed classifier on %s: %s" % (device, train(mha_run, device)))
        sys.stdout.flush()
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
