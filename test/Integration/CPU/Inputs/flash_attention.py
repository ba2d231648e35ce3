#!/usr/bin/env python3
"""Checks the flash (fused, tiled) lowering of mha.attention,
mha.attention_with_lse and mha.attention_grad against the decomposition (the ops' reference
semantics), both through mha-run's default pipeline: the same model file, run
on every core (batch elements in parallel through OpenMP), on one thread
(--threads 1, sequential code), for some cases as AVX2 code
(--target-features=-avx512f), and with --decomposed-attention, on the same
inputs.

  flash_attention.py MHA_RUN WORKDIR [gpu | gpu-tensor-cores | gpu-emulated |
                                      gpu-emulated-tensor-cores | gpu-tf32 |
                                      gpu-emulated-tf32 | gpu-compile | tiled]

With `gpu` (on a machine with an NVIDIA GPU: Integration/GPU,
scripts/gpu/device-check.sh) or `gpu-emulated` (the GPU pipeline's mapped
loop nests run on the CPU) the variants are mha-run --device <that>
against the CPU's decomposition; `gpu-tensor-cores` runs the cases the
tensor-core kernel takes (tc_*) with mha-run --device gpu --gpu-tensor-cores
against it, and `gpu-emulated-tensor-cores` the same with the kernel emulated
on the CPU (--device gpu-emulated: each block's threads as vector lanes).
`gpu-tf32` and `gpu-emulated-tf32` likewise run the tf32_* cases (f32
operands) with --gpu-f32-matmuls tf32: the tensor-core forward on their
TF32 roundings. With `gpu-compile`, each model is only
compiled by mha-opt --mha-lower-to-gpu to sm_80 and sm_90a cubins (no GPU
needed; ptxas from the CUDA toolkit), the tc_* cases also with tensor-cores=1
(checking that the PTX holds the kernel's f16/bf16 mma.sync). With `tiled`, the model is first rewritten
by `mha-opt --mha-tile-attention` (attention tiled through the
TilingInterface of its tiled form, mha.online_attention, in blocks of 16
queries and 32 keys) and that is run against the decomposition.

Cases: S = 1, odd and unequal Sq != Sk, sizes that are not multiples of any
block and cross several blocks, D = 64 and 128, causal (with Sq != Sk too),
boolean, additive and key-padding masks, fully masked rows, large logits,
dynamic sizes, and the backward (dQ, dK, dV and an additive mask's gradient,
broadcast over queries, heads or batch), at lengths in the thousands, and
with bf16 operands. Tolerance on
|flash - reference| / (1 + |reference|): 2e-5. Both compute in f32 with
max-subtracted exponentials; they differ in the order of the sums over keys
(blockwise, with rescaling by exp(m_old - m_new), against one pass), which
moves results by a few ulps per block: measured below 3e-6. With logits 30
times larger (the large-logit cases) the same ulps of a score move the
probabilities 30 times more: 1e-4 there.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import npy  # noqa: E402

TOLERANCE = 2e-5


class Rng:
    def __init__(self, seed):
        self.state = seed * 2654435761 % 2**32 or 1

    def uniform(self):
        self.state = (1103515245 * self.state + 12345) % 2**31
        return self.state / 2**31 * 2 - 1


def tensor(dims, dtype="f32"):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in dims), dtype)


def case(name, b, h, sq, sk, d, dv, causal=False, mask=None, scale=None,
         logit=1.0, lse=False, dynamic=False, grad=False, avx2=False,
         dtype="f32", tolerance=None, mask_grad=True):
    """mask: None, ('bool', shape, fn) or ('add', shape, fn), fn(index
    tuple) -> value. mask_grad: with grad and an additive mask, whether the
    backward also returns the mask's gradient."""
    return dict(name=name, b=b, h=h, sq=sq, sk=sk, d=d, dv=dv, causal=causal,
                mask=mask, scale=scale, logit=logit, lse=lse, dynamic=dynamic,
                grad=grad, avx2=avx2, dtype=dtype,
                tolerance=tolerance or TOLERANCE, mask_grad=mask_grad)


