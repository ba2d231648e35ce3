//===- MHAOps.td - MHA dialect operations ------------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The operations of the mha dialect. Each op has a summary, a description with
// its mathematics and an example; cross-operand shape rules live in C++
// verifiers or in result-type inference (MHAOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHAOPS_TD
#define MHA_DIALECT_MHA_IR_MHAOPS_TD

include "mha/Dialect/MHA/IR/MHADialect.td"
include "mha/Dialect/MHA/IR/MHAAttrs.td"
include "mha/Dialect/MHA/IR/MHAInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/TilingInterface.td"

/// An op with a reverse-mode gradient rule (MHAGradients.cpp).
def Differentiable : DeclareOpInterfaceMethods<MHA_DifferentiableOpInterface>;

/// An op whose result types are inferred from its operands and attributes.
class MHA_InferredOp<string mnemonic, list<Trait> traits = []>
    : MHA_Op<mnemonic, !listconcat(traits,
          [Pure, InferTypeOpAdaptor])>;

//===----------------------------------------------------------------------===//
// Parameters and training configuration
//===----------------------------------------------------------------------===//

def MHA_ParamOp : MHA_Op<"param", [Symbol, HasParent<"ModuleOp">]> {
  let summary = "Declares a trainable parameter";
  let description = [{
    Declares a trainable tensor of static shape, named by a symbol, with the
    initializer used when no saved value is loaded. Functions read it with
    `mha.get_param`; training updates it.

    ```mlir
    mha.param @wq : tensor<16x512xf32> init <glorot_uniform>
    mha.param @bq : tensor<512xf32> init <zeros>
    mha.param @emb : tensor<32x64xf32> init <normal, std = 2.0e-02>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<MHA_FloatTensor>:$type,
                       MHA_InitializerAttr:$init);
  let assemblyFormat = "$sym_name `:` $type `init` $init attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The declared tensor type of the parameter.
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
  }];
}

def MHA_GetParamOp : MHA_Op<"get_param",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Reads the current value of a trainable parameter";
  let description = [{
    Returns the value of the parameter declared by the `mha.param` named
    `name`; the result type must be the declared type.

    ```mlir
    %wq = mha.get_param @wq : tensor<16x512xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def MHA_TrainingOp : MHA_Op<"training",
    [HasParent<"ModuleOp">, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "States how the module's model is trained";
  let description = [{
    The module-level training configuration: what Keras' `compile()` and
    `fit()` state. `model` names the function mapping a batch of inputs to
    predictions; the loss compares them to the labels:

    | loss            | model output            | labels                    |
    |-----------------|-------------------------|---------------------------|
    | `bce`           | probabilities in (0, 1) | same shape, in {0, 1}     |
    | `bce_logits`    | logits                  | same shape, in {0, 1}     |
    | `mse`           | any                     | same shape                |
    | `cross_entropy` | logits [N, C]           | class indices [N]         |

    `metrics` is a list of names among `"accuracy"` (binary or categorical,
    following the loss) and `"mae"`. With `cross_entropy`, `ignore_index = I`
    gives the label of positions that count neither in the loss nor in the
    accuracy (padding in per-token labels [N, S]). `precision = bf16`
    trains in mixed precision: the matrix products of the forward and
    backward passes take bf16 operands (rounded to nearest even) and
    accumulate in f32, while the parameters, gradients and optimizer state
    stay f32 (`f32`, the default, keeps every product in f32). At most one
    `mha.training` per module.
    Every field may be overridden from the `mha-run` command line.

    ```mlir
    mha.training model = @forward loss = bce
        optimizer = <adam, learning_rate = 1.0e-03> epochs = 20 batch_size = 32
        metrics = ["accuracy"]
        dataset = <synthetic, samples = 4096, seq_len = 16>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$model,
                       MHA_LossKindAttr:$loss,
                       MHA_OptimizerAttr:$optimizer,
                       I64Attr:$epochs,
                       I64Attr:$batch_size,
                       OptionalAttr<StrArrayAttr>:$metrics,
                       OptionalAttr<MHA_DatasetAttr>:$dataset,
                       OptionalAttr<I64Attr>:$ignore_index,
                       OptionalAttr<MHA_PrecisionAttr>:$precision);
  let assemblyFormat = [{
    `model` `=` $model `loss` `=` $loss `optimizer` `=` $optimizer
    `epochs` `=` $epochs `batch_size` `=` $batch_size
    (`metrics` `=` $metrics^)? (`dataset` `=` $dataset^)?
    (`ignore_index` `=` $ignore_index^)? (`precision` `=` $precision^)?
    attr-dict
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Layers and linear algebra
//===----------------------------------------------------------------------===//

def MHA_DenseOp : MHA_InferredOp<"dense", [Differentiable]> {
  let summary = "Fully connected layer: x · W (+ b)";
  let description = [{
    `result[..., o] = sum_i input[..., i] * weight[i, o] (+ bias[o])`.
    The input has rank >= 1 and its last dimension matches the weight's first;
    the optional bias has the weight's second dimension. All element types are
    equal.

    ```mlir
    %y = mha.dense %x, %w, %b : tensor<?x?x16xf32>, tensor<16x512xf32>, tensor<512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$weight,
                       Optional<MHA_FloatTensor>:$bias);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)?
  }];
}

def MHA_EmbeddingOp : MHA_InferredOp<"embedding", [Differentiable]> {
  let summary = "Looks up rows of a table by integer ids (token embeddings)";
  let description = [{
    For a table [V, D] and integer ids [...] (i32 or i64, any shape):
    `result[..., d] = table[ids[...], d]`, shape [..., D]. Every id must lie
    in [0, V): the compiled code checks them before reading the table and
    reports the first bad one as a run-time error naming the op's location
    and V, never a read outside the table. The gradient with respect to the
    table is `mha.embedding_grad` (the rows' gradients summed per id); ids
    have none.

    ```mlir
    %x = mha.embedding %table, %tokens : tensor<256x64xf32>, tensor<?x?xi64>
    // %x : tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$table, MHA_LabelTensor:$ids);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` type($table) `,` type($ids)
  }];
}

def MHA_PositionsOp : MHA_InferredOp<"positions"> {
  let summary = "The positions 0 .. n-1 along one dimension, as i64 ids";
  let description = [{
    `result[i] = offset + i` for i in [0, size of `input`'s dimension `dim`)
    (`offset`: an optional rank-0 i64 tensor, 0 when absent): the ids of
    learned positional embeddings, looked up with `mha.embedding` and added
    to token embeddings (broadcast over the batch). Only the input's shape is
    read; nothing is differentiated through it. The offset places a chunk of
    a longer sequence, such as the one new token of a decoding step after
    `offset` cached ones (`mha-build-decode-step` sets it).

    ```mlir
    %pos = mha.positions %tokens dim = 1 : tensor<?x?xi64>
    // %pos : tensor<?xi64>
    %pe = mha.embedding %pos_table, %pos : tensor<512x64xf32>, tensor<?xi64>
    %next = mha.positions %token dim = 1 offset(%n : tensor<i64>) : tensor<1x1xi64>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       Optional<0DTensorOf<[I64]>>:$offset,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs RankedTensorOf<[I64]>:$result);
  let assemblyFormat = [{
    $input `dim` `=` $dim (`offset` `(` $offset^ `:` type($offset) `)`)?
    attr-dict `:` type($input)
  }];
}

def MHA_SinusoidalPositionsOp : MHA_InferredOp<"sinusoidal_positions"> {
  let summary = "The fixed sinusoidal position encodings of the Transformer";
  let description = [{
    For the positions p in [offset, offset + S) along dimension `dim` of
    `input` (only its shape is read; `offset` an optional rank-0 i64 tensor,
    0 when absent) and `features` = D (even):
    `result[p - offset, 2i] = sin(p / 10000^(2i/D))` and
    `result[p - offset, 2i+1] = cos(p / 10000^(2i/D))`, shape [S, D] f32
    ("Attention Is All You Need", section 3.5), computed in f32 at run time
    for any S. Added to token embeddings, it broadcasts over the batch.
    Constant: no gradient.

    ```mlir
    %pe = mha.sinusoidal_positions %tokens dim = 1 features = 64 : tensor<?x?xi64>
    // %pe : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       Optional<0DTensorOf<[I64]>>:$offset,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$dim,
                       ConfinedAttr<I64Attr, [IntPositive]>:$features);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $input `dim` `=` $dim `features` `=` $features
    (`offset` `(` $offset^ `:` type($offset) `)`)? attr-dict `:` type($input)
  }];
}

def MHA_RotaryOp : MHA_Op<"rotary", [Pure, AllTypesMatch<["input", "result"]>,
                                     Differentiable]> {
  let summary = "Rotary position embedding (RoPE) of queries or keys";
  let description = [{
    For `input` [..., S, D] (typically queries or keys [B, H, S, D] after
    `mha.split_heads`; D even), each pair of features (2i, 2i+1) at sequence
    position p (along dimension rank - 2, shifted by `offset`, an optional
    rank-0 i64 tensor) is rotated by the angle θ = p · `base`^(-2i/D)
    (RoFormer, Su et al. 2021; `base` defaults to 10000):

    `result[..., 2i] = x[2i] cos θ - x[2i+1] sin θ`,
    `result[..., 2i+1] = x[2i] sin θ + x[2i+1] cos θ`.

    Rotating queries and keys alike makes their dot products depend on the
    relative position only, and needs no position table (no context limit).
    With `inverse` the rotation is by -θ: that is the gradient, so
    differentiation emits the inverse op. The angle is computed in f32 at run
    time; decoding steps shift `offset` like `mha.positions`.

    ```mlir
    %qr = mha.rotary %q : tensor<?x8x?x64xf32>
    %kr = mha.rotary %k offset(%n : tensor<i64>) {base = 5.000000e+05 : f32} : tensor<?x8x?x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input,
                       Optional<0DTensorOf<[I64]>>:$offset,
                       DefaultValuedAttr<F32Attr, "10000.0">:$base,
                       UnitAttr:$inverse);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`offset` `(` $offset^ `:` type($offset) `)`)? (`inverse` $inverse^)?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def MHA_SplitHeadsOp : MHA_InferredOp<"split_heads", [Differentiable]> {
  let summary = "Splits the model dimension into heads: [B, S, H·D] -> [B, H, S, D]";
  let description = [{
    `result[b, h, s, d] = input[b, s, h * D + d]` with `D = E / num_heads`,
    where E, the input's last dimension, must be divisible by `num_heads`.

    ```mlir
    %qh = mha.split_heads %q into 8 heads : tensor<?x?x512xf32>
    // %qh : tensor<?x8x?x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input `into` $num_heads `heads` attr-dict `:` type($input)";
  let hasFolder = 1;
}

def MHA_MergeHeadsOp : MHA_InferredOp<"merge_heads", [Differentiable]> {
  let summary = "Merges heads back: [B, H, S, D] -> [B, S, H·D]";
  let description = [{
    The inverse of `mha.split_heads`:
    `result[b, s, h * D + d] = input[b, h, s, d]`.

    ```mlir
    %o = mha.merge_heads %oh : tensor<?x8x?x64xf32>
    // %o : tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasFolder = 1;
}

def MHA_ScaledMatmulOp : MHA_InferredOp<"scaled_matmul", [Differentiable]> {
  let summary = "Scaled batched product a · bᵀ × scale (attention scores)";
  let description = [{
    By default `rhs` is [..., N, K] (the key, used transposed) and
    `result[..., m, n] = scale * sum_k lhs[..., m, k] * rhs[..., n, k]`;
    with `untransposed` `rhs` is [..., K, N] and
    `result[..., m, n] = scale * sum_k lhs[..., m, k] * rhs[..., k, n]`.
    Both operands have the same rank >= 2 and compatible batch dimensions.
    `scale` defaults to 1/√K (Q·Kᵀ/√d_k); a dynamic K is then read at run
    time.

    ```mlir
    %s = mha.scaled_matmul %q, %k : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
    // %s : tensor<?x8x?x?xf32>, scaled by 0.125
    %t = mha.scaled_matmul %a, %b untransposed {scale = 2.0 : f32}
        : tensor<4x3xf32>, tensor<3x5xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$lhs, MHA_FloatTensor:$rhs,
                       UnitAttr:$untransposed, OptionalAttr<F32Attr>:$scale);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`untransposed` $untransposed^)? attr-dict `:` type($lhs) `,`
    type($rhs)
  }];
  let hasCanonicalizer = 1;
}

def MHA_MatmulOp : MHA_InferredOp<"matmul", [Differentiable]> {
  let summary = "Batched matrix product";
  let description = [{
    `result[..., m, n] = sum_k lhs[..., m, k] * rhs[..., k, n]`. Both operands
    have the same rank >= 2 and compatible batch dimensions.

    ```mlir
    %o = mha.matmul %p, %v : tensor<2x8x16x16xf32>, tensor<2x8x16x64xf32>
    // %o : tensor<2x8x16x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$lhs, MHA_FloatTensor:$rhs);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
}

//===----------------------------------------------------------------------===//
// Normalization and reductions
//===----------------------------------------------------------------------===//

def MHA_SoftmaxOp : MHA_Op<"softmax", [Pure, SameOperandsAndResultType,
                                       Differentiable]> {
  let summary = "Max-subtracted softmax along one axis";
  let description = [{
    `result = exp(x - max(x)) / sum(exp(x - max(x)))` along `axis` (negative
    values count from the back; default -1, the last axis). A slice whose
    entries are all `-inf` yields zeros.

    ```mlir
    %p = mha.softmax %s : tensor<?x8x?x?xf32>
    %c = mha.softmax %s axis = 1 : tensor<2x4x8xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input (`axis` `=` $axis^)? attr-dict `:` type($input)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The axis as a non-negative dimension index.
    int64_t getNormalizedAxis();
  }];
}

def MHA_ReduceOp : MHA_InferredOp<"reduce", [Differentiable]> {
  let summary = "Sum, mean or max over some dimensions";
  let description = [{
    Reduces `input` over `dims` (distinct, negative values count from the
    back) with `sum`, `mean` or `max`. The reduced dimensions are dropped, or
    kept as size 1 with `keep_dims`.

    ```mlir
    %pooled = mha.reduce mean %h dims = [1] : tensor<?x?x512xf32>
    // %pooled : tensor<?x512xf32>
    %m = mha.reduce max %s dims = [-1] keep_dims : tensor<2x4xf32>
    // %m : tensor<2x1xf32>
    ```
  }];
  let arguments = (ins MHA_ReduceKindAttr:$kind, MHA_FloatTensor:$input,
                       DenseI64ArrayAttr:$dims, UnitAttr:$keep_dims);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $kind $input `dims` `=` $dims (`keep_dims` $keep_dims^)? attr-dict `:`
    type($input)
  }];
  let hasFolder = 1;
}

