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

func.func @registers(%q: memref<2x100x256xf16>, %o: memref<2x100x256xf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op tiles of 128 queries x 32 keys at depth 256 need about 327 registers per thread, more than the 255 a thread has; the depth is too large for this kernel}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 128, block_k = 32}
      : memref<2x100x256xf16>, memref<2x100x256xf16>, memref<2x100x256xf16>, memref<2x100x256xf16>
  return
}

// -----

func.func @registers_block_k(%q: memref<2x100x64xbf16>, %o: memref<2x100x64xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention' op tiles of 64 queries x 160 keys at depth 64 need about 295 registers per thread, more than the 255 a thread has; use a smaller block-k}}
  mha.gpu_attention %q, %q, %q, %o {scale = 1.0 : f32, block_q = 64, block_k = 160}
      : memref<2x100x64xbf16>, memref<2x100x64xbf16>, memref<2x100x64xbf16>, memref<2x100x64xbf16>
  return
}
