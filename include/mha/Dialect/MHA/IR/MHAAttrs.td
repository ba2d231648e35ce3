//===- MHAAttrs.td - MHA enums and attributes --------------*- tablegen -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// Enums and attributes of the mha dialect: reduction kinds, losses,
// optimizers, parameter initializers and datasets.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_DIALECT_MHA_IR_MHAATTRS_TD
#define MHA_DIALECT_MHA_IR_MHAATTRS_TD

include "mha/Dialect/MHA/IR/MHADialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

// ReduceKind and LossKind are used as op attributes: I32EnumAttr stores them as
// integers and prints them as bare keywords in op assembly formats.
def MHA_ReduceKindAttr : I32EnumAttr<"ReduceKind", "reduction performed by mha.reduce", [
    I32EnumAttrCase<"Sum", 0, "sum">,
    I32EnumAttrCase<"Mean", 1, "mean">,
    I32EnumAttrCase<"Max", 2, "max">]> {
  let cppNamespace = "::mlir::mha";
}

def MHA_LossKindAttr : I32EnumAttr<"LossKind", "loss minimized by training", [
    I32EnumAttrCase<"BCE", 0, "bce">,
    I32EnumAttrCase<"BCEWithLogits", 1, "bce_logits">,
    I32EnumAttrCase<"MSE", 2, "mse">,
    I32EnumAttrCase<"CrossEntropy", 3, "cross_entropy">]> {
  let cppNamespace = "::mlir::mha";
}

def MHA_PrecisionAttr : I32EnumAttr<"Precision", "precision of the matrix products", [
    I32EnumAttrCase<"F32", 0, "f32">,
    I32EnumAttrCase<"BF16", 1, "bf16">]> {
  let cppNamespace = "::mlir::mha";
}

def MHA_OptimizerKind : I32Enum<"OptimizerKind", "parameter update rule", [
    I32EnumCase<"SGD", 0, "sgd">,
    I32EnumCase<"Adam", 1, "adam">,
    I32EnumCase<"AdamW", 2, "adamw">]> {
  let cppNamespace = "::mlir::mha";
}

def MHA_InitKind : I32Enum<"InitKind", "parameter initializer", [
    I32EnumCase<"Zeros", 0, "zeros">,
    I32EnumCase<"Ones", 1, "ones">,
    I32EnumCase<"GlorotUniform", 2, "glorot_uniform">,
    I32EnumCase<"GlorotNormal", 3, "glorot_normal">,
    I32EnumCase<"Normal", 4, "normal">,
    I32EnumCase<"Uniform", 5, "uniform">]> {
  let cppNamespace = "::mlir::mha";
}

