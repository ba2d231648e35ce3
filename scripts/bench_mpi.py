#!/usr/bin/python3
"""Data-parallel training over MPI on this machine: the seed classifier
(examples/seed_classifier.mlir, global batch 32) trained by one process on
one thread, by `mpirun -np 2` (two ranks, one thread each, each batch split
16 + 16) and, for reference, by one process on two OpenMP threads; the runs
interleaved A, B, C, repeated.

  scripts/bench_mpi.sh [--rounds N] [--seqs 64,256] [--epochs E]

Each figure is training examples per second over epochs 2..E (wall time the
runner measures per epoch, validation included; compilation excluded: the
compile cache is warmed first), the mean over rounds with its spread
(min-max), and the speedup over one process on one thread.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

from bench_common import ROOT, stats

MHA_RUN = os.path.join(ROOT, "build", "bin", "mha-run")
MODEL = os.path.join(ROOT, "examples", "seed_classifier.mlir")
BATCH = 32


def train(launcher, threads, seq, samples, epochs, work, env):
    log = os.path.join(work, "log.csv")
    cmd = launcher + [MHA_RUN, MODEL, "--train", "--seq-len", str(seq),
                      "--samples", str(samples), "--batch-size", str(BATCH),
                      "--epochs", str(epochs), "--validation-split", "0.1",
                      "--save", os.path.join(work, "w.safetensors"),
                      "--log", log]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit("training failed: %s\n%s" % (" ".join(cmd), out.stderr))
    with open(log) as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["seconds"]) for r in rows[1:])
    train_examples = samples - int(samples * 0.1)
    return train_examples * (len(rows) - 1) / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seqs", default="64,256")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    env = dict(os.environ)
    env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1",
                "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
    mpirun = ["mpirun", "--oversubscribe", "-np", "2"]
    configs = [("1 process, 1 thread", [], 1),
               ("2 ranks, 1 thread each", mpirun, 0),
               ("1 process, 2 threads", [], 2)]
    print("seed classifier training, global batch %d, %d cores (nproc)" %
          (BATCH, os.cpu_count()))
    with tempfile.TemporaryDirectory() as work:
        env["MHA_CACHE_DIR"] = os.path.join(work, "cache")
        for seq in [int(s) for s in args.seqs.split(",")]:
            samples = BATCH * max(8, 4096 // seq)
            # Warm the compile cache (both step forms).
            for name, launcher, threads in configs:
                train(launcher, threads, seq, samples, 2, work, env)
            rates = {name: [] for name, _, _ in configs}
            for _ in range(args.rounds):
                for name, launcher, threads in configs:
                    rates[name].append(train(launcher, threads, seq, samples,
                                             args.epochs, work, env))
            base = stats(rates[configs[0][0]])[0]
            print("S=%d (%d examples per epoch):" % (seq, samples))
            for name, _, _ in configs:
                mean, lo, hi = stats(rates[name])
                print("  %-24s %8.1f examples/s (%.1f-%.1f)  %.2fx" %
                      (name, mean, lo, hi, mean / base))


if __name__ == "__main__":
    main()
