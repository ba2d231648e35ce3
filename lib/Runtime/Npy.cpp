//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the .npy reader and writer. The header is a Python
// dict literal; only the three keys NumPy writes are read.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Npy.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;
using namespace mlir::mha;

namespace {
constexpr llvm::StringLiteral kMagic("\x93NUMPY");
/// No sane .npy header comes close; larger ones are treated as corrupt.
constexpr size_t kMaxHeaderBytes = 1 << 20;

llvm::Error npyError(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 (name + ": " + message).str());
}

/// The text after `'key':` in the header dict, with spaces skipped, or "" if
/// the key is missing.
llvm::StringRef valueOf(llvm::StringRef header, llvm::StringRef key) {
  std::string quoted = ("'" + key + "'").str();
  size_t at = header.find(quoted);
  if (at == llvm::StringRef::npos)
    return {};
  llvm::StringRef rest = header.drop_front(at + quoted.size()).ltrim();
  if (!rest.consume_front(":"))
    return {};
  return rest.ltrim();
}

std::optional<DType> dtypeFromDescr(llvm::StringRef descr) {
  // '<' is little-endian, '|' not applicable (1 byte), '=' native (x86: LE).
  if (descr.size() != 3 || !llvm::StringRef("<|=").contains(descr[0]))
    return std::nullopt;
  llvm::StringRef kind = descr.drop_front();
  if (kind == "f4")
    return DType::F32;
  if (kind == "f2")
    return DType::F16;
  if (kind == "i4")
    return DType::I32;
  if (kind == "i8")
    return DType::I64;
  if (kind == "b1")
    return DType::Bool;
  return std::nullopt;
}
} // namespace

llvm::Expected<HostTensor> mha::parseNpy(llvm::StringRef bytes,
                                         llvm::StringRef name) {
  if (!bytes.starts_with(kMagic))
    return npyError(name, "not a .npy file (missing the \\x93NUMPY magic)");
  if (bytes.size() < 10)
    return npyError(name, "truncated header");
  uint8_t major = bytes[6];
  size_t headerLen, offset;
  if (major == 1) {
    headerLen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return npyError(name, "truncated header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return npyError(name, llvm::formatv("unsupported .npy version {0}.{1}",
                                        major, int(uint8_t(bytes[7]))));
  }
  if (headerLen > kMaxHeaderBytes)
    return npyError(name, llvm::formatv("oversized header ({0} bytes)",
                                        headerLen));
  if (bytes.size() < offset + headerLen)
    return npyError(name, llvm::formatv("truncated header: {0} bytes "
                                        "announced, {1} present",
                                        headerLen, bytes.size() - offset));
  llvm::StringRef header = bytes.substr(offset, headerLen);
  offset += headerLen;

  // 'descr': '<f4'
  llvm::StringRef descr = valueOf(header, "descr");
  if (!descr.consume_front("'"))
    return npyError(name, "header has no 'descr'");
  descr = descr.take_until([](char c) { return c == '\''; });
  std::optional<DType> dtype = dtypeFromDescr(descr);
  if (!dtype)
    return npyError(
        name,
        llvm::formatv("unsupported dtype '{0}'; expected little-endian "
                      "float32 ('<f4'), float16, int32, int64 or bool (convert "
                      "with .astype(np.float32))",
                      descr));
  // 'fortran_order': False
  llvm::StringRef fortran = valueOf(header, "fortran_order");
  if (fortran.starts_with("True"))
    return npyError(name, "Fortran-ordered arrays are not supported (save "
                          "with np.ascontiguousarray)");
  if (!fortran.starts_with("False"))
    return npyError(name, "header has no 'fortran_order'");
  // 'shape': (2, 3)
  llvm::StringRef shapeText = valueOf(header, "shape");
  if (!shapeText.consume_front("("))
    return npyError(name, "header has no 'shape'");
  shapeText = shapeText.take_until([](char c) { return c == ')'; });
  std::vector<int64_t> shape;
  llvm::SmallVector<llvm::StringRef> parts;
  shapeText.split(parts, ',');
  for (llvm::StringRef part : parts) {
    part = part.trim();
    if (part.empty())
      continue;
    int64_t dim;
    if (part.getAsInteger(10, dim) || dim < 0)
      return npyError(name, "malformed shape '(" + shapeText + ")'");
    shape.push_back(dim);
  }

  HostTensor tensor;
  tensor.dtype = *dtype;
  tensor.shape = shape;
  // Overflow-safe size computation.
  uint64_t expected = dtypeSize(*dtype);
  for (int64_t d : shape) {
    if (d != 0 && expected > (uint64_t(1) << 48) / uint64_t(d))
      return npyError(name, "shape (" + shapeText + ") is too large");
    expected *= uint64_t(d);
  }
  uint64_t present = bytes.size() - offset;
  if (present < expected)
    return npyError(name, llvm::formatv("truncated data: shape ({0}) of {1} "
                                        "needs {2} bytes, the file has {3}",
                                        shapeText, dtypeName(*dtype), expected,
                                        present));
  if (present > expected)
    return npyError(name, llvm::formatv("{0} unexpected bytes after the data "
                                        "of shape ({1})",
                                        present - expected, shapeText));
  tensor.data.assign(bytes.bytes_begin() + offset, bytes.bytes_end());
  return tensor;
}

llvm::Expected<HostTensor> mha::readNpy(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return npyError(path, "cannot read: " + buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

std::string mha::serializeNpy(const HostTensor &tensor) {
  const HostTensor *source = &tensor;
  HostTensor widened;
  if (tensor.dtype == DType::BF16) {
    widened = HostTensor(DType::F32, tensor.shape);
    for (int64_t i = 0, e = tensor.numElements(); i < e; ++i)
      widened.setFromDouble(i, tensor.getAsDouble(i));
    source = &widened;
  }
  const char *descr = "<f4";
  switch (source->dtype) {
  case DType::F16:
    descr = "<f2";
    break;
  case DType::I32:
    descr = "<i4";
    break;
  case DType::I64:
    descr = "<i8";
    break;
  case DType::Bool:
    descr = "|b1";
    break;
  default:
    break;
  }
  std::string shape = "(";
  for (int64_t d : source->shape)
    shape += std::to_string(d) + ", ";
  if (source->shape.size() > 1)
    shape.resize(shape.size() - 2);
  else if (source->shape.size() == 1)
    shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = llvm::formatv("{{'descr': '{0}', 'fortran_order': "
                                     "False, 'shape': {1}, }",
                                     descr, shape)
                           .str();
  // Pad with spaces so that magic + length + header + '\n' is a multiple of
  // 64 bytes, as NumPy does.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic);
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char *>(source->data.data()),
             source->data.size());
  return out;
}

llvm::Error mha::writeNpy(llvm::StringRef path, const HostTensor &tensor) {
  std::string bytes = serializeNpy(tensor);
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << bytes;
    return llvm::Error::success();
  });
}
