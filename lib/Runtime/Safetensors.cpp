//===- Safetensors.cpp - safetensors weight files -------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the safetensors reader and writer with LLVM's JSON
// library.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Safetensors.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::mha;

namespace {
/// Headers beyond this size are treated as corrupt (the format's own
/// reference implementation uses the same bound).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

llvm::Error stError(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 (name + ": " + message).str());
}

std::optional<DType> dtypeFromName(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Case("F32", DType::F32)
      .Case("F16", DType::F16)
      .Case("BF16", DType::BF16)
      .Case("I32", DType::I32)
      .Case("I64", DType::I64)
      .Case("BOOL", DType::Bool)
      .Default(std::nullopt);
}

llvm::StringRef nameOfDType(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::I32:
    return "I32";
  case DType::I64:
    return "I64";
  case DType::Bool:
    return "BOOL";
  }
  return "?";
}
} // namespace

llvm::Expected<TensorMap> mha::parseSafetensors(llvm::StringRef bytes,
                                                llvm::StringRef name) {
  if (bytes.size() < 8)
    return stError(name, "truncated: no 8-byte header size");
  uint64_t headerLen = 0;
  for (int i = 0; i < 8; ++i)
    headerLen |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  if (headerLen > kMaxHeaderBytes)
    return stError(name, llvm::formatv("oversized header ({0} bytes)",
                                       headerLen));
  if (8 + headerLen > bytes.size())
    return stError(name, llvm::formatv("truncated header: {0} bytes "
                                       "announced, {1} present",
                                       headerLen, bytes.size() - 8));
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse(bytes.substr(8, headerLen));
  if (!json)
    return stError(name, "malformed JSON header: " +
                             llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return stError(name, "the JSON header is not an object");
  llvm::StringRef data = bytes.drop_front(8 + headerLen);

  TensorMap tensors;
  for (const auto &[key, value] : *root) {
    if (key == "__metadata__")
      continue;
    std::string where = ("tensor '" + key.str() + "'");
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return stError(name, where + " is not an object");
    std::optional<llvm::StringRef> dtypeName = entry->getString("dtype");
    const llvm::json::Array *shape = entry->getArray("shape");
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!dtypeName || !shape || !offsets || offsets->size() != 2)
      return stError(name, where + " needs 'dtype', 'shape' and two "
                                   "'data_offsets'");
    std::optional<DType> dtype = dtypeFromName(*dtypeName);
    if (!dtype)
      return stError(name, where + " has unsupported dtype '" + *dtypeName +
                               "'; expected F32, F16, BF16, I32, I64 or BOOL");
    HostTensor tensor;
    tensor.dtype = *dtype;
    uint64_t expected = dtypeSize(*dtype);
    for (const llvm::json::Value &dim : *shape) {
      std::optional<int64_t> d = dim.getAsInteger();
      if (!d || *d < 0)
        return stError(name, where + " has a malformed shape");
      if (*d != 0 && expected > (uint64_t(1) << 48) / uint64_t(*d))
        return stError(name, where + " is too large");
      tensor.shape.push_back(*d);
      expected *= uint64_t(*d);
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin)
      return stError(name, where + " has malformed 'data_offsets'");
    if (uint64_t(*end) > data.size())
      return stError(name, llvm::formatv("{0} ends at byte {1} of the data, "
                                         "which has {2} (truncated file?)",
                                         where, *end, data.size()));
    if (uint64_t(*end - *begin) != expected)
      return stError(name, llvm::formatv("{0}: {1} bytes for shape [{2}] of "
                                         "{3}, expected {4}",
                                         where, *end - *begin,
                                         shapeString(tensor.shape),
                                         *dtypeName, expected));
    llvm::StringRef slice = data.substr(*begin, *end - *begin);
    tensor.data.assign(slice.bytes_begin(), slice.bytes_end());
    tensors.emplace(key.str(), std::move(tensor));
  }
  return tensors;
}

llvm::Expected<TensorMap> mha::readSafetensors(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return stError(path, "cannot read: " + buffer.getError().message());
  return parseSafetensors((*buffer)->getBuffer(), path);
}

std::string
mha::serializeSafetensors(const TensorMap &tensors,
                          const std::map<std::string, std::string> &metadata) {
  llvm::json::Object header;
  if (!metadata.empty()) {
    llvm::json::Object meta;
    for (const auto &[k, v] : metadata)
      meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto &[name, tensor] : tensors) {
    llvm::json::Array shape;
    for (int64_t d : tensor.shape)
      shape.push_back(d);
    header[name] = llvm::json::Object{
        {"dtype", nameOfDType(tensor.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets",
         llvm::json::Array{int64_t(offset),
                           int64_t(offset + tensor.data.size())}}};
    offset += tensor.data.size();
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(header));
  os.flush();
  // Pad the header with spaces so the data starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  out += text;
  for (const auto &[name, tensor] : tensors)
    out.append(reinterpret_cast<const char *>(tensor.data.data()),
               tensor.data.size());
  return out;
}

llvm::Error
mha::writeSafetensors(llvm::StringRef path, const TensorMap &tensors,
                      const std::map<std::string, std::string> &metadata) {
  std::string bytes = serializeSafetensors(tensors, metadata);
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << bytes;
    return llvm::Error::success();
  });
}
