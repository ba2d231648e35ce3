//===- Passes.td - MHA dialect passes ----------------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// mha -> mha rewrites.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_TRANSFORMS_PASSES_TD
#define MHA_DIALECT_MHA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def MHAFuseAttentionPass : Pass<"mha-fuse-attention"> {
  let summary = "Fuse scaled_matmul -> [mask] -> softmax -> matmul into mha.attention";
  let description = [{
    Rewrites the unfused attention chain

    ```mlir
    %s = mha.scaled_matmul %q, %k : ...          // Q·Kᵀ·scale
    %m = mha.add %s, %mask : ...                 // optional additive mask,
                                                 // or mha.apply_mask
    %p = mha.softmax %m : ...                    // over the last axis
    %o = mha.matmul %p, %v : ...
    ```

    into one `mha.attention %q, %k, %v [mask(...)] [causal] {scale}`, so later
    lowerings can compute it tiled, with an online softmax and without the
    Sq × Sk matrix. A chain is left untouched when it does not have exactly
    these semantics: the softmax is over another axis, `rhs` of the
    scaled_matmul is `untransposed`, an intermediate value has another use,
    or the mask would broadcast the scores to a larger shape.
  }];
}

def MHADecomposeAttentionPass : Pass<"mha-decompose-attention"> {
  let summary = "Expand mha.attention into scaled_matmul, apply_mask, softmax and matmul";
  let description = [{
    The reverse of `mha-fuse-attention`: spells `mha.attention` out as

    ```mlir
    %s = mha.scaled_matmul %q, %k {scale = ...}
    %m = mha.apply_mask %s mask(%mask) causal     // only with a mask or causal
    %p = mha.softmax %m                           // last axis
    %o = mha.matmul %p, %v
    ```

    This is the reference semantics against which the fused lowerings are
    tested; it materializes the Sq × Sk scores.
  }];
}

def MHAParamsToArgumentsPass
    : Pass<"mha-params-to-arguments", "::mlir::ModuleOp"> {
  let summary = "Turn trainable parameters into trailing function arguments";
  let description = [{
    Appends one argument per `mha.param` of the module, in declaration order,
    to every function with a body, tagged `{mha.param = @name}`; replaces
    each `mha.get_param` with the matching argument, and passes the caller's
    parameter arguments along at every `func.call` of such a function.
    Drivers then bind parameter buffers by position after the user inputs,
    and training steps can return updated parameters as ordinary results.

    ```mlir
    func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
      %w = mha.get_param @w : tensor<4xf32>
      ...
    // becomes
    func.func @f(%x: tensor<4xf32>, %w: tensor<4xf32> {mha.param = @w}) -> ...
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // MHA_DIALECT_MHA_TRANSFORMS_PASSES_TD
