#!/usr/bin/env python3
"""Attention on the GPU: mha-run --device gpu against PyTorch's
scaled_dot_product_attention on the same GPU, side by side (device-check.sh).

  bench_attention.py MHA_RUN WORKDIR [--lengths 512 2048 ...] [--dims 64 128]
                     [--dtypes f32 bf16 tf32] [--backward] [--tensor-cores]

Shapes: B*S = 16k, H*D = 2048 (issue 12), causal or not. mha: the model
file's mha.attention (with --backward, mha.attention_with_lse then
mha.attention_grad) through mha-lower-to-gpu, timed by mha-run --repeat 5
(median of the calls, each including the copies of the inputs to the device
and of the results back, and the median of the kernels' own GPU time,
which mha-run measures with CUDA events around each launch when it repeats
a call on the GPU). PyTorch: SDPA in the same dtype, and in bf16,
CUDA events, median of 10 after 3 warm-ups (with --backward: forward, then
backward of the output's sum). TFLOP/s with the FlashAttention convention:
forward 4*B*H*S*S*D, halved when causal; forward+backward 3.5x that.
With --tensor-cores, mha-run also gets --gpu-tensor-cores (f16/bf16
attention by the tensor-core kernels: the forward, and the backward at
depths up to 128; f32 is unchanged). The dtype tf32 is f32 attention with
mha-run --gpu-f32-matmuls tf32 (the tensor-core kernels on TF32 roundings:
the forward, and the backward at depths up to 80) against SDPA in f32 with
PyTorch's allow_tf32 set (matmul and cuDNN).
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys

# The model's element type, and mha-run's extra flags, per dtype.
DTYPES = {"f32": ("f32", []), "bf16": ("bf16", []),
          "tf32": ("f32", ["--gpu-f32-matmuls", "tf32"])}


@contextlib.contextmanager
def torch_tf32(allowed):
    """PyTorch's TF32 switches (matmul and cuDNN) set for one measurement,
    and restored after it."""
    import torch
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = saved


def torch_time(b, h, s, d, causal, dtype, backward, tf32=False):
    with torch_tf32(tf32):
        return torch_median(b, h, s, d, causal, dtype, backward)


def torch_median(b, h, s, d, causal, dtype, backward):
    import torch
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=dtype,
                           requires_grad=backward) for _ in range(3))
    f = torch.nn.functional.scaled_dot_product_attention

    def step():
        o = f(q, k, v, is_causal=causal)
        if backward:
            o.sum().backward()

    for _ in range(3):
        step()
    times = []
    for _ in range(10):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def model_text(b, h, s, d, causal, dtype, backward):
    t = "tensor<%dx%dx%dx%dx%s>" % (b, h, s, d, dtype)
    lse = "tensor<%dx%dx%dxf32>" % (b, h, s)
    attr = " causal" if causal else ""
    if not backward:
        return ("func.func @f(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
                "  %%o = mha.attention %%q, %%k, %%v%s : %s, %s, %s\n"
                "  return %%o : %s\n}\n" % (t, t, t, t, attr, t, t, t, t))
    return ("func.func @f(%%q: %s, %%k: %s, %%v: %s, %%do: %s) -> (%s, %s, %s) {\n"
            "  %%o, %%l = mha.attention_with_lse %%q, %%k, %%v%s : %s, %s, %s\n"
            "  %%g:3 = mha.attention_grad %%q, %%k, %%v, %%o, %%l, %%do%s"
            " : %s, %s, %s, %s, %s\n"
            "  return %%g#0, %%g#1, %%g#2 : %s, %s, %s\n}\n" % (
                t, t, t, t, t, t, t, attr, t, t, t, attr, t, t, t, t, lse,
                t, t, t))


def mha_time(mha_run, work, b, h, s, d, causal, dtype, backward, extra):
    element, flags = DTYPES[dtype]
    model = os.path.join(work, "attn_%d_%d_%d_%d_%d_%s_%d.mlir" % (
        b, h, s, d, causal, dtype, backward))
    with open(model, "w") as f:
        f.write(model_text(b, h, s, d, causal, element, backward))
    proc = subprocess.run([mha_run, model, "--device", "gpu", "--repeat", "5"]
                          + extra + flags,
                          capture_output=True, text=True)
    m = re.search(r"median time per run: ([0-9.]+) ms", proc.stdout + proc.stderr)
    k = re.search(r"median GPU kernel time per run: ([0-9.]+) ms",
                  proc.stdout + proc.stderr)
    if proc.returncode != 0 or not m or not k:
        return None, (proc.stderr or proc.stdout)[-600:]
    return (float(m.group(1)) / 1e3, float(k.group(1)) / 1e3), ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mha_run")
    parser.add_argument("work")
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--dtypes", nargs="+", default=["f32"],
                        choices=sorted(DTYPES))
    parser.add_argument("--backward", action="store_true")
    parser.add_argument("--tensor-cores", action="store_true")
    args = parser.parse_args()
    import torch
    torch_dtypes = {"f32": torch.float32, "bf16": torch.bfloat16,
                    "tf32": torch.float32}
    os.makedirs(args.work, exist_ok=True)
    what = "forward+backward" if args.backward else "forward"
    extra = ["--gpu-tensor-cores"] if args.tensor_cores else []
    print("%s, B*S = 16k, H*D = 2048%s" % (
        what, ", mha-run --gpu-tensor-cores" if extra else ""))
    print("mha (call): mha-run's call, with the copies of the inputs to the "
          "device and of the results back; mha (kernels): its kernels' own "
          "time on the GPU (CUDA events around each launch), which the "
          "ratios use, as PyTorch's inputs are already on the device.")
    print("| S | D | causal | dtype | mha call (ms) | mha kernels (ms) "
          "| mha TFLOP/s | SDPA same dtype (ms) | SDPA bf16 (ms) "
          "| SDPA bf16 TFLOP/s | mha / SDPA same dtype | mha / SDPA bf16 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in args.lengths:
        for d in args.dims:
            for causal in (False, True):
                for dtype in args.dtypes:
                    b, h = 16384 // s, 2048 // d
                    flops = 4.0 * b * h * s * s * d / (2 if causal else 1)
                    if args.backward:
                        flops *= 3.5
                    mine, err = mha_time(args.mha_run, args.work, b, h, s, d,
                                         causal, dtype, args.backward, extra)
                    same = torch_time(b, h, s, d, causal, torch_dtypes[dtype],
                                      args.backward, tf32=dtype == "tf32")
                    bf16 = torch_time(b, h, s, d, causal, torch.bfloat16,
                                      args.backward)
                    if mine is None:
                        print("| %d | %d | %s | %s | failed: %s |" % (
                            s, d, causal, dtype, err.replace("\n", " ")))
                    else:
                        call, kernels = mine
                        print("| %d | %d | %s | %s | %.2f | %.2f | %.2f | %.3f "
                              "| %.3f | %.0f | %.4f | %.4f |" % (
                                  s, d, causal, dtype, call * 1e3,
                                  kernels * 1e3, flops / kernels / 1e12,
                                  same * 1e3, bf16 * 1e3, flops / bf16 / 1e12,
                                  same / kernels, bf16 / kernels))
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
