#!/usr/bin/env python3
"""Attention on the GPU: mha-run --device gpu against PyTorch's
scaled_dot_product_attention on the same GPU, side by side (device-check.sh).

  bench_attention.py MHA_RUN WORKDIR [S ...]

Shapes: B*S = 16k, H*D = 2048 (issue 12), D = 64 and 128, causal or not.
mha: f32, the model file's attention through mha-lower-to-gpu, timed by
mha-run --repeat (median of the calls, each including the copies of Q, K, V
to the device and of the result back). PyTorch: bf16 and f32, CUDA events,
median of 10 after 3 warm-ups, the same shapes. TFLOP/s with the
FlashAttention convention: forward 4*B*H*S*S*D, halved when causal.
"""
import os
import re
import subprocess
import sys


def torch_time(b, h, s, d, causal, dtype):
    import torch
    q, k, v = (torch.randn(b, h, s, d, device="cuda", dtype=dtype) for _ in range(3))
    f = torch.nn.functional.scaled_dot_product_attention
    for _ in range(3):
        f(q, k, v, is_causal=causal)
    times = []
    for _ in range(10):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        f(q, k, v, is_causal=causal)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def mha_time(mha_run, work, b, h, s, d, causal):
    t = "tensor<%dx%dx%dx%dxf32>" % (b, h, s, d)
    model = os.path.join(work, "attn_%d_%d_%d_%d_%d.mlir" % (b, h, s, d, causal))
    with open(model, "w") as f:
        f.write("func.func @f(%%q: %s, %%k: %s, %%v: %s) -> %s {\n"
                "  %%o = mha.attention %%q, %%k, %%v%s : %s, %s, %s\n"
                "  return %%o : %s\n}\n" % (t, t, t, t, " causal" if causal else "",
                                          t, t, t, t))
    proc = subprocess.run([mha_run, model, "--device", "gpu", "--repeat", "5"],
                          capture_output=True, text=True)
    m = re.search(r"median time per run: ([0-9.]+) ms", proc.stdout + proc.stderr)
    if proc.returncode != 0 or not m:
        return None, (proc.stderr or proc.stdout)[-600:]
    return float(m.group(1)) / 1e3, ""


def main(mha_run, work, lengths):
    os.makedirs(work, exist_ok=True)
    print("| S | D | causal | mha f32 (ms) | mha TFLOP/s | SDPA f32 (ms) | SDPA bf16 (ms) | SDPA bf16 TFLOP/s | mha / SDPA bf16 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in lengths:
        for d in (64, 128):
            for causal in (False, True):
                b, h = 16384 // s, 2048 // d
                flops = 4.0 * b * h * s * s * d / (2 if causal else 1)
                mine, err = mha_time(mha_run, work, b, h, s, d, causal)
                t32 = torch_time(b, h, s, d, causal, __import__("torch").float32)
                t16 = torch_time(b, h, s, d, causal, __import__("torch").bfloat16)
                if mine is None:
                    print("| %d | %d | %s | failed: %s |" % (s, d, causal, err.replace("\n", " ")))
                else:
                    print("| %d | %d | %s | %.2f | %.2f | %.3f | %.3f | %.0f | %.4f |" % (
                        s, d, causal, mine * 1e3, flops / mine / 1e12, t32 * 1e3,
                        t16 * 1e3, flops / t16 / 1e12, t16 / mine))
                sys.stdout.flush()


if __name__ == "__main__":
    lengths = [int(x) for x in sys.argv[3:]] or [512, 2048]
    main(sys.argv[1], sys.argv[2], lengths)