CASES = [
    case("s1", 1, 2, 1, 1, 16, 16),
    case("odd_unequal", 2, 3, 37, 45, 16, 8),
    case("crosses_blocks_d64", 1, 2, 150, 130, 64, 64, avx2=True),
    case("d128", 1, 1, 97, 97, 128, 128),
    case("causal", 1, 2, 150, 150, 64, 64, causal=True, avx2=True),
    case("causal_unequal", 1, 2, 70, 150, 32, 32, causal=True),
    case("padding_mask", 2, 2, 90, 90, 32, 32,
         mask=("bool", (2, 1, 1, 90), lambda i: i[3] < (90 - 17 * i[0]))),
    case("additive_mask", 1, 2, 80, 100, 32, 32,
         mask=("add", (80, 100), lambda i: -0.05 * abs(i[0] - i[1]))),
    case("fully_masked_rows", 1, 2, 70, 70, 16, 16, causal=True,
         mask=("bool", (1, 2, 70, 70), lambda i: i[2] % 5 != 3)),
    # Scores 30 times larger: an error of a few ulps in a score (the dot
    # product summed in another order, as the GPU's rows do in a tree)
    # moves the probabilities 30 times more, hence 30 x 3e-6 ~ 1e-4.
    case("large_logits", 1, 2, 100, 100, 32, 32, logit=30.0, tolerance=1e-4),
    case("scale_and_lse", 2, 1, 75, 75, 24, 24, scale=0.3, lse=True,
         mask=("add", (75,), lambda i: -1e9 if i[0] % 7 == 0 else 0.0)),
    case("causal_lse", 1, 2, 66, 66, 16, 16, causal=True, lse=True),
    case("dynamic", 2, 2, 77, 77, 16, 16, dynamic=True),
    # The fused backward (attention_grad after attention_with_lse).
    case("grad_s1", 1, 1, 1, 1, 16, 16, grad=True),
    case("grad_crosses_blocks", 1, 2, 150, 130, 64, 48, grad=True),
    case("grad_causal_unequal", 1, 2, 70, 150, 32, 32, causal=True, grad=True,
         avx2=True),
    case("grad_causal_d128", 1, 1, 97, 97, 128, 128, causal=True, grad=True),
    case("grad_padding_mask", 2, 2, 90, 90, 32, 32, grad=True,
         mask=("bool", (2, 1, 1, 90), lambda i: i[3] < (90 - 17 * i[0]))),
    case("grad_fully_masked_rows", 1, 2, 70, 70, 16, 16, causal=True, grad=True,
         mask=("bool", (1, 2, 70, 70), lambda i: i[2] % 5 != 3)),
    case("grad_additive_mask", 1, 2, 80, 100, 32, 32, grad=True,
         mask=("add", (80, 100), lambda i: -0.05 * abs(i[0] - i[1]))),
    case("grad_bias_per_key", 2, 2, 75, 75, 24, 24, scale=0.3, grad=True,
         mask=("add", (75,), lambda i: -1e9 if i[0] % 7 == 0 else 0.1 * (i[0] % 3))),
    case("grad_bias_per_head", 2, 3, 40, 40, 16, 16, causal=True, grad=True,
         mask=("add", (1, 3, 1, 40), lambda i: -0.1 * i[1] * i[3] / 40.0)),
    case("grad_large_logits", 1, 2, 100, 100, 32, 32, logit=30.0, grad=True,
         tolerance=1e-4),
    case("grad_dynamic", 2, 2, 77, 77, 16, 16, dynamic=True, grad=True),
    case("grad_dynamic_rows", 2, 3, 45, 61, 16, 8, dynamic="rows", grad=True,
         causal=True),
    # Realistic lengths: thousands of keys, many blocks of every kind.
    case("long_causal_grad", 1, 2, 2048, 2048, 64, 64, causal=True, grad=True),
    case("long_padding", 2, 2, 1500, 1500, 64, 64,
         mask=("bool", (2, 1, 1, 1500), lambda i: i[3] < 1500 - 700 * i[0])),
    # bf16 operands (f32 .npy data rounded on input): both lowerings compute
    # in f32 and round the result once, so they differ by at most one bf16
    # ulp of the result (2^-8 relative): bound 1e-2.
    case("bf16_causal_grad", 1, 2, 300, 300, 64, 64, causal=True, grad=True,
         dtype="bf16", tolerance=1e-2),
    case("bf16_additive_mask", 1, 2, 200, 260, 64, 64, dtype="bf16",
         tolerance=1e-2,
         mask=("add", (200, 260), lambda i: -0.05 * abs(i[0] - i[1]))),
    # What the GPU's tensor-core kernel takes (--gpu-tensor-cores: f16 or
    # bf16, static depth a multiple of 16): rows and keys crossing its 64-row
    # blocks and 64-key tiles, causal with Sq != Sk, one row, dynamic batch
    # and lengths. The kernel also rounds the probabilities to bf16 before
    # P.V (the tensor cores' operands): 2^-9 relative per probability, a
    # weighted mean of values in [-1, 1] moving by at most that, plus the
    # result's own rounding (2^-9): under the 1e-2 bound of bf16 results.
    case("tc_s1", 1, 2, 1, 1, 16, 16, dtype="bf16", tolerance=1e-2),
    case("tc_odd", 2, 3, 37, 45, 32, 32, dtype="bf16", tolerance=1e-2),
    case("tc_causal_unequal", 1, 2, 70, 150, 64, 64, causal=True,
         dtype="bf16", tolerance=1e-2),
    case("tc_d128", 1, 2, 200, 131, 128, 128, dtype="bf16", tolerance=1e-2),
    case("tc_causal_long", 1, 2, 1030, 1030, 64, 64, causal=True, scale=0.2,
         dtype="bf16", tolerance=1e-2),
    case("tc_dynamic_rows", 2, 3, 45, 61, 16, 16, dynamic="rows",
         dtype="bf16", tolerance=1e-2),
    # f16 operands (the kernel's other mma.sync): one ulp of an f16 result
    # (2^-10 relative) plus the probabilities' rounding (2^-11): bound 2e-3.
    case("tc_f16_causal", 2, 2, 100, 77, 32, 32, causal=True, dtype="f16",
         tolerance=2e-3),
    # The forward of training (attention_with_lse: the log-sum-exp too, in
    # f32 from the f32 running max and sum; bound as above), and a training
    # pair whose forward the kernel computes and whose backward recomputes
    # the probabilities from its log-sum-exp.
    case("tc_lse_causal", 2, 2, 90, 90, 32, 32, causal=True, lse=True,
         dtype="bf16", tolerance=1e-2),
    case("tc_grad_causal", 1, 2, 150, 150, 64, 64, causal=True, grad=True,
         dtype="bf16", tolerance=1e-2),
    # The backward's own kernels (dQ over query blocks, dK and dV over key
    # blocks) round P and dS to the operands' type for their products
    # (dV = Pt.dO, dK = dSt.Q, dQ = dS.K): 2^-9 relative per term (bf16), in
    # sums over up to Sk terms of both signs, against 1 + |reference|;
    # measured under 4e-3 (bf16), bound 1e-2; f16 (2^-11 per term): 2e-3.
    # Blocks and tiles crossed with Sq < Sk and Sq > Sk, causal or not, depth
    # 128 (tiles of 16 queries), masks (a padding one, a full-rank boolean
    # one that empties rows, an additive one without its gradient), dynamic
    # sizes, f16.
    case("tc_grad_unequal", 2, 3, 100, 150, 32, 32, grad=True, dtype="bf16",
         tolerance=1e-2),
    case("tc_grad_causal_more_rows", 1, 2, 150, 70, 64, 64, causal=True,
         grad=True, dtype="bf16", tolerance=1e-2),
    case("tc_grad_d128", 1, 1, 97, 131, 128, 128, causal=True, grad=True,
         dtype="bf16", tolerance=1e-2),
    case("tc_grad_padding_mask", 2, 2, 90, 90, 32, 32, grad=True,
         dtype="bf16", tolerance=1e-2,
         mask=("bool", (2, 1, 1, 90), lambda i: i[3] < (90 - 17 * i[0]))),
    case("tc_grad_masked_rows", 1, 2, 70, 70, 16, 16, causal=True, grad=True,
         dtype="bf16", tolerance=1e-2,
         mask=("bool", (1, 2, 70, 70), lambda i: i[2] % 5 != 3)),
    case("tc_grad_bias", 2, 2, 75, 75, 16, 16, scale=0.3, grad=True,
         dtype="bf16", tolerance=1e-2, mask_grad=False,
         mask=("add", (75,), lambda i: -1e9 if i[0] % 7 == 0 else 0.1 * (i[0] % 3))),
    case("tc_grad_dynamic_rows", 2, 3, 45, 61, 16, 16, dynamic="rows",
         causal=True, grad=True, dtype="bf16", tolerance=1e-2),
    case("tc_grad_f16", 1, 2, 80, 100, 32, 32, grad=True, dtype="f16",
         tolerance=2e-3),
    # Thousands of positions: 17 query blocks and 17 key blocks, causal.
    case("tc_grad_long", 1, 2, 1030, 1030, 64, 64, causal=True, grad=True,
         scale=0.2, dtype="bf16", tolerance=1e-2),
    # Masks: a key-padding mask broadcast over heads and queries, an
    # additive one over batch and heads (with causal), a boolean one of full
    # rank that empties some rows.
    case("tc_padding_mask", 2, 2, 90, 90, 32, 32, dtype="bf16",
         tolerance=1e-2,
         mask=("bool", (2, 1, 1, 90), lambda i: i[3] < (90 - 17 * i[0]))),
    case("tc_additive_causal", 1, 2, 80, 100, 32, 32, causal=True,
         dtype="bf16", tolerance=1e-2,
         mask=("add", (80, 100), lambda i: -0.05 * abs(i[0] - i[1]))),
    case("tc_masked_rows", 1, 2, 70, 70, 16, 16, dtype="bf16",
         tolerance=1e-2,
         mask=("bool", (1, 2, 70, 70), lambda i: i[2] % 5 != 3)),
    # f32 attention on tensor cores, on TF32 roundings (--gpu-f32-matmuls
    # tf32): each element of Q, K, V and P keeps 10 bits of mantissa
    # (2^-11 relative). A score moves by at most scale·2·2^-11·Σ|q_d·k_d|:
    # for inputs uniform in [-1, 1] that sum has mean D/4 and deviation
    # 0.22·sqrt(D), so 5 deviations over it bound it (25 at D = 64, 45 at
    # 128, 49 at 144): 3e-3 (D = 64, scale 1/8), 3.9e-3 (D = 128) and 4e-3
    # (D = 144). A weighted mean of values in [-1, 1] whose weights move by
    # e^Δs moves by at most 2Δs, 8e-3; P's and V's roundings add 2^-11
    # each: bound 1e-2 (measured 6e-5 to 2.6e-4). Scales are the default
    # 1/sqrt(D). Training's forward: its log-sum-exp moves by at most the
    # largest score's move, the same bound.
    case("tf32_odd", 2, 3, 37, 45, 32, 32, tolerance=1e-2),
    case("tf32_causal_unequal", 1, 2, 70, 150, 64, 64, causal=True,
         tolerance=1e-2),
    case("tf32_d128", 1, 2, 200, 131, 128, 128, tolerance=1e-2),
    # The largest depth the kernel takes (the register estimate): 18 steps
    # of 8, tiles of 32 keys.
    case("tf32_d144", 1, 1, 70, 40, 144, 144, tolerance=1e-2),
    case("tf32_causal_long", 1, 2, 1030, 1030, 64, 64, causal=True,
         tolerance=1e-2),
    case("tf32_dynamic_rows", 2, 3, 45, 61, 16, 16, dynamic="rows",
         tolerance=1e-2),
    case("tf32_padding_mask", 2, 2, 80, 90, 32, 32, tolerance=1e-2,
         mask=("bool", (2, 1, 1, 90), lambda i: i[3] < 90 - 30 * i[0])),
    case("tf32_additive_causal", 1, 2, 60, 75, 32, 32, causal=True,
         tolerance=1e-2,
         mask=("add", (60, 75), lambda i: -0.05 * abs(i[0] - i[1]))),
    case("tf32_lse_causal", 2, 2, 90, 90, 32, 32, causal=True, lse=True,
         tolerance=1e-2),
    # The backward on TF32 roundings: its two kernels' products (dP = dO·Vᵀ,
    # the recomputed scores, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO) with every
    # element of Q, K, V, dO, P and dS rounded, against the forward's TF32
    # log-sum-exp; D = rowsum(dO ⊙ O) from the unrounded elements. P =
    # exp(s − lse) with s and lse each within the forward's score bound Δ
    # (4e-3 at most here), so P moves by a factor within e^(±2Δ); dP is a
    # sum of D rounded products as the scores are, so it moves by at most
    # Δ/scale times its sum of magnitudes; dS = P ⊙ (dP − D) and the
    # gradients (sums over keys or queries of dS or P times rounded
    # operands, scaled) then move by a few Δ plus 2^-11 per rounding,
    # relative to their magnitudes: within the forward's 1e-2 as the
    # comparison (|g − w| / (1 + |w|)) takes it. An estimate, not a proof
    # (measured 5e-5 to 4.6e-4, 20 times below).
    case("tf32_grad_causal", 1, 2, 150, 150, 64, 64, causal=True, grad=True,
         tolerance=1e-2),
    case("tf32_grad_unequal", 2, 3, 100, 150, 32, 32, grad=True,
         tolerance=1e-2),
    case("tf32_grad_more_rows", 1, 2, 150, 70, 64, 64, causal=True,
         grad=True, tolerance=1e-2),
    case("tf32_grad_padding_mask", 2, 2, 90, 90, 32, 32, grad=True,
         tolerance=1e-2,
         mask=("bool", (2, 1, 1, 90), lambda i: i[3] < (90 - 17 * i[0]))),
    case("tf32_grad_bias", 2, 2, 75, 75, 16, 16, scale=0.3, grad=True,
         tolerance=1e-2, mask_grad=False,
         mask=("add", (75,), lambda i: -1e9 if i[0] % 7 == 0 else 0.1 * (i[0] % 3))),
    case("tf32_grad_dynamic_rows", 2, 3, 45, 61, 16, 16, dynamic="rows",
         causal=True, grad=True, tolerance=1e-2),
    # Thousands of positions: 17 query blocks and 17 key blocks, causal.
    case("tf32_grad_long", 1, 2, 1030, 1030, 64, 64, causal=True, grad=True,
         scale=0.2, tolerance=1e-2),
    # Above depth 80 the backward stays on the per-row kernels (f32), with
    # the TF32 forward's log-sum-exp: the probabilities it recomputes from
    # f32 scores are off by the forward's score bound, as the TF32 ones.
    case("tf32_grad_d96_rows", 1, 2, 40, 50, 96, 96, causal=True, grad=True,
         tolerance=1e-2),
]


