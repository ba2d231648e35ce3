// Tiles the GPU cannot hold are refused at compile time, naming the op and
// the tile sizes: the key and value tiles beyond a block's 48 KiB of static
// shared memory, or a thread's estimated registers beyond 255; for the
// backward, naming its kernel (dQ, or dK/dV) and the attribute to lower.
// RUN: mha-opt %s --mha-gpu-lower-tensor-core-kernels --split-input-file -verify-diagnostics

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

// -----

func.func @grad_shared(%q: memref<2x100x128xbf16>, %l: memref<2x100xf32>, %g: memref<2x100x128xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op the dQ kernel's tiles of 64 queries x 128 keys at depth 128 need 69632 bytes of shared memory for the key and value tiles, more than a block's 49152; use a smaller key_tile}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %g, %g, %g {scale = 1.0 : f32, block_rows = 64, key_tile = 128, query_tile = 16}
      : memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100xf32>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>
  return
}

// -----

func.func @grad_registers(%q: memref<2x100x128xbf16>, %l: memref<2x100xf32>, %g: memref<2x100x128xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op the dK/dV kernel's tiles of 64 keys x 32 queries at depth 128 need about 272 registers per thread, more than the 255 a thread has; use a smaller query_tile}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %g, %g, %g {scale = 1.0 : f32, block_rows = 64, key_tile = 16, query_tile = 32}
      : memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100xf32>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>, memref<2x100x128xbf16>
  return
}

// -----

func.func @grad_depth(%q: memref<2x100x256xbf16>, %l: memref<2x100xf32>, %g: memref<2x100x256xbf16>) {
  // expected-error @+1 {{'mha.gpu_attention_grad' op the dQ kernel's tiles of 64 queries x 16 keys at depth 256 need about 308 registers per thread, more than the 255 a thread has; the depth is too large for this kernel}}
  mha.gpu_attention_grad %q, %q, %q, %q, %l, %q, %g, %g, %g {scale = 1.0 : f32, block_rows = 64, key_tile = 16, query_tile = 16}
      : memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100xf32>, memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100x256xbf16>, memref<2x100x256xbf16>
  return
}

// -----

func.func @matmul_shared(%x: memref<?x512xbf16>, %w: memref<512x1024xbf16>, %y: memref<?x1024xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op tiles of 64 x 128 outputs and 64 of K need 53248 bytes of shared memory for two stages of lhs and rhs tiles, more than a block's 49152; use a smaller block_m, block_n or block_k}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 128, block_k = 64}
      : memref<?x512xbf16>, memref<512x1024xbf16>, memref<?x1024xf32>
  return
}

// -----

func.func @matmul_registers(%x: memref<?x512xbf16>, %w: memref<512x1024xbf16>, %y: memref<?x1024xf32>) {
  // expected-error @+1 {{'mha.gpu_matmul' op tiles of 64 x 256 outputs and 32 of K need about 304 registers per thread, more than the 255 a thread has; use a smaller block_n or block_k}}
  mha.gpu_matmul %x, %w, %y {block_m = 64, block_n = 256, block_k = 32}
      : memref<?x512xbf16>, memref<512x1024xbf16>, memref<?x1024xf32>
  return
}
