//===- HostTensor.cpp - Tensors in host memory ----------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements HostTensor and the 16-bit float conversions.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/HostTensor.h"

#include "llvm/ADT/APFloat.h"

#include "llvm/Support/FormatVariadic.h"

#include <cassert>
#include <cstring>
#include <unistd.h>

using namespace mlir;
using namespace mlir::mha;

size_t mha::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I64:
    return 8;
  case DType::Bool:
    return 1;
  }
  return 0;
}

llvm::StringRef mha::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::Bool:
    return "i1";
  }
  return "?";
}

std::optional<uint64_t> mha::tensorByteSize(DType dtype,
                                            llvm::ArrayRef<int64_t> shape) {
  uint64_t bytes = dtypeSize(dtype), nonzero = dtypeSize(dtype);
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (d != 0) {
      if (nonzero > kMaxTensorBytes / uint64_t(d))
        return std::nullopt;
      nonzero *= uint64_t(d);
    }
    bytes *= uint64_t(d);
  }
  return bytes;
}

llvm::Error mha::checkAllocatable(DType dtype, llvm::ArrayRef<int64_t> shape,
                                  const llvm::Twine &what) {
  auto fail = [&](const llvm::Twine &why) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (what + ": " + why).str());
  };
  std::string text = "[";
  for (int64_t d : shape)
    text += (text.size() > 1 ? ", " : "") + std::to_string(d);
  text += "]";
  std::optional<uint64_t> bytes = tensorByteSize(dtype, shape);
  if (!bytes)
    return fail("a " + dtypeName(dtype) + " tensor of shape " + text +
                " is too large (or has a negative dimension)");
  uint64_t memory =
      uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGE_SIZE));
  if (*bytes > memory)
    return fail(llvm::formatv("a {0} tensor of shape {1} needs {2} bytes, "
                              "more than this machine's {3} bytes of memory",
                              dtypeName(dtype), text, *bytes, memory));
  return llvm::Error::success();
}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape)
    : dtype(dtype), shape(std::move(shape)) {
  data.assign(static_cast<size_t>(numElements()) * dtypeSize(dtype), 0);
}

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t HostTensor::getAsInt64(int64_t i) const {
  assert((dtype == DType::I32 || dtype == DType::I64) && "not an integer tensor");
  const uint8_t *p = data.data() + i * dtypeSize(dtype);
  if (dtype == DType::I32) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  int64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void HostTensor::setInt64(int64_t i, int64_t value) {
  assert(dtype == DType::I64 && "not an i64 tensor");
  std::memcpy(data.data() + i * 8, &value, 8);
}

double HostTensor::getAsDouble(int64_t i) const {
  const uint8_t *p = data.data() + i * dtypeSize(dtype);
  switch (dtype) {
  case DType::F32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DType::F16:
  case DType::BF16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return dtype == DType::F16 ? halfToFloat(v) : bf16ToFloat(v);
  }
  case DType::I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DType::I64: {
    int64_t v;
    std::memcpy(&v, p, 8);
    return static_cast<double>(v);
  }
  case DType::Bool:
    return *p ? 1.0 : 0.0;
  }
  return 0.0;
}

void HostTensor::setFromDouble(int64_t i, double value) {
  uint8_t *p = data.data() + i * dtypeSize(dtype);
  switch (dtype) {
  case DType::F32: {
    float v = static_cast<float>(value);
    std::memcpy(p, &v, 4);
    return;
  }
  case DType::F16:
  case DType::BF16: {
    float f = static_cast<float>(value);
    uint16_t v = dtype == DType::F16 ? floatToHalf(f) : floatToBF16(f);
    std::memcpy(p, &v, 2);
    return;
  }
  case DType::I32: {
    auto v = static_cast<int32_t>(value);
    std::memcpy(p, &v, 4);
    return;
  }
  case DType::I64: {
    auto v = static_cast<int64_t>(value);
    std::memcpy(p, &v, 8);
    return;
  }
  case DType::Bool:
    *p = value != 0.0;
    return;
  }
}

std::string mha::shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

std::string HostTensor::typeString(DType dtype, llvm::ArrayRef<int64_t> shape) {
  std::string s = "tensor<" + shapeString(shape);
  if (!shape.empty())
    s += 'x';
  return s + dtypeName(dtype).str() + ">";
}

// The conversions go through APFloat, which rounds to nearest even.
static float convertFrom(const llvm::fltSemantics &sem, uint16_t bits) {
  llvm::APFloat value(sem, llvm::APInt(16, bits));
  bool lost;
  value.convert(llvm::APFloat::IEEEsingle(),
                llvm::APFloat::rmNearestTiesToEven, &lost);
  return value.convertToFloat();
}

static uint16_t convertTo(const llvm::fltSemantics &sem, float f) {
  llvm::APFloat value(f);
  bool lost;
  value.convert(sem, llvm::APFloat::rmNearestTiesToEven, &lost);
  return static_cast<uint16_t>(value.bitcastToAPInt().getZExtValue());
}

float mha::halfToFloat(uint16_t bits) {
  return convertFrom(llvm::APFloat::IEEEhalf(), bits);
}
uint16_t mha::floatToHalf(float value) {
  return convertTo(llvm::APFloat::IEEEhalf(), value);
}
float mha::bf16ToFloat(uint16_t bits) {
  return convertFrom(llvm::APFloat::BFloat(), bits);
}
uint16_t mha::floatToBF16(float value) {
  return convertTo(llvm::APFloat::BFloat(), value);
}
