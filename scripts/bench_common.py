"""What the side-by-side benchmark scripts share: running one of
mha-benchmarks' cases, running PyTorch with a stated thread count and a real
BLAS, and summarizing rounds."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "benchmarks", "mha-benchmarks")


def torch_env(threads):
    """PyTorch's environment: OpenBLAS and OpenMP at `threads`, and none of
    the OpenBLAS overrides that would make it pick a slower kernel."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def run_torch_json(code, args, threads):
    """Runs `code` under /usr/bin/python3 with `args`; returns the JSON object
    it prints last."""
    out = subprocess.run(["/usr/bin/python3", "-c", code] + [str(a) for a in args],
                         capture_output=True, text=True, env=torch_env(threads))
    if out.returncode:
        sys.exit("PyTorch run failed:\n" + out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_torch(code, args, threads):
    """Runs `code` under /usr/bin/python3 with `args`; it prints a JSON
    object with "gflops" last."""
    return run_torch_json(code, args, threads)["gflops"]


def run_mha(filt):
    """GFLOP/s and fraction of the single-core peak of the one
    mha-benchmarks case matching `filt`."""
    out = subprocess.run([BENCH, "--benchmark_filter=" + filt,
                          "--benchmark_min_time=1", "--benchmark_format=json"],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit("mha-benchmarks failed:\n" + out.stderr)
    runs = json.loads(out.stdout)["benchmarks"]
    if not runs:
        sys.exit("no benchmark matched " + filt)
    return runs[0]["GFLOP/s"], runs[0]["peak_frac"]


def stats(xs):
    """Mean, minimum and maximum."""
    return sum(xs) / len(xs), min(xs), max(xs)