def MHA_LayerNormOp : MHA_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>,
                                           Differentiable]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    With `mu` and `var` the mean and (biased) variance of `input` over its last
    dimension D:
    `result = (input - mu) / sqrt(var + epsilon) * gamma + beta`,
    `gamma` and `beta` of shape [D]. `epsilon` (default 1e-5) is positive.

    ```mlir
    %n = mha.layer_norm %x, %g, %b : tensor<?x?x512xf32>, tensor<512xf32>, tensor<512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$gamma,
                       MHA_FloatTensor:$beta,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` type($input) `,` type($gamma) `,`
    type($beta)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Element-wise
//===----------------------------------------------------------------------===//

class MHA_BinaryOp<string mnemonic, string math, list<Trait> traits = []>
    : MHA_InferredOp<mnemonic, !listconcat(traits, [Differentiable])> {
  let summary = "Broadcasting element-wise " # math;
  let arguments = (ins MHA_FloatTensor:$lhs, MHA_FloatTensor:$rhs);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasFolder = 1;
  // All binary ops share one broadcasting rule (inferBroadcast, MHAOps.cpp).
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *, std::optional<::mlir::Location> loc,
        Adaptor adaptor, ::llvm::SmallVectorImpl<::mlir::Type> &results) {
      return inferBroadcast(InferError{loc, getOperationName()},
                            adaptor.getLhs(), adaptor.getRhs(), results);
    }
  }];
}

