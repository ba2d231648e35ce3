//===- MHADialect.td - MHA dialect definition --------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the `mha` dialect: the language model files are written
// in. Rationale for its design lives in the dialect description below, which
// `add_mlir_doc` turns into docs/Dialects/MHADialect.md.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHADIALECT_TD
#define MHA_DIALECT_MHA_IR_MHADIALECT_TD

include "mlir/IR/OpBase.td"

def MHA_Dialect : Dialect {
  let name = "mha";
  let cppNamespace = "::mlir::mha";
  let summary = "Tensor-level operations for attention models and their training";
  let description = [{
    The `mha` dialect is the language in which transformer and attention models
    are written as text files. It sits above `linalg`: each op is one layer or
    one piece of mathematics a model author thinks in (a Dense layer, splitting
    heads, softmax, a fused attention), and passes lower it to loops, vectors or
    GPU kernels.

    ### Values and types

    All compute ops take and return ranked tensors. Floating-point data is
    `f32` everywhere; `f16` and `bf16` are accepted where the op makes sense
    (everything but the losses' integer labels). Lowerings accumulate in `f32`
    whatever the storage type. Batch and sequence dimensions may be dynamic
    (`?`): a model compiled once runs on inputs of any batch size and sequence
    length. Model dimensions (features, heads, head depth) are normally static.

    Result types are inferred from the operands wherever that is possible, so a
    model file names only operand types; the verifier (or the type inference
    run while parsing) rejects inconsistent shapes with a message naming the
    operands and the shapes involved.

    ### Broadcasting

    `mha.add`, `mha.mul`, the additive/boolean mask of `mha.attention` and
    `mha.apply_mask` follow NumPy's rule: shapes are aligned at their trailing
    dimension, a missing leading dimension counts as 1, and two dimensions are
    compatible when they are equal or one of them is 1; the result takes the
    larger. A dynamic dimension `?` is compatible with anything: against a
    static size N > 1 the result is N, otherwise `?`. A dynamic dimension is
    never *broadcast* at run time: `?` against `?` means the two are equal.

    ### Parameters and training configuration

    Trainable parameters are module-level symbols declared with `mha.param`,
    each with a static shape and an initializer (`#mha.init<...>`); functions
    read them with `mha.get_param`. The module-level `mha.training` op states
    what Keras' `compile()` and `fit()` state: the model function, the loss, the
    optimizer and its hyper-parameters, epochs, batch size, metrics and the
    dataset.

    ```mlir
    mha.param @w : tensor<16x1xf32> init <glorot_uniform>
    mha.param @b : tensor<1xf32> init <zeros>
    func.func @forward(%x: tensor<?x16xf32>) -> tensor<?x1xf32> {
      %w = mha.get_param @w : tensor<16x1xf32>
      %b = mha.get_param @b : tensor<1xf32>
      %y = mha.dense %x, %w, %b : tensor<?x16xf32>, tensor<16x1xf32>, tensor<1xf32>
      %p = mha.sigmoid %y : tensor<?x1xf32>
      return %p : tensor<?x1xf32>
    }
    mha.training model = @forward loss = bce
        optimizer = <adam, learning_rate = 0.001> epochs = 20 batch_size = 32
        metrics = ["accuracy"]
    ```

    ### Numerics

    * `mha.softmax` subtracts the row maximum before exponentiating. A row whose
      entries are all `-inf` (every key masked out) yields zeros, not NaN; so
      `mha.attention` returns zeros for a query row whose keys are all masked.
    * `mha.bce_loss` on probabilities clamps them to [1e-7, 1 - 1e-7] before the
      logarithms (as Keras does); the `from_logits` form uses the stable
      `max(x, 0) - x*y + log(1 + exp(-|x|))`.
    * `mha.cross_entropy` is computed through a max-subtracted log-sum-exp.
  }];
  let useDefaultAttributePrinterParser = 1;
  // `mha.name` on a function argument: the name the model file gave it.
  let hasRegionArgAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Registers the attributes declared in MHAAttrs.td.
    void registerAttributes();
  }];
}

/// Base class for all ops of the dialect.
class MHA_Op<string mnemonic, list<Trait> traits = []>
    : Op<MHA_Dialect, mnemonic, traits>;

/// Floating-point element types the compute ops accept.
def MHA_Float : AnyTypeOf<[F32, F16, BF16], "f32, f16 or bf16">;

/// A ranked tensor of f32, f16 or bf16.
def MHA_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

/// Integer class labels.
def MHA_LabelTensor : RankedTensorOf<[I32, I64]>;

/// A mask: boolean (true keeps a score) or additive (added to the scores).
def MHA_MaskTensor : RankedTensorOf<[I1, F32, F16, BF16]>;

/// A scalar (rank-0) float tensor, the result of losses.
def MHA_ScalarTensor : 0DTensorOf<[F32, F16, BF16]>;

#endif // MHA_DIALECT_MHA_IR_MHADIALECT_TD
