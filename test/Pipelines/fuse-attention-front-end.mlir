// The shared front end fuses attention written step by step (scaled_matmul,
// mask, softmax, matmul, as the seed classifier writes it) into
// mha.attention before lowering, so inference too takes the tiled forms:
// on the CPU the flash lowering (no Sq x Sk buffer), on the GPU with
// tensor-cores the tensor-core kernel (64 bf16 mma.sync a tile step at
// depth 64).
// RUN: mha-opt %s --mha-lower-to-cpu --mlir-print-ir-after=mha-fuse-attention -o /dev/null 2>&1 | FileCheck %s --check-prefix=FUSED
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" | FileCheck %s --check-prefix=PTX
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" --mlir-print-ir-after=convert-mha-to-linalg -o /dev/null 2>&1 | FileCheck %s --check-prefix=NO-SCORES

// FUSED-LABEL: func.func @f
// FUSED-NOT: mha.softmax
// FUSED: mha.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<?x1x1x?xi1>) : tensor<?x8x?x64xbf16>
// FUSED-NOT: mha.softmax
// PTX-COUNT-64: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-NOT: mma.sync
// NO-SCORES-NOT: tensor<?x8x?x?xf32>
// NO-SCORES-NOT: tensor<?x8x?x?xbf16>
func.func @f(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x8x?x64xbf16>,
             %v: tensor<?x8x?x64xbf16>, %keep: tensor<?x1x1x?xi1>)
    -> tensor<?x8x?x64xbf16> {
  %s = mha.scaled_matmul %q, %k : tensor<?x8x?x64xbf16>, tensor<?x8x?x64xbf16>
  %m = mha.apply_mask %s mask(%keep : tensor<?x1x1x?xi1>) : tensor<?x8x?x?xbf16>
  %p = mha.softmax %m : tensor<?x8x?x?xbf16>
  %o = mha.matmul %p, %v : tensor<?x8x?x?xbf16>, tensor<?x8x?x64xbf16>
  return %o : tensor<?x8x?x64xbf16>
}