def MHA_AddOp : MHA_BinaryOp<"add", "sum", [Commutative]> {
  let description = [{
    `result = lhs + rhs` under the dialect's broadcasting rule (NumPy's). Folds
    `x + 0` to `x` when no broadcasting happens.

    ```mlir
    %r = mha.add %x, %attn : tensor<?x?x512xf32>, tensor<?x?x512xf32>
    %b = mha.add %x, %bias : tensor<2x3x4xf32>, tensor<4xf32>
    ```
  }];
}

def MHA_SubOp : MHA_BinaryOp<"sub", "difference"> {
  let description = [{
    `result = lhs - rhs` under the dialect's broadcasting rule (NumPy's). Folds
    `x - 0` to `x` when no broadcasting happens.

    ```mlir
    %d = mha.sub %x, %m : tensor<2x3x4xf32>, tensor<2x3x1xf32>
    ```
  }];
}

def MHA_MulOp : MHA_BinaryOp<"mul", "product", [Commutative]> {
  let description = [{
    `result = lhs * rhs` under the dialect's broadcasting rule (NumPy's). Folds
    `x * 1` to `x` when no broadcasting happens.

    ```mlir
    %r = mha.mul %x, %g : tensor<2x3x4xf32>, tensor<1x3x1xf32>
    ```
  }];
}

