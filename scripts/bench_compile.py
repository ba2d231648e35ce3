"""First compilation of a model's training step: how long `mha-run --train`
takes from the model file to code ready to run, without the cache of
compiled code, per phase (`--time-compilation`), repeated.

    scripts/bench_compile.sh [--rounds 5] [--threads 0,1] [--model M] [--seq-len 64]

Prints, per thread count, the wall time of the whole compilation (what
mha-run prints as "compiled the training step in X s") and of its phases,
mean [min-max] over the rounds, and the process CPU time of each run. The
thread count is mha-run's --threads: 0 (every core) also compiles in as many
parts at once."""
import argparse
import os
import re
import resource
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MHA_RUN = os.path.join(ROOT, "build", "bin", "mha-run")

TOTAL = re.compile(r"compiled the training step in ([0-9.]+) s")
PHASES = re.compile(r"compilation: MLIR lowering and translation ([0-9.]+) s, "
                    r"LLVM optimization and machine code ([0-9.]+) s "
                    r"\(in ([0-9]+) parts?(?: at once)?, ([0-9]+) bytes of objects\)")


def run_once(model, threads, seq_len, scratch):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [MHA_RUN, model, "--train", "--epochs", "1", "--samples", "64",
         "--seq-len", str(seq_len), "--threads", str(threads), "--no-cache",
         "--time-compilation", "--save", os.path.join(scratch, "w.safetensors")],
        capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode:
        sys.exit("mha-run failed:\n" + out.stderr)
    total, phases = TOTAL.search(out.stderr), PHASES.search(out.stderr)
    if not total or not phases:
        sys.exit("no compilation times in mha-run's output:\n" + out.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"total": float(total.group(1)), "mlir": float(phases.group(1)),
            "llvm": float(phases.group(2)), "parts": int(phases.group(3)),
            "bytes": int(phases.group(4)), "cpu": cpu}


def summary(values):
    return "%.2f [%.2f-%.2f]" % (sum(values) / len(values), min(values), max(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", default="0,1")
    parser.add_argument("--model", default=os.path.join(ROOT, "examples", "seed_classifier.mlir"))
    parser.add_argument("--seq-len", type=int, default=64)
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    scratch = os.environ.get("TMPDIR", "/tmp")
    results = {t: [] for t in threads}
    # Interleaved: thread counts alternate within each round.
    for r in range(args.rounds):
        for t in threads:
            results[t].append(run_once(args.model, t, args.seq_len, scratch))
    print("model: %s, %d rounds, wall seconds mean [min-max]" %
          (os.path.relpath(args.model, ROOT), args.rounds))
    print("| --threads | parts | compile (wall) | MLIR lowering | LLVM opt + code | process CPU | object bytes |")
    print("|---|---|---|---|---|---|---|")
    for t in threads:
        rs = results[t]
        print("| %d | %d | %s | %s | %s | %s | %d |" % (
            t, rs[0]["parts"], summary([x["total"] for x in rs]),
            summary([x["mlir"] for x in rs]), summary([x["llvm"] for x in rs]),
            summary([x["cpu"] for x in rs]), rs[0]["bytes"]))


if __name__ == "__main__":
    main()
