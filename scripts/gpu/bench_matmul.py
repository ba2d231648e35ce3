#!/usr/bin/env python3
"""A dense layer's matrix product on the GPU: mha-run --device gpu
--gpu-tensor-cores (the tensor-core matmul kernel, mha.gpu_matmul; in f32
the tiled CUDA-core kernel, --gpu-f32-matmuls tiled) against torch.matmul
on the same GPU (cuBLAS; in f32 without TF32, which rounds the operands to
10 bits), side by side (device-check.sh). The dtype tf32 is f32 operands
on tensor cores rounded to TF32: mha-run --gpu-f32-matmuls tf32 against
torch.matmul with torch.backends.cuda.matmul.allow_tf32.

  bench_matmul.py MHA_RUN WORKDIR [--rows 16384] [--sizes 1024 2048 4096]
                  [--dtypes bf16 f16 f32 tf32] [--layouts nn tn nt]
                  [--no-tensor-cores]

Each case is one of a dense layer's products, K = N = each size, in the
dtype (f32 accumulation; the result rounded to the dtype):
  nn  the forward, `mha.dense %x, %w`: x [rows, K] · w [K, N];
  tn  the weight's gradient, `mha.dense_weight_grad %x, %dy`: xᵀ · dy, x
      [rows, K] and dy [rows, N] read in place (the kernel's lhs_transposed);
  nt  the input's gradient, `mha.dense %dy, (mha.transpose %w)`: dy · wᵀ,
      w [K, N] read in place (rhs_transposed).
Each is 2·rows·K·N flops. mha:
timed by mha-run --repeat 5, the median of the kernels' own GPU time (CUDA
events around each launch: the product's kernel and the rounding of its f32
result to the dtype) and of the whole call (with the copies of the inputs
to the device and of the result back). PyTorch: torch.matmul of the same
shapes and dtype on the device (cuBLAS; its result already in the dtype),
CUDA events, median of 10 after 3 warm-ups. TFLOP/s: 2·rows·K·N / time.
"""
import argparse
import os
import re
import subprocess
import sys


def torch_time(rows, k, n, dtype, layout, tf32=False):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    x = torch.randn(rows, k, device="cuda", dtype=dtype)
    w = torch.randn(k, n, device="cuda", dtype=dtype)
    dy = torch.randn(rows, n, device="cuda", dtype=dtype)
    product = {"nn": lambda: torch.matmul(x, w),
               "tn": lambda: torch.matmul(x.t(), dy),
               "nt": lambda: torch.matmul(dy, w.t())}[layout]
    for _ in range(3):
        product()
    times = []
    for _ in range(10):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        product()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def model_text(rows, k, n, dtype, layout):
    def t(*dims):
        return "tensor<%s>" % "x".join([str(d) for d in dims] + [dtype])
    x, w, dy = t(rows, k), t(k, n), t(rows, n)
    if layout == "nn":
        return ("func.func @f(%%x: %s, %%w: %s) -> %s {\n"
                "  %%y = mha.dense %%x, %%w : %s, %s\n"
                "  return %%y : %s\n}\n" % (x, w, dy, x, w, dy))
    if layout == "tn":
        return ("func.func @f(%%x: %s, %%dy: %s) -> %s {\n"
                "  %%y = mha.dense_weight_grad %%x, %%dy : %s, %s\n"
                "  return %%y : %s\n}\n" % (x, dy, w, x, dy, w))
    return ("func.func @f(%%dy: %s, %%w: %s) -> %s {\n"
            "  %%wt = mha.transpose %%w perm = [1, 0] : %s\n"
            "  %%y = mha.dense %%dy, %%wt : %s, %s\n"
            "  return %%y : %s\n}\n" % (dy, w, x, w, dy, t(n, k), x))


def mha_time(mha_run, work, rows, k, n, dtype, layout, extra):
    model = os.path.join(work, "dense_%s_%d_%d_%d_%s.mlir" %
                         (layout, rows, k, n, dtype))
    if dtype == "tf32":
        dtype, extra = "f32", extra + ["--gpu-f32-matmuls", "tf32"]
    else:
        extra = extra + ["--gpu-f32-matmuls", "tiled"]
    with open(model, "w") as f:
        f.write(model_text(rows, k, n, dtype, layout))
    proc = subprocess.run([mha_run, model, "--device", "gpu", "--repeat", "5"]
                          + extra, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    call = re.search(r"median time per run: ([0-9.]+) ms", text)
    kernels = re.search(r"median GPU kernel time per run: ([0-9.]+) ms", text)
    if proc.returncode != 0 or not call or not kernels:
        return None, text[-600:]
    return (float(call.group(1)) / 1e3, float(kernels.group(1)) / 1e3), ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mha_run")
    parser.add_argument("work")
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[1024, 2048, 4096])
    parser.add_argument("--dtypes", nargs="+", default=["bf16"],
                        choices=["bf16", "f16", "f32", "tf32"])
    parser.add_argument("--layouts", nargs="+", default=["nn", "tn", "nt"],
                        choices=["nn", "tn", "nt"])
    parser.add_argument("--no-tensor-cores", action="store_true",
                        help="mha-run without --gpu-tensor-cores (the "
                             "CUDA-core loops)")
    args = parser.parse_args()
    import torch
    torch_dtypes = {"bf16": torch.bfloat16, "f16": torch.float16,
                    "f32": torch.float32, "tf32": torch.float32}
    # f32 products in f32 (TF32 off: the same arithmetic as mha's CUDA-core
    # kernel), tf32 ones with TF32 on (as mha's --gpu-f32-matmuls tf32).
    os.makedirs(args.work, exist_ok=True)
    extra = []
    if not args.no_tensor_cores:
        extra.append("--gpu-tensor-cores")
    print("dense layer products, %d rows, mha-run %s" % (
        args.rows, " ".join(extra)))
    print("| product | K = N | dtype | mha call (ms) | mha kernels (ms) "
          "| mha TFLOP/s | torch.matmul (ms) | torch TFLOP/s | mha / torch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        for layout in args.layouts:
            for dtype in args.dtypes:
                flops = 2.0 * args.rows * size * size
                mine, err = mha_time(args.mha_run, args.work, args.rows, size,
                                     size, dtype, layout, extra)
                theirs = torch_time(args.rows, size, size,
                                    torch_dtypes[dtype], layout,
                                    tf32=dtype == "tf32")
                if mine is None:
                    print("| %s | %d | %s | failed: %s |" % (
                        layout, size, dtype, err.replace("\n", " ")))
                else:
                    call, kernels = mine
                    print("| %s | %d | %s | %.2f | %.3f | %.1f | %.3f | %.1f "
                          "| %.3f |" % (layout, size, dtype, call * 1e3,
                                        kernels * 1e3, flops / kernels / 1e12,
                                        theirs * 1e3, flops / theirs / 1e12,
                                        theirs / kernels))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
