//===- HostTensor.h - Tensors in host memory --------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares HostTensor, the dense, C-ordered, little-endian tensor
// that the file readers produce and the JIT consumes and returns.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNTIME_HOSTTENSOR_H
#define MHA_RUNTIME_HOSTTENSOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace mha {

/// Element types a HostTensor can hold.
enum class DType { F32, F16, BF16, I32, I64, Bool };

/// Bytes per element of `dtype`.
size_t dtypeSize(DType dtype);

/// A short lowercase name, as in MLIR types: "f32", "bf16", "i64", "i1".
llvm::StringRef dtypeName(DType dtype);

/// The largest tensor the readers and drivers create: 256 TiB, beyond any
/// machine's memory but far from overflowing 64-bit size arithmetic.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 48;

/// The bytes of a `dtype` tensor of `shape`, or nullopt when a dimension is
/// negative or the size exceeds kMaxTensorBytes. Dimensions after a zero
/// still count (a [2^62, 0] tensor is refused: the elements are none but
/// loops over its rows would not end).
std::optional<uint64_t> tensorByteSize(DType dtype,
                                       llvm::ArrayRef<int64_t> shape);

/// Fails, naming `what`, when a `dtype` tensor of `shape` has a negative
/// dimension, overflows tensorByteSize, or needs more bytes than this
/// machine's physical memory: the check to make before allocating a tensor
/// whose size comes from input.
llvm::Error checkAllocatable(DType dtype, llvm::ArrayRef<int64_t> shape,
                             const llvm::Twine &what);

/// A dense, C-ordered tensor in host memory.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// numElements() * dtypeSize(dtype) bytes, little-endian.
  std::vector<uint8_t> data;

  HostTensor() = default;
  /// Allocates a zero-filled tensor.
  HostTensor(DType dtype, std::vector<int64_t> shape);

  int64_t numElements() const;
  size_t numBytes() const { return data.size(); }

  /// Typed views; the caller must ask for the stored type.
  float *f32() { return reinterpret_cast<float *>(data.data()); }
  const float *f32() const { return reinterpret_cast<const float *>(data.data()); }

  /// Element `i` converted to double, whatever the dtype.
  double getAsDouble(int64_t i) const;
  /// Element `i` of an integer tensor (i32 or i64), exactly.
  int64_t getAsInt64(int64_t i) const;
  /// Stores `value` into element `i`, converting to the dtype.
  void setFromDouble(int64_t i, double value);
  /// Stores `value` into element `i` of an i64 tensor, exactly.
  void setInt64(int64_t i, int64_t value);

  /// The MLIR-style type text, e.g. "tensor<2x3xf32>".
  std::string typeString() const { return typeString(dtype, shape); }
  static std::string typeString(DType dtype, llvm::ArrayRef<int64_t> shape);
};

/// Formats a shape as "2x3x4" ("" for a scalar).
std::string shapeString(llvm::ArrayRef<int64_t> shape);

/// IEEE half <-> float and bfloat16 <-> float conversions (round to nearest
/// even).
float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
float bf16ToFloat(uint16_t bits);
uint16_t floatToBF16(float value);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNTIME_HOSTTENSOR_H