class MHA_UnaryOp<string mnemonic, string math>
    : MHA_Op<mnemonic, [Pure, SameOperandsAndResultType, Elementwise,
                        Differentiable]> {
  let summary = "Element-wise " # math;
  let arguments = (ins MHA_FloatTensor:$input);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def MHA_ReluOp : MHA_UnaryOp<"relu", "rectifier max(x, 0)"> {
  let description = [{
    `result = max(input, 0)`.

    ```mlir
    %h = mha.relu %x : tensor<?x1024xf32>
    ```
  }];
}

def MHA_GeluOp : MHA_UnaryOp<"gelu", "Gaussian error linear unit"> {
  let description = [{
    `result = x/2 * (1 + erf(x/√2))`, or with `approximate` the tanh form
    `x/2 * (1 + tanh(√(2/π) * (x + 0.044715 x³)))`.

    ```mlir
    %h = mha.gelu %x : tensor<?x?x2048xf32>
    %a = mha.gelu %x approximate : tensor<?x?x2048xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, UnitAttr:$approximate);
  let assemblyFormat = "$input (`approximate` $approximate^)? attr-dict `:` type($input)";
}

def MHA_DropoutOp : MHA_Op<"dropout", [Pure, AllTypesMatch<["input", "result"]>,
                                       Differentiable]> {
  let summary = "Dropout: zero each element with probability `rate` in training";
  let description = [{
    Without `key` (the model as written, evaluation, inference, generation)
    the op is the identity. With a `key` (a rank-0 i64 tensor; the training
    step built by `mha-build-train-step` passes one per update, derived from
    the run's seed and the update count) each element is kept with
    probability 1 - `rate` and scaled by 1 / (1 - `rate`), or set to zero
    ("inverted dropout", so evaluation needs no rescaling).

    Which elements drop is a pure function of (`key`, `stream`, the
    element's row-major index): a counter-based hash (SplitMix64's
    finalizer) whose top 24 bits are compared with `rate` · 2^24. So a run
    is deterministic under its seed, a resumed run draws what the
    uninterrupted one would have, and the gradient, which is the same
    dropout applied to the result's gradient, needs no stored mask.
    `stream` separates the dropout ops of one model (the training step
    numbers them in program order).

    Dropout on attention probabilities is written between the softmax and
    the product with V; such a chain is not fused into `mha.attention`.

    ```mlir
    %h = mha.dropout %x rate = 1.000000e-01 : tensor<?x?x512xf32>
    %t = mha.dropout %x rate = 1.000000e-01 key(%k : tensor<i64>) {stream = 3 : i64} : tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, Optional<0DTensorOf<[I64]>>:$key,
                       F32Attr:$rate, OptionalAttr<I64Attr>:$stream);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `rate` `=` $rate (`key` `(` $key^ `:` type($key) `)`)? attr-dict
    `:` type($input)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def MHA_SigmoidOp : MHA_UnaryOp<"sigmoid", "logistic function"> {
  let description = [{
    `result = 1 / (1 + exp(-input))`.

    ```mlir
    %p = mha.sigmoid %logit : tensor<?x1xf32>
    ```
  }];
}

def MHA_TanhOp : MHA_UnaryOp<"tanh", "hyperbolic tangent"> {
  let description = [{
    `result = tanh(input)`.

    ```mlir
    %t = mha.tanh %x : tensor<4xf32>
    ```
  }];
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def MHA_ApplyMaskOp : MHA_Op<"apply_mask", [Pure, AllTypesMatch<["scores", "result"]>,
                                           Differentiable]> {
  let summary = "Masks attention scores: masked entries become -inf";
  let description = [{
    On scores [..., Sq, Sk]:
    * a boolean `mask` sets the entries where it is `false` to `-inf`;
    * an additive (float) `mask` is added to the scores;
    * `causal` sets `scores[..., i, j]` to `-inf` where `j > i` (top-left
      aligned, so no row is ever fully masked by `causal` alone).
    The mask broadcasts to the scores' shape. Without mask or `causal` the op
    is the identity and folds away. Used by `mha-decompose-attention`.

    With `zero_fill`, masked entries become 0 instead of `-inf` and an
    additive mask is not added: this is the op's own gradient (the adjoint
    passes gradients through where scores were kept).

    ```mlir
    %m = mha.apply_mask %s mask(%keep : tensor<?x1x1x?xi1>) causal : tensor<?x8x?x?xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$scores, Optional<MHA_MaskTensor>:$mask,
                       UnitAttr:$causal, UnitAttr:$zero_fill);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $scores (`mask` `(` $mask^ `:` type($mask) `)`)? (`causal` $causal^)?
    (`zero_fill` $zero_fill^)? attr-dict `:` type($scores)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def MHA_AttentionOp : MHA_InferredOp<"attention",
    [DeclareOpInterfaceMethods<MHA_DecomposableOpInterface>]> {
  let summary = "Scaled dot-product attention: softmax(Q·Kᵀ·scale + mask)·V";
  let description = [{
    For query [..., Sq, D], key [..., Sk, D] and value [..., Sk, Dv] (typically
    [B, H, S, D], batch dimensions compatible):

    `result = softmax(mask(query · keyᵀ · scale)) · value`, shape [..., Sq, Dv],

    with `scale` defaulting to 1/√D and the softmax over the key axis. The
    optional `mask` broadcasts to [..., Sq, Sk]: a boolean mask keeps the
    entries where it is `true`; a float mask is added to the scores (use
    `-inf` or a large negative number to exclude). `causal` excludes keys
    `j > i` without any materialized mask. A query row whose keys are all
    masked out produces zeros.

    Lowerings are free to compute this fused and tiled (online softmax, no
    Sq × Sk matrix). The op's decomposition (`DecomposableOpInterface`,
    applied by `mha-decompose-attention`) is its reference semantics:
    `scaled_matmul`, `apply_mask`, `softmax`, `matmul`.

    ```mlir
    %o = mha.attention %q, %k, %v causal : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
    %m = mha.attention %q, %k, %v mask(%pad : tensor<?x1x1x?xi1>) {scale = 1.0e-01 : f32}
        : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$query, MHA_FloatTensor:$key,
                       MHA_FloatTensor:$value, Optional<MHA_MaskTensor>:$mask,
                       OptionalAttr<F32Attr>:$scale, UnitAttr:$causal);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`causal` $causal^)? attr-dict `:` type($query) `,` type($key) `,`
    type($value)
  }];
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

def MHA_BCELossOp : MHA_InferredOp<"bce_loss", [Differentiable]> {
  let summary = "Mean binary cross-entropy";
  let description = [{
    On probabilities p (clamped to [1e-7, 1 - 1e-7]) and targets y of the same
    shape: `mean(-(y log p + (1 - y) log(1 - p)))`. With `from_logits` the
    input is a logit x and the stable form
    `mean(max(x, 0) - x y + log(1 + exp(-|x|)))` is used. Returns a rank-0
    tensor.

    ```mlir
    %l = mha.bce_loss %p, %y : tensor<?x1xf32>, tensor<?x1xf32>
    %m = mha.bce_loss %logit, %y from_logits : tensor<?x1xf32>, tensor<?x1xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$target,
                       UnitAttr:$from_logits);
  let results = (outs MHA_ScalarTensor:$result);
  let assemblyFormat = [{
    $input `,` $target (`from_logits` $from_logits^)? attr-dict `:`
    type($input) `,` type($target)
  }];
}

def MHA_MSELossOp : MHA_InferredOp<"mse_loss", [Differentiable]> {
  let summary = "Mean squared error";
  let description = [{
    `mean((input - target)^2)` over all elements of two tensors of the same
    shape; returns a rank-0 tensor.

    ```mlir
    %l = mha.mse_loss %pred, %y : tensor<?x4xf32>, tensor<?x4xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$target);
  let results = (outs MHA_ScalarTensor:$result);
  let assemblyFormat = "$input `,` $target attr-dict `:` type($input) `,` type($target)";
}

def MHA_CrossEntropyOp : MHA_InferredOp<"cross_entropy", [Differentiable]> {
  let summary = "Mean softmax cross-entropy with integer class labels";
  let description = [{
    For logits [..., C] and integer labels [...] (i32 or i64) in [0, C):
    `mean(logsumexp(logits[..., :]) - logits[..., label])`, computed with the
    row maximum subtracted. Returns a rank-0 tensor.

    With `ignore_index = I` (for instance the label of padding positions in
    per-token labels [B, S]), positions labelled I contribute nothing and the
    mean is over the other positions (0 when every position is ignored);
    I itself may lie outside [0, C).

    ```mlir
    %l = mha.cross_entropy %logits, %labels : tensor<?x10xf32>, tensor<?xi64>
    %t = mha.cross_entropy %logits, %tokens ignore_index = -1 : tensor<?x?x256xf32>, tensor<?x?xi64>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$logits, MHA_LabelTensor:$labels,
                       OptionalAttr<I64Attr>:$ignore_index);
  let results = (outs MHA_ScalarTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels (`ignore_index` `=` $ignore_index^)? attr-dict `:`
    type($logits) `,` type($labels)
  }];
}

//===----------------------------------------------------------------------===//
// Shape manipulation used by gradients
//===----------------------------------------------------------------------===//

def MHA_TransposeOp : MHA_InferredOp<"transpose", [Differentiable]> {
  let summary = "Permutes dimensions";
  let description = [{
    Result dimension `d` is input dimension `permutation[d]`: the result
    element at index `j` is the input element at index `i` where
    `i[permutation[d]] = j[d]` for every `d`.

    ```mlir
    %t = mha.transpose %x perm = [0, 2, 1] : tensor<2x3x4xf32>
    // %t : tensor<2x4x3xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input `perm` `=` $permutation attr-dict `:` type($input)";
  let hasFolder = 1;
}

def MHA_BroadcastToOp : MHA_Op<"broadcast_to", [Pure,
    AllElementTypesMatch<["input", "like", "result"]>,
    AllTypesMatch<["like", "result"]>]> {
  let summary = "Broadcasts a tensor to the shape of another";
  let description = [{
    Inserts size-1 dimensions at positions `dims` of the result (so `input`
    has `rank(like) - size(dims)` dimensions), then broadcasts NumPy-style to
    the shape of `like`. With `average`, each element is divided by the
    number of result elements it was copied to. This is the adjoint of
    `mha.reduce` (sum, and mean with `average`).

    ```mlir
    %b = mha.broadcast_to %dy like %x dims = [1] average : tensor<?x512xf32>, tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$like,
                       DenseI64ArrayAttr:$dims, UnitAttr:$average);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `like` $like `dims` `=` $dims (`average` $average^)? attr-dict `:`
    type($input) `,` type($like)
  }];
  let hasVerifier = 1;
}

def MHA_ReduceToOp : MHA_Op<"reduce_to", [Pure,
    AllElementTypesMatch<["input", "like", "result"]>,
    AllTypesMatch<["like", "result"]>]> {
  let summary = "Sums a broadcast result back to the shape of an operand";
  let description = [{
    The adjoint of NumPy broadcasting: sums `input` over the dimensions along
    which `like` was broadcast to `input`'s shape (leading dimensions `like`
    lacks, and static size-1 dimensions of `like`), giving `like`'s shape.
    Folds to `input` when the types already agree.

    ```mlir
    %db = mha.reduce_to %dy like %b : tensor<2x3x4xf32>, tensor<4xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$like);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input `like` $like attr-dict `:` type($input) `,` type($like)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Gradient ops (produced by mha-autodiff)
//===----------------------------------------------------------------------===//

def MHA_DenseWeightGradOp : MHA_InferredOp<"dense_weight_grad"> {
  let summary = "Gradient of a Dense layer's weight: sum over rows of xᵀ·dy";
  let description = [{
    For x [..., in] and dy [..., out] with the same leading dimensions:
    `result[i, o] = sum_{rows r} x[r, i] * dy[r, o]`, shape [in, out].

    ```mlir
    %dw = mha.dense_weight_grad %x, %dy : tensor<?x?x16xf32>, tensor<?x?x512xf32>
    // %dw : tensor<16x512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$result_grad);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $result_grad attr-dict `:` type($input) `,` type($result_grad)
  }];
}

def MHA_EmbeddingGradOp : MHA_Op<"embedding_grad", [Pure,
    AllTypesMatch<["table", "result"]>]> {
  let summary = "Gradient of mha.embedding with respect to its table";
  let description = [{
    For the table [V, D] (only its type and size are used), ids [...] and the
    embedding's result gradient dy [..., D]:
    `result[v, d] = sum over positions p with ids[p] == v of dy[p, d]`, a
    scatter-add; rows of ids that never occur are zero. Ids are checked to lie
    in [0, V) as `mha.embedding` checks them.

    ```mlir
    %dt = mha.embedding_grad %table, %tokens, %dy : tensor<256x64xf32>, tensor<?x?xi64>, tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$table, MHA_LabelTensor:$ids,
                       MHA_FloatTensor:$result_grad);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids `,` $result_grad attr-dict `:` type($table) `,`
    type($ids) `,` type($result_grad)
  }];
  let hasVerifier = 1;
}

def MHA_ReduceMaxGradOp : MHA_Op<"reduce_max_grad", [Pure,
    AllTypesMatch<["input", "result"]>, AllTypesMatch<["max", "result_grad"]>]> {
  let summary = "Gradient of mha.reduce max";
  let description = [{
    Sends each reduced slice's gradient to the elements equal to its maximum
    (`max`, the forward result), zero elsewhere; `dims` and `keep_dims` are
    the forward's.

    ```mlir
    %dx = mha.reduce_max_grad %x, %m, %dm dims = [1] : tensor<2x4xf32>, tensor<2xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$max,
                       MHA_FloatTensor:$result_grad, DenseI64ArrayAttr:$dims,
                       UnitAttr:$keep_dims);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $max `,` $result_grad `dims` `=` $dims (`keep_dims` $keep_dims^)?
    attr-dict `:` type($input) `,` type($max)
  }];
}

def MHA_ReluGradOp : MHA_Op<"relu_grad", [Pure, AllTypesMatch<["input", "result_grad", "result"]>]> {
  let summary = "Gradient of relu: dy where x > 0, else 0";
  let description = [{
    `result = x > 0 ? dy : 0`.

    ```mlir
    %dx = mha.relu_grad %x, %dy : tensor<?x1024xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$result_grad);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = "$input `,` $result_grad attr-dict `:` type($input)";
}

def MHA_GeluGradOp : MHA_Op<"gelu_grad", [Pure, AllTypesMatch<["input", "result_grad", "result"]>]> {
  let summary = "Gradient of gelu";
  let description = [{
    `result = dy * gelu'(x)`: with Φ and φ the standard normal CDF and
    density, `gelu'(x) = Φ(x) + x φ(x)`; with `approximate`, the derivative of
    the tanh form.

    ```mlir
    %dx = mha.gelu_grad %x, %dy : tensor<?x?x2048xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$result_grad,
                       UnitAttr:$approximate);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $result_grad (`approximate` $approximate^)? attr-dict `:`
    type($input)
  }];
}

def MHA_AttentionWithLSEOp : MHA_InferredOp<"attention_with_lse", [Differentiable]> {
  let summary = "mha.attention that also returns each query's log-sum-exp";
  let description = [{
    Computes `mha.attention` and, per query row, `lse = log(sum_j exp(s_j))`
    over its masked, scaled scores (`-inf` for a fully masked row), f32 of
    shape [..., Sq]. These row statistics are what the backward pass
    (`mha.attention_grad`) needs to recompute the probabilities without
    storing the Sq × Sk matrix. `mha-autodiff` substitutes it for
    `mha.attention`.

    ```mlir
    %o, %lse = mha.attention_with_lse %q, %k, %v causal : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$query, MHA_FloatTensor:$key,
                       MHA_FloatTensor:$value, Optional<MHA_MaskTensor>:$mask,
                       OptionalAttr<F32Attr>:$scale, UnitAttr:$causal);
  let results = (outs MHA_FloatTensor:$result, RankedTensorOf<[F32]>:$lse);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`causal` $causal^)? attr-dict `:` type($query) `,` type($key) `,`
    type($value)
  }];
}

def MHA_AttentionGradOp : MHA_Op<"attention_grad", [Pure,
    AllTypesMatch<["query", "query_grad"]>, AllTypesMatch<["key", "key_grad"]>,
    AllTypesMatch<["value", "value_grad"]>, AllTypesMatch<["result", "result_grad"]>]> {
  let summary = "Backward of attention from saved log-sum-exp (FlashAttention style)";
  let description = [{
    Given the forward's operands, its output O, the per-row log-sum-exp `lse`
    and dO, recomputes the probabilities `P = exp(mask(Q·Kᵀ·scale) - lse)`
    and returns

    * dV = Pᵀ·dO,
    * dS = P ⊙ (dO·Vᵀ - rowsum(dO ⊙ O)), the gradient of the masked scores,
    * dQ = scale · dS·K and dK = scale · dSᵀ·Q,
    * with `mask_grad` (only for an additive mask): d mask = dS summed over
      the dimensions along which the mask was broadcast (a trainable
      attention bias, relative-position bias or ALiBi slopes learn through
      it). Keys excluded by `causal` contribute nothing.

    The Sq × Sk probabilities are recomputed here, never kept from the
    forward pass. `scale`, `mask` and `causal` are the forward's; without
    `scale` it is 1/√D, read at run time when D is dynamic. An unused
    `mask_grad` result is dropped by canonicalization.

    ```mlir
    %dq, %dk, %dv = mha.attention_grad %q, %k, %v, %o, %lse, %do
        : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
    %dq2, %dk2, %dv2, %dbias = mha.attention_grad %q, %k, %v, %o, %lse, %do
        mask(%bias : tensor<8x?x?xf32>) : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>,
        tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?xf32>, mask_grad tensor<8x?x?xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$query, MHA_FloatTensor:$key,
                       MHA_FloatTensor:$value, MHA_FloatTensor:$result,
                       RankedTensorOf<[F32]>:$lse, MHA_FloatTensor:$result_grad,
                       Optional<MHA_MaskTensor>:$mask,
                       OptionalAttr<F32Attr>:$scale, UnitAttr:$causal);
  let results = (outs MHA_FloatTensor:$query_grad, MHA_FloatTensor:$key_grad,
                      MHA_FloatTensor:$value_grad,
                      Optional<MHA_FloatTensor>:$mask_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $result `,` $lse `,` $result_grad
    (`mask` `(` $mask^ `:` type($mask) `)`)? (`causal` $causal^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($result) `,`
    type($lse) (`,` `mask_grad` type($mask_grad)^)?
  }];
  let builders = [
    // Infers every result type; `withMaskGrad` adds the additive mask's
    // gradient (of the mask's type).
    OpBuilder<(ins "Value":$query, "Value":$key, "Value":$value,
                   "Value":$result, "Value":$lse, "Value":$result_grad,
                   "Value":$mask, "FloatAttr":$scale, "UnitAttr":$causal,
                   "bool":$withMaskGrad)>
  ];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def MHA_OnlineAttentionOp : MHA_Op<"online_attention", [Pure,
    DestinationStyleOpInterface,
    AllTypesMatch<["acc", "new_acc"]>, AllTypesMatch<["max", "new_max"]>,
    AllTypesMatch<["sum", "new_sum"]>,
    DeclareOpInterfaceMethods<TilingInterface,
        ["getLoopIteratorTypes", "getIterationDomain",
         "getTiledImplementation", "getResultTilePosition"]>]> {
  let summary = "The tiled form of attention: an online-softmax update";
  let description = [{
    The step flash attention repeats over blocks of keys, as an op: given
    the running state of each query row (`max` m, `sum` l and the
    accumulator `acc`, as left by earlier keys), it takes in the keys and
    values it is given and returns the updated state:

    * s = mask(query · keyᵀ · scale) over these keys (a boolean mask keeps
      the entries where it is nonzero, a float one is added; with `causal`,
      key `key_offset + j` is excluded from query `query_offset + i` when it
      comes after it),
    * m' = max(m, rowmax(s)), α = exp(m − m') (0 while m = −∞),
      P = exp(s − m') (0 while m' = −∞),
    * l' = α·l + rowsum(P), acc' = α·acc + P·value.

    Started from m = −∞, l = 0, acc = 0 and applied to every key, acc' / l'
    is attention's output (zero rows where l' = 0) and m' + log l' the rows'
    log-sum-exp. Shapes: query [..., Sq, D], key [..., Sk, D] ([..., D, Sk]
    with `key_transposed`), value [..., Sk, Dv], acc [..., Sq, Dv], max and
    sum [..., Sq], all running state f32; batch dimensions of key and value
    equal the query's or are 1 (broadcast); the mask broadcasts to
    [..., Sq, Sk]. The offsets are the positions of the first query and key
    in the whole sequences (for `causal`); `scale` is an f32 value (1/√D is
    known only at run time when D is dynamic).

    It implements `TilingInterface` over [batch..., Sq, Sk] (batch and query
    dimensions parallel, keys a reduction): tiling it by blocks of queries
    and keys gives the flash loops, each tile the same op on slices with
    its offsets moved, the running state carried by the key loop.
    `convert-mha-to-linalg` lowers each tile (batch dimensions of size 1)
    into the block's linalg ops; the fused forward lowering of
    `mha.attention` builds its key loop from it, so the block's mathematics
    lives in that one lowering, for every target that tiles the op.

    ```mlir
    %acc1, %m1, %l1 = mha.online_attention %q, %k, %v offsets(%qb, %kb)
        scale(%scale) causal outs(%acc, %m, %l)
        : tensor<128x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>
        -> tensor<128x64xf32>, tensor<128xf32>, tensor<128xf32>
    ```
  }];
  // The mask comes last: the running state keeps fixed positions (the
  // destination operands; result types follow from them).
  let arguments = (ins MHA_FloatTensor:$query, MHA_FloatTensor:$key,
                       MHA_FloatTensor:$value,
                       Index:$query_offset, Index:$key_offset, F32:$scale,
                       RankedTensorOf<[F32]>:$acc, RankedTensorOf<[F32]>:$max,
                       RankedTensorOf<[F32]>:$sum,
                       Optional<RankedTensorOf<[I1, I8, F32, F16, BF16]>>:$mask,
                       UnitAttr:$causal, UnitAttr:$key_transposed);
  let results = (outs RankedTensorOf<[F32]>:$new_acc,
                      RankedTensorOf<[F32]>:$new_max,
                      RankedTensorOf<[F32]>:$new_sum);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    `offsets` `(` $query_offset `,` $key_offset `)` `scale` `(` $scale `)`
    (`causal` $causal^)? (`key_transposed` $key_transposed^)?
    `outs` `(` $acc `,` $max `,` $sum `)` attr-dict `:` type($query) `,`
    type($key) `,` type($value) `->` type($acc) `,` type($max) `,` type($sum)
  }];
  let extraClassDeclaration = [{
    /// The running state (acc, max, sum): operands 6 to 8.
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getOperation(), 6, 3);
    }
    /// The number of batch dimensions (query rank - 2).
    int64_t getNumBatchDims() {
      return getQuery().getType().getRank() - 2;
    }
  }];
  let hasVerifier = 1;
}

def MHA_GPUAttentionOp : MHA_Op<"gpu_attention", [AttrSizedOperandSegments]> {
  let summary = "Attention on GPU buffers, computed by one tensor-core kernel";
  let description = [{
    Attention (`softmax(mask(query · keyᵀ · scale)) · value`, with `causal`
    excluding keys `j > i` and an optional `mask` as `mha.attention`'s: a
    boolean one keeps the scores where it is true, a float one is added;
    it broadcasts to [B..., Sq, Sk], its dimensions of static size 1
    broadcast) on buffers in GPU memory, the form
    `mha-gpu-attention-kernel-ops` gives an eligible `mha.attention` in
    `mha-lower-to-gpu{tensor-cores}` and `mha-gpu-lower-tensor-core-kernels`
    turns into one kernel: a block of `block_q / 16` warps per `block_q`
    query rows of a batch position (16 rows a warp), keys and values staged
    in shared memory `block_k` rows at a time, Q·Kᵀ and P·V on tensor cores
    (`mma.sync` m16n8k16, f16/bf16 operands, f32 accumulation), the online
    softmax in registers. A row whose keys are all excluded gives zeros.
    With `tf32` the operands are f32 and the two products run on their
    TF32 roundings (`mma.sync` m16n8k8 `.tf32`, each element of Q, K, V
    and P rounded to 10 bits of mantissa, as PyTorch's `allow_tf32`),
    an opt-in.

    Operands: query [B..., Sq, D], key [B..., Sk, D], value [B..., Sk, D]
    and the output [B..., Sq, D] it writes (with `lse`, also each row's
    log-sum-exp, f32 [B..., Sq], as `mha.attention_with_lse` gives it: -inf
    for a row that saw no key), all f16 or all bf16 (all f32 with `tf32`,
    and only then) with an
    identity layout, at least one batch dimension, D static and a multiple
    of 16. Batch sizes and lengths must agree at run time (checked on the
    host before the op, where it is made), and the buffers' data must start
    16 bytes aligned, as device allocations (`gpu.alloc`) do: the kernel
    copies keys and values 16 bytes a load.

    ```mlir
    mha.gpu_attention %q, %k, %v, %o lse(%l : memref<?x8x?xf32>)
        {scale = 0.125 : f32, causal, block_q = 64 : i64, block_k = 64 : i64}
      : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>,
        memref<?x8x?x64xbf16>
    ```
  }];
  let arguments = (ins Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$query,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$key,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$value,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemWrite]>:$output,
                       Arg<Optional<MemRefOf<[F32]>>, "", [MemWrite]>:$lse,
                       Arg<Optional<MemRefOf<[I1, F32, F16, BF16]>>, "",
                           [MemRead]>:$mask,
                       F32Attr:$scale, UnitAttr:$causal,
                       I64Attr:$block_q, I64Attr:$block_k, UnitAttr:$tf32);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`mask` `(` $mask^ `:` type($mask) `)`)? attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($output)
  }];
  let hasVerifier = 1;
}

def MHA_GPUAttentionGradOp : MHA_Op<"gpu_attention_grad"> {
  let summary = "Attention's backward on GPU buffers, by two tensor-core kernels";
  let description = [{
    `mha.attention_grad` (without a mask gradient) on buffers in GPU memory,
    the form `mha-gpu-attention-kernel-ops` gives an eligible one in
    `mha-lower-to-gpu{tensor-cores}`: from the forward's operands, its
    output O, the rows' log-sum-exp `lse` and dO it writes dQ, dK and dV,
    FlashAttention-2's backward without atomics.
    `mha-gpu-lower-tensor-core-kernels` turns it into two kernels on tensor
    cores (`mma.sync` m16n8k16, f16/bf16 operands, f32 accumulation; with
    `tf32`, f32 operands and m16n8k8 `.tf32` on their TF32 roundings, as
    `mha.gpu_attention`'s):

    * over blocks of `block_rows` query rows (16 a warp), keys and values
      staged in shared memory `key_tile` rows at a time: D = rowsum(dO ⊙ O)
      (kept in a scratch buffer for the second kernel), P recomputed from
      the scores and `lse`, dS = P ⊙ (dO·Vᵀ − D), dQ = scale · dS·K;
    * over blocks of `block_rows` key rows, queries and dO staged
      `query_tile` rows at a time: the same P and dS transposed,
      dV = Pᵀ·dO, dK = scale · dSᵀ·Q.

    `scale`, `causal` and `mask` are the forward's (as `mha.gpu_attention`
    takes them). Operands: query, output, output_grad and query_grad
    [B..., Sq, D], key, value, key_grad and value_grad [B..., Sk, D], all f16
    or all bf16 (all f32 with `tf32`, and only then) with an identity
    layout, D static and a multiple of 16;
    lse f32 [B..., Sq]. Sizes must agree at run time (checked on the host
    where the op is made); the buffers' data start 16 bytes aligned.

    ```mlir
    mha.gpu_attention_grad %q, %k, %v, %o, %lse, %do, %dq, %dk, %dv
        {scale = 0.125 : f32, causal, block_rows = 64 : i64,
         key_tile = 64 : i64, query_tile = 64 : i64}
      : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>,
        memref<?x8x?x64xbf16>, memref<?x8x?xf32>, memref<?x8x?x64xbf16>,
        memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>
    ```
  }];
  let arguments = (ins Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$query,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$key,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$value,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$output,
                       Arg<MemRefOf<[F32]>, "", [MemRead]>:$lse,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$output_grad,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemWrite]>:$query_grad,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemWrite]>:$key_grad,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemWrite]>:$value_grad,
                       Arg<Optional<MemRefOf<[I1, F32, F16, BF16]>>, "",
                           [MemRead]>:$mask,
                       F32Attr:$scale, UnitAttr:$causal, I64Attr:$block_rows,
                       I64Attr:$key_tile, I64Attr:$query_tile,
                       UnitAttr:$tf32);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $lse `,` $output_grad `,`
    $query_grad `,` $key_grad `,` $value_grad
    (`mask` `(` $mask^ `:` type($mask) `)`)? attr-dict `:` type($query) `,`
    type($key) `,` type($value) `,` type($output) `,` type($lse) `,`
    type($output_grad) `,` type($query_grad) `,` type($key_grad) `,`
    type($value_grad)
  }];
  let hasVerifier = 1;
}

def MHA_GPUMatmulOp : MHA_Op<"gpu_matmul"> {
  let summary = "A matrix product on GPU buffers, computed by one tiled kernel";
  let description = [{
    `output = init + lhs · rhs` (`init` absent: zeros) on buffers in GPU
    memory: lhs [B, M, K] or [M, K] and rhs [B, K, N] or [K, N], both f16,
    both bf16 or both f32; init and output [B, M, N] or [M, N], f32: the
    products summed in f32, as `linalg.matmul` of such operands defines
    them. It is the form `mha-gpu-matmul-kernel-ops` gives an eligible
    `linalg.matmul` or `linalg.batch_matmul` in `mha-lower-to-gpu`, and
    `mha-gpu-lower-tensor-core-kernels` turns it into one kernel, a block of
    threads per `block_m` × `block_n` tile of the output, the operands
    staged in shared memory `block_k` columns of lhs (rows of rhs) at a time
    (two stages: the next step's copies overlap this one's products):

    * f16/bf16 operands, on tensor cores: `block_m / 32` warps (32 rows a
      warp), `mma.sync` m16n8k16 with f32 accumulators, the products exact
      in f32;
    * f32 operands, on CUDA cores: 256 threads, each with a
      `block_m / 16` × `block_n / 16` block of accumulators (fused
      multiply-adds in f32, K in order), read from the tiles 16 bytes a
      load;
    * f32 operands with `tf32`, on tensor cores: as f16/bf16 but
      `mma.sync` m16n8k8 on TF32 operands, each element rounded to 10 bits
      of mantissa (to nearest, ties away from zero: `cvt.rna.tf32.f32`) as
      it is read from the tiles, with f32 accumulators (what PyTorch's
      `allow_tf32` computes; not `linalg.matmul`'s f32 products, hence an
      opt-in).

    `lhs_transposed`: lhs holds the lhs's transpose, [B, K, M] or [K, M];
    `rhs_transposed`: rhs holds the rhs's transpose, [B, N, K] or [N, K]
    (a dense layer's gradients, `mha.matmul` without `untransposed`). The
    kernel reads them in place: their tiles are staged as they are stored.

    Tiles: `block_m` a multiple of 32 (64 for f32 on CUDA cores), `block_n`
    a multiple of 16 (64 for f32 on CUDA cores), `block_k` a multiple of 16
    (f16/bf16), 8 (`tf32`) or 4 (f32 on CUDA cores).

    Each operand's rows (its last dimension: K or M of the lhs, N or K of
    the rhs) and N must be multiples of 16 bytes of elements (8 of f16/bf16,
    4 of f32: the kernel copies rows 16 bytes a copy and stores outputs in
    groups): static ones are checked by the verifier, dynamic ones on the
    host where the op is made (which runs the product another way
    otherwise); every buffer has the identity layout and its data starts 16
    bytes aligned, as device allocations (`gpu.alloc`) do. Sizes must agree
    at run time (checked on the host before the op, where it is made).

    ```mlir
    mha.gpu_matmul %x, %w, %y init(%bias : memref<?x512xf32>)
        {block_m = 128 : i64, block_n = 128 : i64, block_k = 32 : i64}
      : memref<?x256xbf16>, memref<256x512xbf16>, memref<?x512xf32>
    // dx = dy · wᵀ, w read in place, on CUDA cores.
    mha.gpu_matmul %dy, %w, %dx
        {block_m = 128 : i64, block_n = 128 : i64, block_k = 16 : i64,
         rhs_transposed}
      : memref<?x512xf32>, memref<256x512xf32>, memref<?x256xf32>
    ```
  }];
  let arguments = (ins Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$lhs,
                       Arg<MemRefOf<[F16, BF16, F32]>, "", [MemRead]>:$rhs,
                       Arg<MemRefOf<[F32]>, "", [MemWrite]>:$output,
                       Arg<Optional<MemRefOf<[F32]>>, "", [MemRead]>:$init,
                       I64Attr:$block_m, I64Attr:$block_n, I64Attr:$block_k,
                       UnitAttr:$lhs_transposed, UnitAttr:$rhs_transposed,
                       UnitAttr:$tf32);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` $output (`init` `(` $init^ `:` type($init) `)`)?
    attr-dict `:` type($lhs) `,` type($rhs) `,` type($output)
  }];
  let extraClassDeclaration = [{
    /// Where M, K and N are in the operands of a product of rank `rank`
    /// (2 or 3), each stored as it is or (`lhsTransposed`,
    /// `rhsTransposed`) transposed: the one statement of the layouts that
    /// the verifier, the pass that makes the op and its kernel share.
    static MatmulDims dims(int64_t rank, bool lhsTransposed,
                           bool rhsTransposed) {
      int64_t rows = rank - 2, columns = rank - 1;
      return {lhsTransposed ? columns : rows, lhsTransposed ? rows : columns,
              rhsTransposed ? columns : rows, rhsTransposed ? rows : columns};
    }
    /// The multiple the kernel needs of each operand's rows (its last
    /// dimension) and of N for operands of `element`: 16 bytes of them
    /// (8 of f16/bf16, 4 of f32).
    static int64_t rowMultiple(Type element) {
      return 128 / element.getIntOrFloatBitWidth();
    }
  }];
  let hasVerifier = 1;
}

def MHA_LayerNormGradOp : MHA_Op<"layer_norm_grad", [Pure,
    AllTypesMatch<["input", "result_grad", "input_grad"]>,
    AllTypesMatch<["gamma", "gamma_grad", "beta_grad"]>]> {
  let summary = "Gradients of mha.layer_norm";
  let description = [{
    With x̂ = (x - μ) / σ over the last dimension D (σ = sqrt(var + ε)) and
    g = dy ⊙ γ:

    * dx = (g - mean(g) - x̂ ⊙ mean(g ⊙ x̂)) / σ,
    * dγ = Σ_rows dy ⊙ x̂, dβ = Σ_rows dy.

    ```mlir
    %dx, %dg, %db = mha.layer_norm_grad %x, %gamma, %dy : tensor<?x?x512xf32>, tensor<512xf32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$gamma,
                       MHA_FloatTensor:$result_grad,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs MHA_FloatTensor:$input_grad, MHA_FloatTensor:$gamma_grad,
                      MHA_FloatTensor:$beta_grad);
  let assemblyFormat = [{
    $input `,` $gamma `,` $result_grad attr-dict `:` type($input) `,`
    type($gamma)
  }];
}

class MHA_LossGradOp<string mnemonic, string loss> : MHA_Op<mnemonic, [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Gradient of " # loss # " with respect to its input";
}

def MHA_BCELossGradOp : MHA_LossGradOp<"bce_loss_grad", "mha.bce_loss"> {
  let description = [{
    For N elements and a loss gradient g (rank 0):
    `result = g * (p - y) / (p (1 - p)) / N` on probabilities (with p clamped
    as in the forward, and zero gradient where the clamp is active), or
    `g * (sigmoid(x) - y) / N` with `from_logits`.

    ```mlir
    %dp = mha.bce_loss_grad %p, %y, %g : tensor<?x1xf32>, tensor<?x1xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$target,
                       MHA_ScalarTensor:$loss_grad, UnitAttr:$from_logits);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $target `,` $loss_grad (`from_logits` $from_logits^)? attr-dict
    `:` type($input) `,` type($target) `,` type($loss_grad)
  }];
}

def MHA_MSELossGradOp : MHA_LossGradOp<"mse_loss_grad", "mha.mse_loss"> {
  let description = [{
    `result = g * 2 (x - y) / N` for N elements and loss gradient g.

    ```mlir
    %dx = mha.mse_loss_grad %x, %y, %g : tensor<?x4xf32>, tensor<?x4xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$input, MHA_FloatTensor:$target,
                       MHA_ScalarTensor:$loss_grad);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $target `,` $loss_grad attr-dict `:` type($input) `,`
    type($target) `,` type($loss_grad)
  }];
}

def MHA_CrossEntropyGradOp : MHA_Op<"cross_entropy_grad", [Pure,
    AllTypesMatch<["logits", "result"]>]> {
  let summary = "Gradient of mha.cross_entropy with respect to the logits";
  let description = [{
    `result[..., c] = g * (softmax(logits)[..., c] - (c == label)) / N` for N
    rows and loss gradient g; with `ignore_index = I`, rows labelled I get 0
    and N counts the other rows.

    ```mlir
    %dl = mha.cross_entropy_grad %logits, %labels, %g : tensor<?x10xf32>, tensor<?xi64>, tensor<f32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$logits, MHA_LabelTensor:$labels,
                       MHA_ScalarTensor:$loss_grad,
                       OptionalAttr<I64Attr>:$ignore_index);
  let results = (outs MHA_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels `,` $loss_grad (`ignore_index` `=` $ignore_index^)?
    attr-dict `:` type($logits) `,` type($labels) `,` type($loss_grad)
  }];
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

def MHA_OptimizerUpdateOp : MHA_Op<"optimizer_update", [Pure,
    AllTypesMatch<["param", "grad", "first_moment", "second_moment",
                   "new_param", "new_first_moment", "new_second_moment"]>]> {
  let summary = "One optimizer step on a parameter and its optimizer state";
  let description = [{
    With learning rate η, step t (1 for the first update, a rank-0 f32
    tensor), gradient g and the optimizer's hyper-parameters:

    * `sgd`: g' = g + λ p; m' = μ m + g'; p' = p - η m' (v is passed through).
    * `adam`: g' = g + λ p (L2); m' = β1 m + (1 - β1) g';
      v' = β2 v + (1 - β2) g'²; p' = p - η m̂ / (√v̂ + ε) with
      m̂ = m' / (1 - β1ᵗ), v̂ = v' / (1 - β2ᵗ).
    * `adamw`: as adam without λ in g', and p' = p - η (m̂ / (√v̂ + ε) + λ p)
      (decoupled weight decay).

    Defaults as in `#mha.optimizer`: μ = 0, β1 = 0.9, β2 = 0.999, ε = 1e-7,
    λ = 0 (0.01 for adamw).

    ```mlir
    %p2, %m2, %v2 = mha.optimizer_update %p, %g, %m, %v, %t <adam, learning_rate = 0.001>
        : tensor<16x512xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins MHA_FloatTensor:$param, MHA_FloatTensor:$grad,
                       MHA_FloatTensor:$first_moment,
                       MHA_FloatTensor:$second_moment,
                       0DTensorOf<[F32]>:$step, MHA_OptimizerAttr:$optimizer);
  let results = (outs MHA_FloatTensor:$new_param,
                      MHA_FloatTensor:$new_first_moment,
                      MHA_FloatTensor:$new_second_moment);
  let assemblyFormat = [{
    $param `,` $grad `,` $first_moment `,` $second_moment `,` $step $optimizer
    attr-dict `:` type($param) `,` type($step)
  }];
}

#endif // MHA_DIALECT_MHA_IR_MHAOPS_TD
