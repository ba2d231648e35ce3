#!/usr/bin/env python3
"""The tensor-core kernels' registers and spills, by ptxas.

For each configuration (kernel, depth, tiles) this lowers one
mha.gpu_attention or mha.gpu_attention_grad (bf16, causal, dynamic batch and
lengths: the costliest form) or mha.gpu_matmul (bf16 or f32, dynamic rows,
with an init) with mha-gpu-lower-tensor-core-kernels, compiles
its kernels to PTX for the chip by the rest of mha-lower-to-gpu
(mha-gpu-kernels-to-llvm) and runs `ptxas -v` on them, printing one line a
configuration:

  forward depth 128 block-k 64: 172 registers, no spills
  backward depth 128 key-tile 64 query-tile 16: dQ 240 registers, dK/dV 254 registers, no spills
  backward depth 128 key-tile 64 query-tile 64: refused: ... need about 320 registers ...
  matmul block-m 128 block-n 128 block-k 32: 242 registers, no spills
  f32 matmul block-m 128 block-n 128 block-k 16: 173 registers, no spills

With --check it exits nonzero when a configuration the pass accepts spills
(the pass's estimate of a thread's registers must refuse every tile that
would). Needs no GPU, only the CUDA toolkit's ptxas.

  python3 scripts/gpu/ptxas_tiles.py build/bin/mha-opt [--chip sm_80]
      [--check] [CONFIG ...]

A CONFIG is forward:DEPTH:BLOCK_K (tf32-forward:DEPTH:BLOCK_K: f32
operands, on their TF32 roundings), backward:DEPTH:KEY_TILE:QUERY_TILE
(tf32-backward:... likewise) or
matmul:BLOCK_M:BLOCK_N:BLOCK_K[:lhs|rhs|both] (the operands transposed; bf16
operands, on tensor cores), or matmul32:... the same with f32 operands (the
CUDA-core kernel), or tf32:... with f32 operands on tensor cores (tf32);
without any, depths 32-256 and tiles 16-128 (the backward with equal tiles,
and with the tiles the pass derives at each depth), matmul tiles from
64 x 64 to 128 x 128 (the default 128 x 128 x 32 among them) and two the
pass refuses, and the default tiles with each operand transposed; the f32
kernel's default 128 x 128 x 16 in each layout, 64 x 64 x 16, 192 x 128 x 16
and two the pass refuses; the TF32 kernel's default 128 x 128 x 16 in each
layout, the largest tiles its register estimate accepts with 16 and 32 of K
(128 x 112 x 16, 32 x 64 x 32, 64 x 64 x 32), and four it refuses (three
that spilled when accepted, and one for shared memory); the TF32 attention
forward's derived tiles at depths 32, 64 and 128, its largest depth (144),
and three tiles it refuses; the TF32 backward's (tf32-backward:...) derived
tiles at depths 32, 64 and 80 (its largest), and three it refuses.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The kernel half of mha-lower-to-gpu, as the pipeline runs it.
LOWER_TO_PTX = "--mha-gpu-kernels-to-llvm=format=isa chip=%s"


def source(config):
    """The MLIR of one configuration."""
    kind, depth, *tiles = config
    if kind in ("matmul", "matmul32", "tf32"):
        # K = 512, N = 1024; rows dynamic; the operands as stored.
        e = "bf16" if kind == "matmul" else "f32"
        transposed = tiles[2] if len(tiles) > 2 else ""
        x, w, y = ("memref<?x512x%s>" % e, "memref<512x1024x%s>" % e,
                   "memref<?x1024xf32>")
        flags = ", tf32" if kind == "tf32" else ""
        if transposed in ("lhs", "both"):
            x, flags = "memref<512x?x%s>" % e, flags + ", lhs_transposed"
        if transposed in ("rhs", "both"):
            w, flags = "memref<1024x512x%s>" % e, flags + ", rhs_transposed"
        return ("func.func @m(%%x: %s, %%w: %s, %%y: %s, %%i: %s) {\n"
                "  mha.gpu_matmul %%x, %%w, %%y init(%%i : %s) {block_m = %d, "
                "block_n = %d, block_k = %d%s} : %s, %s, %s\n  return\n}\n"
                % (x, w, y, y, y, depth, tiles[0], tiles[1], flags, x, w, y))
    t = "memref<?x?x%dxbf16>" % depth
    if kind in ("forward", "tf32-forward"):
        flags = ""
        if kind == "tf32-forward":
            t, flags = "memref<?x?x%dxf32>" % depth, ", tf32"
        return ("func.func @f(%%q: %s, %%k: %s, %%v: %s, %%o: %s) {\n"
                "  mha.gpu_attention %%q, %%k, %%v, %%o {scale = 0.125 : f32, "
                "causal, block_q = 64, block_k = %d%s} : %s, %s, %s, %s\n"
                "  return\n}\n" % ((t,) * 4 + (tiles[0], flags) + (t,) * 4))
    lse = "memref<?x?xf32>"
    flags = ""
    if kind == "tf32-backward":
        t, flags = "memref<?x?x%dxf32>" % depth, ", tf32"
    return ("func.func @g(%%q: %s, %%k: %s, %%v: %s, %%o: %s, %%l: %s, "
            "%%do: %s, %%dq: %s, %%dk: %s, %%dv: %s) {\n"
            "  mha.gpu_attention_grad %%q, %%k, %%v, %%o, %%l, %%do, %%dq, "
            "%%dk, %%dv {scale = 0.125 : f32, causal, block_rows = 64, "
            "key_tile = %d, query_tile = %d%s} : %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s\n  return\n}\n"
            % ((t,) * 4 + (lse,) + (t,) * 4 + tuple(tiles) + (flags,) +
               (t,) * 4 + (lse,) + (t,) * 4))


def unescape(text):
    """An MLIR string attribute's bytes (\\XX hex escapes)."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out += text[i].encode()
            i += 1
        elif text[i + 1] in "\\\"":
            out += text[i + 1].encode()
            i += 2
        else:
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
    return out.decode()