def write(path, dims, values, dtype="f4"):
    npy.write(path, dtype, "x".join(str(d) for d in dims),
              ",".join(repr(float(v)) for v in values))


def flat_indices(dims):
    idx = [0] * len(dims)
    n = 1
    for d in dims:
        n *= d
    for _ in range(n):
        yield tuple(idx)
        for j in range(len(dims) - 1, -1, -1):
            idx[j] += 1
            if idx[j] < dims[j]:
                break
            idx[j] = 0


def run_case(mha_run, work, c):
    qd, kd = (c["b"], c["h"], c["sq"], c["d"]), (c["b"], c["h"], c["sk"], c["d"])
    vd, od = (c["b"], c["h"], c["sk"], c["dv"]), (c["b"], c["h"], c["sq"], c["dv"])
    if c["dynamic"] == "rows":  # batch, heads and lengths; static depths
        show = lambda dims: ["?"] * (len(dims) - 1) + [dims[-1]]  # noqa: E731
    elif c["dynamic"]:
        show = lambda dims: ["?"] * len(dims)  # noqa: E731
    else:
        show = lambda dims: dims  # noqa: E731
    dt = c["dtype"]
    args = ["%q: " + tensor(show(qd), dt), "%k: " + tensor(show(kd), dt),
            "%v: " + tensor(show(vd), dt)]
    mask_text = ""
    if c["mask"]:
        kind, mdims, _ = c["mask"]
        mtype = tensor(mdims, "i1" if kind == "bool" else dt)
        args.append("%m: " + mtype)
        mask_text = " mask(%%m : %s)" % mtype
    attrs = " causal" if c["causal"] else ""
    if c["scale"] is not None:
        attrs += " {scale = %r : f32}" % c["scale"]
    types = ", ".join(tensor(show(x), dt) for x in (qd, kd, vd))
    out = tensor(show(od), dt)
    lse_type = tensor(show(od)[:3])
    if c["grad"]:
        args.append("%do: " + out)
        grad_types = [tensor(show(x), dt) for x in (qd, kd, vd)]
        mask_grad = ""
        if c["mask"] and c["mask"][0] == "add" and c["mask_grad"]:
            mask_grad = ", mask_grad " + mtype
            grad_types.append(mtype)
        body = ("  %%o, %%l = mha.attention_with_lse %%q, %%k, %%v%s%s : %s\n"
                "  %%g:%d = mha.attention_grad %%q, %%k, %%v, %%o, %%l, %%do%s%s"
                " : %s, %s, %s%s\n"
                "  return %s : %s\n" % (
                    mask_text, attrs, types, len(grad_types), mask_text, attrs,
                    types, out, lse_type, mask_grad,
                    ", ".join("%%g#%d" % i for i in range(len(grad_types))),
                    ", ".join(grad_types)))
        results = "(%s)" % ", ".join(grad_types)
        c["results"] = len(grad_types)
    elif c["lse"]:
        body = ("  %%o, %%l = mha.attention_with_lse %%q, %%k, %%v%s%s : %s\n"
                "  return %%o, %%l : %s, %s\n" % (mask_text, attrs, types, out,
                                                 lse_type))
        results = "(%s, %s)" % (out, lse_type)
        c["results"] = 2
    else:
        body = ("  %%o = mha.attention %%q, %%k, %%v%s%s : %s\n"
                "  return %%o : %s\n" % (mask_text, attrs, types, out))
        results = out
        c["results"] = 1
    model = os.path.join(work, c["name"] + ".mlir")
    with open(model, "w") as f:
        f.write("func.func @f(%s) -> %s {\n%s}\n" % (", ".join(args), results,
                                                     body))
    rng = Rng(len(c["name"]))
    inputs = []
    tensors = [("q", qd, c["logit"]), ("k", kd, 1.0), ("v", vd, 1.0)]
    if c["grad"]:
        tensors.append(("do", od, 1.0))
    for name, dims, scale in tensors:
        path = os.path.join(work, "%s_%s.npy" % (c["name"], name))
        n = 1
        for x in dims:
            n *= x
        # f16 models read f16 files (mha-run rounds f32 files only to bf16).
        write(path, dims, [scale * rng.uniform() for _ in range(n)],
              "f2" if c["dtype"] == "f16" else "f4")
        inputs += ["--input", "%s=%s" % (name, path)]
    if c["mask"]:
        kind, mdims, fn = c["mask"]
        path = os.path.join(work, "%s_m.npy" % c["name"])
        vals = [fn(i) for i in flat_indices(mdims)]
        write(path, mdims, [int(bool(v)) for v in vals] if kind == "bool" else vals,
              "b1" if kind == "bool" else "f4")
        inputs += ["--input", "m=" + path]
    outputs = {}
    variants = [("flash", []), ("flash_1thread", ["--threads", "1"]),
                ("reference", ["--decomposed-attention"])]
    models = {}
    # The TF32 cases are f32 attention as the others: only their own modes
    # and the compile check run them.
    tf32 = c["name"].startswith("tf32_")
    if tf32 and GPU not in ("gpu-tf32", "gpu-emulated-tf32", "gpu-compile"):
        return None
    if GPU == "gpu-compile":
        # The whole GPU pipeline, to sm_80 and sm_90a cubins (ptxas), on a
        # machine without a GPU: what fails only past the emulated stages
        # (a run-time check or a host use of a device value left in a
        # kernel) fails here.
        mha_opt = os.path.join(os.path.dirname(shutil.which(mha_run)),
                               "mha-opt")
        configs = [("chip=%s format=bin" % chip) for chip in ("sm_80", "sm_90a")]
        if c["name"].startswith("tc_"):
            # The tensor-core kernel: its mma.sync in the PTX, and cubins.
            configs += ["chip=sm_80 format=isa tensor-cores=1"] + [
                "chip=%s format=bin tensor-cores=1" % chip
                for chip in ("sm_80", "sm_90a")]
        if tf32:
            # The TF32 kernels (forward, and the backward's two).
            configs += ["chip=sm_80 format=isa tf32-matmuls=1"] + [
                "chip=%s format=bin tf32-matmuls=1" % chip
                for chip in ("sm_80", "sm_90a")]
        for config in configs:
            run = subprocess.run(
                [mha_opt, model, "--mha-lower-to-gpu=" + config],
                capture_output=True, text=True)
            if run.returncode != 0:
                return "mha-opt --mha-lower-to-gpu (%s) exited %d: %s" % (
                    config, run.returncode, run.stderr[-2000:])
            mma = "mma.sync.aligned.m16n8k16.row.col.f32.%s.%s.f32" % (
                c["dtype"], c["dtype"])
            if tf32:
                mma = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"
            if "format=isa" in config and mma not in run.stdout:
                return "no %s in the PTX of (%s)" % (mma, config)
            # With a backward, its two kernels on tensor cores too: three
            # kernels with mma.sync in all (TF32 above depth 80: the
            # forward's only).
            kernels = sum(mma in entry for entry in run.stdout.split(".entry ")[1:])
            tc_grad = c["grad"] and not (tf32 and c["d"] > 80)
            if "format=isa" in config and kernels < (3 if tc_grad else 1):
                return "%d kernels with %s in the PTX of (%s)" % (kernels, mma, config)
        return 0.0
    if GPU == "tiled":
        mha_opt = os.path.join(os.path.dirname(shutil.which(mha_run)),
                               "mha-opt")
        tiled = os.path.join(work, c["name"] + "_tiled.mlir")
        run = subprocess.run(
            [mha_opt, model, "-o", tiled,
             "--mha-tile-attention=block-q=16 block-k=32"],
            capture_output=True, text=True)
        if run.returncode != 0:
            return "mha-opt --mha-tile-attention exited %d: %s" % (
                run.returncode, run.stderr[-2000:])
        models["tiled"] = tiled
        variants = [("tiled", []), ("reference", ["--decomposed-attention"])]
    elif GPU in ("gpu-tensor-cores", "gpu-emulated-tensor-cores"):
        if not c["name"].startswith("tc_"):
            return None
        device = "gpu" if GPU == "gpu-tensor-cores" else "gpu-emulated"
        variants = [(GPU, ["--device", device, "--gpu-tensor-cores"]),
                    ("reference", ["--decomposed-attention"])]
    elif GPU in ("gpu-tf32", "gpu-emulated-tf32"):
        if not c["name"].startswith("tf32_"):
            return None
        device = "gpu" if GPU == "gpu-tf32" else "gpu-emulated"
        variants = [(GPU, ["--device", device, "--gpu-f32-matmuls", "tf32"]),
                    ("reference", ["--decomposed-attention"])]
    elif GPU:
        variants = [(GPU, ["--device", GPU]),
                    ("reference", ["--decomposed-attention"])]
    elif c["avx2"]:  # AVX2 code (AVX-512 disabled), on this host
        variants.append(("flash_avx2", ["--target-features=-avx512f"]))
    for variant, extra in variants:
        outdir = os.path.join(work, c["name"] + "_" + variant)
        run = subprocess.run([mha_run, models.get(variant, model), "--output",
                              outdir] + inputs + extra,
                             capture_output=True, text=True)
        if run.returncode != 0:
            return "mha-run (%s) exited %d: %s" % (variant, run.returncode,
                                                  run.stderr[-2000:])
        outputs[variant] = [npy.read(os.path.join(outdir, "result%d.npy" % i))
                            for i in range(c["results"])]
    worst = 0.0
    pairs = []
    for variant in outputs:
        if variant != "reference":
            pairs += list(zip(outputs[variant], outputs["reference"]))
    for got, want in pairs:
        for g, w in zip(got, want):
            if g != g or w != w:
                return "NaN in the results"
            if w in (float("inf"), float("-inf")) or g in (float("inf"), float("-inf")):
                if g != w:
                    return "infinite value differs: %r vs %r" % (g, w)
                continue
            worst = npy.worst([worst, abs(g - w) / (1 + abs(w))])
    return worst


def main(mha_run, work):
    os.makedirs(work, exist_ok=True)
    failures = 0
    # MHA_FLASH_CASES (a regular expression): only the cases it matches
    # (for work on one kernel, and the sanitized suite's representatives,
    # sanitized-kernels.test; the other tests run every case).
    only = re.compile(os.environ.get("MHA_FLASH_CASES", ""))
    for c in CASES:
        if not only.search(c["name"]):
            continue
        result = run_case(mha_run, work, c)
        if result is None:  # not a case of this mode
            continue
        if isinstance(result, str) or result > c["tolerance"]:
            failures += 1
            print("FAIL %s: %s" % (c["name"], result if isinstance(result, str)
                                   else "max relative difference %.3g" % result))
        elif GPU == "gpu-compile":
            print("ok %s: compiled for sm_80 and sm_90a" % c["name"])
        else:
            print("ok %s: max relative difference %.2g" % (c["name"], result))
    print("%d failures" % failures)
    return 1 if failures else 0


GPU = sys.argv[3] if len(sys.argv) > 3 else None

if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
