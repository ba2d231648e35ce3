// Tiles the GPU cannot hold are refused at compile time, naming the op and
// the tile sizes: the key and value tiles beyond a block's 48 KiB of static
// shared memory, or a thread's estimated registers beyond 255.
// RUN: mha-opt %s --mha-gpu-lower-attention-kernels --split-input-file -verify-diagnostics

func.func @shared(%q: memref<2x100x256xbf16>, %o: memref<2x100x256xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op tiles of 64 queries x 64 keys at depth 256 need 67584 bytes of shared memory for the key and value tiles, more than a block's 49152; use a smaller block-k}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 64}
      : memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100x256xbf16>
  return
}

// -----

func.func @registers(%q: memref<2x100x320xf16>, %o: memref<2x100x320xf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op tiles of 64 queries x 16 keys at depth 320 need about 284 registers per thread, more than the 255 a thread has; the depth is too large for this kernel}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 16}
      : memref<2x100x320xf16>, memref<2x100x320xf16>, memref<2x100x320xf16>, memref<2x100x320xf16>
  return
}

// -----

func.func @registers_block_k(%q: memref<2x100x16xbf16>, %o: memref<2x100x16xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op tiles of 64 queries x 304 keys at depth 16 need about 272 registers per thread, more than the 255 a thread has; use a smaller block-k}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 304}
      : memref<2x100x16xbf16>, memref<2x100x16xbf16>, memref<2x100x16xbf16>, memref<2x100x16xbf16>
  return
}