def measure(mha_opt, ptxas, chip, config, work):
    """(refusal message or None, [(registers, spill bytes)] per kernel)."""
    lowered = subprocess.run(
        [mha_opt, "-", "--mha-gpu-lower-tensor-core-kernels"],
        input=source(config), capture_output=True, text=True)
    if lowered.returncode:
        message = lowered.stderr.strip().splitlines()
        if not message:
            return "mha-opt failed", []
        return re.sub(r"^<stdin>:\d+:\d+: error: ", "", message[0]), []
    ptx = subprocess.run(
        [mha_opt, "-", LOWER_TO_PTX % chip],
        input=lowered.stdout, capture_output=True, text=True)
    if ptx.returncode:
        sys.exit("lowering %s to PTX failed:\n%s" % (config, ptx.stderr))
    kernels = []
    for n, match in enumerate(
            re.finditer(r'assembly = "((?:[^"\\]|\\.)*)"', ptx.stdout)):
        text = unescape(match.group(1))
        path = os.path.join(work, "module%d.ptx" % n)
        with open(path, "w") as f:
            f.write(text)
        info = subprocess.run([ptxas, "-arch=" + chip, "-v", path, "-o",
                               os.devnull], capture_output=True, text=True)
        if info.returncode:
            sys.exit("ptxas failed on %s:\n%s" % (config, info.stderr))
        # One module may hold several kernels: ptxas reports each after
        # "Compiling entry function"; they are listed in the PTX's order.
        reports = {}
        for report in info.stderr.split("Compiling entry function")[1:]:
            name = re.match(r"\s*'([^']+)'", report).group(1)
            registers = re.search(r"Used (\d+) registers", report)
            spills = re.search(r"(\d+) bytes spill stores", report)
            reports[name] = (int(registers.group(1)), int(spills.group(1)))
        order = re.findall(r"\.entry\s+([A-Za-z_0-9$]+)", text)
        kernels += [reports[name] for name in order]
    return None, kernels


def describe(config):
    kind, depth, *tiles = config
    if kind in ("forward", "tf32-forward"):
        return "%s depth %d block-k %d" % (
            "forward" if kind == "forward" else "tf32 forward", depth,
            tiles[0])
    if kind in ("matmul", "matmul32", "tf32"):
        text = "matmul block-m %d block-n %d block-k %d" % (depth, *tiles[:2])
        if kind != "matmul":
            text = ("f32 " if kind == "matmul32" else "tf32 ") + text
        if len(tiles) > 2:
            text += " %s transposed" % tiles[2]
        return text
    return "%s depth %d key-tile %d query-tile %d" % (
        "backward" if kind == "backward" else "tf32 backward", depth, *tiles)


def parse(text):
    parts = text.split(":")
    if parts[0] in ("forward", "tf32-forward") and len(parts) == 3:
        return (parts[0], int(parts[1]), int(parts[2]))
    if (parts[0] in ("backward", "tf32-backward", "matmul", "matmul32",
                     "tf32") and len(parts) == 4):
        return (parts[0], int(parts[1]), int(parts[2]), int(parts[3]))
    if (parts[0] in ("matmul", "matmul32", "tf32") and len(parts) == 5 and
            parts[4] in ("lhs", "rhs", "both")):
        return (parts[0], int(parts[1]), int(parts[2]), int(parts[3]),
                parts[4])
    raise argparse.ArgumentTypeError(
        "expected [tf32-]forward:DEPTH:BLOCK_K, "
        "[tf32-]backward:DEPTH:KEY_TILE:QUERY_TILE or matmul|matmul32|tf32:BLOCK_M:BLOCK_N:BLOCK_K[:lhs|rhs|both], "
        "got '%s'"
        % text)


