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

def MHAAutodiffPass : Pass<"mha-autodiff", "::mlir::ModuleOp"> {
  let summary = "Generate reverse-mode gradient functions of scalar losses";
  let description = [{
    For each selected function `@f` returning one rank-0 float tensor (a
    loss), adds `@f_grad` with the same arguments returning the loss followed
    by its gradient with respect to every `mha.param` of the module, in
    declaration order (zeros for parameters `@f` does not read), and, with
    `wrt-inputs`, with respect to each float argument.

    The forward ops are kept and followed by their adjoints in reverse order;
    each op's adjoint comes from its `DifferentiableOpInterface` rule.
    Gradients of values used several times are summed. `mha.attention` is
    first replaced by `mha.attention_with_lse`, whose row log-sum-exp lets
    `mha.attention_grad` recompute the probabilities instead of keeping the
    Sq × Sk matrix. Functions must be a single block; calls to functions
    with a single-block body (layers written once and called with different
    parameters) are inlined into `@f_grad`, `@f` keeping its calls. An op
    without a gradient rule is an error naming it.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Functions to differentiate (default: every function returning "
               "one rank-0 float tensor)">,
    Option<"wrtInputs", "wrt-inputs", "bool", "false",
           "Also return the gradients of the float arguments">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHABuildDecodeStepPass
    : Pass<"mha-build-decode-step", "::mlir::ModuleOp"> {
  let summary = "Generate the prefill and cached decoding functions of a language model";
  let description = [{
    For a causal language model `@model(tokens: [B, S] integer ids) -> [B, S,
    V] logits` whose ops outside attention all work position by position
    (embeddings, positions, rotary embeddings, dense layers, layer norm,
    element-wise ops, dropout, split/merge heads) and whose attention is causal and unmasked, builds:

    * `@__mha_prefill(tokens) -> (logits, k_1, v_1, ..., k_L, v_L)`: the
      model over a whole prompt, returning the keys and values of each of
      its L attention ops (in program order) as the key/value cache;
    * `@__mha_decode(tokens, offset, k_1, v_1, ..., k_L, v_L) -> (logits,
      k_1', v_1', ...)`: the model over new tokens that follow `offset`
      cached ones (rank-0 i64): every `mha.positions`,
      `mha.sinusoidal_positions` and `mha.rotary` is shifted by `offset`, and each attention
      attends from the new queries over its cache with the new keys and
      values appended (`tensor.concat` along the sequence axis), which are
      returned as the next cache. With one new token no mask is needed (it
      sees every earlier key and itself); more than one new token per call
      is not causal within the chunk, so drivers call it one token at a
      time.

    A token then costs the position-wise work of one position plus one
    attention row over the cache, instead of a forward pass over the whole
    prefix. Attention chains are fused first (`mha-fuse-attention`). Ops that
    mix positions any other way (a reduction or softmax over the sequence,
    masks, non-causal attention) are errors at their location.
  }];
  let options = [
    Option<"modelName", "model", "std::string", /*default=*/"\"\"",
           "The model function (default: mha.training's model, else the "
           "only function)">,
  ];
  let dependentDialects = [
    "::mlir::func::FuncDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def MHABuildTrainStepPass
    : Pass<"mha-build-train-step", "::mlir::ModuleOp"> {
  let summary = "Generate the training step and evaluation functions from mha.training";
  let description = [{
    From the module's `mha.training` (model, loss, optimizer) builds:

    * `@__mha_loss(inputs..., labels) -> loss`: the model's body followed by
      the loss (labels have the model output's type, or i64 class indices
      without the class dimension for `cross_entropy`);
    * `@__mha_eval(inputs..., labels) -> (loss, predictions)`;
    * `@__mha_train_step(inputs..., labels[, dropout_key], step, m..., v...) ->
      (loss, predictions, new parameters..., new m..., new v...)`: the loss
      (with its attention chains fused, `mha-fuse-attention`), its gradients
      (`mha-autodiff`) and one `mha.optimizer_update` per parameter; `step` is the 1-based update count (rank-0 f32) and m, v
      the optimizer state, one of each per parameter in declaration order.
      When the model has `mha.dropout` ops (calls inlined), the loss and the
      step take a rank-0 i64 `dropout_key` after the labels, which activates
      them: each gets the key and its own `stream` (program order). The
      evaluation function has no key, so dropout is the identity there.

    One compiled function does forward, backward and update. Drivers apply
    command-line overrides by editing `mha.training` before this pass.

    With `split-update` (data-parallel training, where the gradients of every
    worker are averaged before the update), `@__mha_train_step` is replaced
    by two functions:

    * `@__mha_grad_step(inputs..., labels[, dropout_key]) -> (loss,
      predictions, gradients...)`, one gradient per parameter;
    * `@__mha_apply_update(step, m..., v..., gradients...) -> (new
      parameters..., new m..., new v...)`.
  }];
  let options = [
    Option<"splitUpdate", "split-update", "bool", /*default=*/"false",
           "Emit the gradient computation and the optimizer update as two "
           "functions (__mha_grad_step, __mha_apply_update)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // MHA_DIALECT_MHA_TRANSFORMS_PASSES_TD