def MHA_DatasetKind : I32Enum<"DatasetKind", "where training data comes from", [
    I32EnumCase<"Synthetic", 0, "synthetic">,
    I32EnumCase<"Npy", 1, "npy">,
    I32EnumCase<"Padded", 2, "padded">,
    I32EnumCase<"Text", 3, "text">]> {
  let cppNamespace = "::mlir::mha";
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

/// A double written as a plain number (`0.001`, `1e-3`) and printed in its
/// shortest round-tripping form, without FloatAttr's `: f64` suffix.
/// Stored as an f64 FloatAttr (hashable, uniqued).
class MHA_F64Parameter<string desc = "">
    : AttrParameter<"::mlir::FloatAttr", desc> {
  let parser = [{ ::mlir::mha::detail::parseF64($_parser) }];
  let printer = [{ ::mlir::mha::detail::printF64($_printer, $_self) }];
}

/// An optional MHA_F64Parameter.
class MHA_OptionalF64Parameter<string desc = "">
    : OptionalParameter<"::mlir::FloatAttr", desc> {
  let parser = [{ ::mlir::mha::detail::parseF64($_parser) }];
  let printer = [{ ::mlir::mha::detail::printF64($_printer, $_self) }];
}

class MHA_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<MHA_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def MHA_InitializerAttr : MHA_Attr<"Initializer", "init"> {
  let summary = "How a trainable parameter is initialized";
  let description = [{
    * `zeros`, `ones`: constant fill.
    * `glorot_uniform`: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), where
      fan_in is the product of all dimensions but the last and fan_out the last
      one (Keras' rule for a Dense kernel of shape [in, out]); needs rank >= 2.
    * `glorot_normal`: N(0, sqrt(2 / (fan_in + fan_out))); needs rank >= 2.
    * `normal, std = s`: N(0, s); `std` is required and positive.
    * `uniform, limit = l`: U(-l, l); `limit` is required and positive.

    ```mlir
    #mha.init<glorot_uniform>
    #mha.init<normal, std = 0.02>
    ```
  }];
  let parameters = (ins
    EnumParameter<MHA_InitKind>:$kind,
    MHA_OptionalF64Parameter<>:$std,
    MHA_OptionalF64Parameter<>:$limit);
  let assemblyFormat = "`<` $kind (`,` struct($std, $limit)^)? `>`";
  let genVerifyDecl = 1;
}

def MHA_OptimizerAttr : MHA_Attr<"Optimizer", "optimizer"> {
  let summary = "An optimizer and its hyper-parameters";
  let description = [{
    * `sgd`: `learning_rate`, optional `momentum` in [0, 1) (default 0) and
      `weight_decay` (L2 added to the gradient, default 0).
    * `adam`: `learning_rate`, `beta1` (0.9), `beta2` (0.999), `epsilon`
      (1e-7, Keras' default), optional `weight_decay` (L2, default 0).
    * `adamw`: as `adam`, with decoupled `weight_decay` (default 0.01).

    Omitted hyper-parameters take the defaults in parentheses.

    ```mlir
    #mha.optimizer<adam, learning_rate = 0.001>
    #mha.optimizer<sgd, learning_rate = 0.1, momentum = 0.9>
    ```
  }];
  let parameters = (ins
    EnumParameter<MHA_OptimizerKind>:$kind,
    MHA_F64Parameter<>:$learning_rate,
    MHA_OptionalF64Parameter<>:$momentum,
    MHA_OptionalF64Parameter<>:$beta1,
    MHA_OptionalF64Parameter<>:$beta2,
    MHA_OptionalF64Parameter<>:$epsilon,
    MHA_OptionalF64Parameter<>:$weight_decay);
  let assemblyFormat = [{
    `<` $kind `,` struct($learning_rate, $momentum, $beta1, $beta2, $epsilon,
                         $weight_decay) `>`
  }];
  let genVerifyDecl = 1;
}

def MHA_DatasetAttr : MHA_Attr<"Dataset", "dataset"> {
  let summary = "Where training data comes from";
  let description = [{
    * `synthetic`: a seeded sequence-classification task generated by the
      driver (one input [N, S, 16], binary labels [N, 1]); `samples`,
      `seq_len` and `seed` size and seed it.
    * `padded`: a seeded task of padded sequences generated by the driver
      for a model taking `(x: [N, S, F] float, keep: [N, S] or [N, 1, 1, S]
      i1)` with per-token class predictions and `cross_entropy` with an
      `ignore_index`. Each sequence has a random length L in [S/4, S];
      its S tokens (L real ones, then padding) are drawn from min(F, 16)
      token ids and given as one-hot rows of `x`; `keep` marks the L real
      positions. The label of each real position is the largest token id
      among the real positions; padding positions carry the ignore index.
      Padding tokens come from the same distribution as real ones, so only
      a model that applies the mask can reach full accuracy. `samples`,
      `seq_len` and `seed` size and seed it.
    * `text`: next-byte prediction on the text file `data` (resolved relative
      to the model file) for a byte-level language model `(tokens: [N, S]
      integer ids) -> [N, S, 256] logits` with `cross_entropy`: windows of
      `seq_len` bytes (default 64) taken every `seq_len` bytes, each labelled
      with the bytes one position later. The validation set is the file's
      last `validation_split` fraction, so no window straddles both.
    * `npy`: `data` and `labels` name NumPy `.npy` files, resolved relative to
      the model file. `data` is one file for a model with one input, or a
      dictionary binding each input of the model by its argument name to a
      file; all files hold the same number of examples along their first
      dimension, shuffled and batched together.

    All take an optional `validation_split` in [0, 1): the fraction of
    samples held out for validation.

    ```mlir
    #mha.dataset<synthetic, samples = 4096, seq_len = 16, seed = 7, validation_split = 0.2>
    #mha.dataset<padded, samples = 1024, seq_len = 24>
    #mha.dataset<npy, data = "x.npy", labels = "y.npy">
    #mha.dataset<text, seq_len = 64, data = "/usr/share/common-licenses/GPL-3">
    #mha.dataset<npy, data = {tokens = "ids.npy", keep = "mask.npy"}, labels = "y.npy">
    ```
  }];
  let parameters = (ins
    EnumParameter<MHA_DatasetKind>:$kind,
    OptionalParameter<"std::optional<int64_t>">:$samples,
    OptionalParameter<"std::optional<int64_t>">:$seq_len,
    OptionalParameter<"std::optional<int64_t>">:$seed,
    MHA_OptionalF64Parameter<>:$validation_split,
    OptionalParameter<"::mlir::Attribute",
                      "a file name, or input names to file names">:$data,
    OptionalParameter<"::mlir::StringAttr">:$labels);
  let assemblyFormat = [{
    `<` $kind (`,` struct($samples, $seq_len, $seed, $validation_split, $data,
                          $labels)^)? `>`
  }];
  let genVerifyDecl = 1;
}

#endif // MHA_DIALECT_MHA_IR_MHAATTRS_TD