def default_configs():
    configs = []
    for depth in (32, 64, 128, 256):
        for tile in (16, 32, 64, 128):
            configs.append(("forward", depth, tile))
            configs.append(("backward", depth, tile, tile))
    # The backward's derived tiles (64 keys; 64 queries up to depth 64, 16
    # at depth 128).
    configs += [("backward", 64, 64, 64), ("backward", 128, 64, 16)]
    for block_m, block_n, block_k in ((64, 64, 32), (128, 64, 32),
                                      (64, 128, 32), (128, 128, 32),
                                      (64, 256, 32), (128, 128, 64)):
        configs.append(("matmul", block_m, block_n, block_k))
    # The default tiles with transposed operands (read in place).
    for transposed in ("lhs", "rhs", "both"):
        configs.append(("matmul", 128, 128, 32, transposed))
    # The f32 kernel (CUDA cores): its default tiles in each layout.
    configs.append(("matmul32", 128, 128, 16))
    for transposed in ("lhs", "rhs", "both"):
        configs.append(("matmul32", 128, 128, 16, transposed))
    configs += [("matmul32", 64, 64, 16), ("matmul32", 192, 128, 16),
                ("matmul32", 128, 128, 32), ("matmul32", 256, 128, 8)]
    # The TF32 kernel (tensor cores, f32 tiles): its default tiles in each
    # layout, and others.
    configs.append(("tf32", 128, 128, 16))
    for transposed in ("lhs", "rhs", "both"):
        configs.append(("tf32", 128, 128, 16, transposed))
    configs += [("tf32", 64, 64, 32), ("tf32", 32, 64, 32),
                ("tf32", 128, 112, 16), ("tf32", 128, 160, 16),
                ("tf32", 32, 80, 32), ("tf32", 32, 64, 48),
                ("tf32", 128, 128, 32)]
    # The TF32 attention forward (f32 tiles): the tiles derived at depths
    # 32, 64 and 128, 16 keys at 128, the largest depth accepted (144),
    # the two that spilled when accepted, and one over shared memory.
    configs += [("tf32-forward", 32, 64), ("tf32-forward", 64, 64),
                ("tf32-forward", 128, 32), ("tf32-forward", 128, 16),
                ("tf32-forward", 144, 32), ("tf32-forward", 160, 32),
                ("tf32-forward", 192, 16), ("tf32-forward", 128, 64)]
    # The TF32 backward (f32 tiles): the tiles derived at depths 32, 64 and
    # 80 (its largest), and three it refuses (they spilled when accepted,
    # or at depth 96, on both chips or on sm_90a).
    configs += [("tf32-backward", 32, 64, 64), ("tf32-backward", 64, 64, 32),
                ("tf32-backward", 80, 64, 16), ("tf32-backward", 64, 64, 64),
                ("tf32-backward", 80, 64, 32), ("tf32-backward", 96, 32, 16)]
    return list(dict.fromkeys(configs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mha_opt")
    parser.add_argument("configs", nargs="*", type=parse)
    parser.add_argument("--chip", default="sm_80")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if an accepted configuration spills")
    args = parser.parse_args()
    cuda = os.environ.get("CUDA_HOME") or "/usr/local/cuda"
    ptxas = shutil.which("ptxas") or os.path.join(cuda, "bin", "ptxas")
    if not os.path.exists(ptxas):
        sys.exit("no ptxas (set CUDA_HOME to the CUDA toolkit)")
    spilled = []
    with tempfile.TemporaryDirectory() as work:
        for config in args.configs or default_configs():
            refusal, kernels = measure(args.mha_opt, ptxas, args.chip, config,
                                       work)
            if refusal:
                print("%s: refused: %s" % (describe(config), refusal))
                continue
            names = (["dQ ", "dK/dV "] if config[0].endswith("backward")
                     else [""])
            parts = ["%s%d registers%s" % (
                name, registers,
                " (spills %d bytes)" % spills if spills and len(kernels) > 1
                else "")
                for name, (registers, spills) in zip(names, kernels)]
            spill = sum(s for _, s in kernels)
            parts.append("spills %d bytes" % spill if spill else "no spills")
            print("%s: %s" % (describe(config), ", ".join(parts)), flush=True)
            if spill:
                spilled.append(describe(config))
    if args.check and spilled:
        sys.exit("accepted but spilling: " + "; ".join(spilled))


if __name__ == "__main__":
    main()
