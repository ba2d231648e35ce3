//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the .npy reader and writer. The header is a Python
// dict literal, parsed strictly: what NumPy's reader refuses is refused.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Npy.h"
#include "mha/Runtime/FileIO.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <optional>

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

/// The header dict as NumPy reads it (`ast.literal_eval`, then checks):
/// exactly the keys 'descr' (a string), 'fortran_order' (True or False)
/// and 'shape' (a tuple of non-negative integers), each once, in any order,
/// then only spaces and a newline. Python's other literal forms are not
/// written by any NumPy and are refused.
struct NpyHeader {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
public:
  explicit HeaderParser(llvm::StringRef text) : text(text) {}

  /// Parses the header; on failure returns why.
  std::optional<std::string> parse(NpyHeader &out) {
    if (text.contains('\0'))
      return std::string("the header contains a NUL byte");
    skipSpace();
    if (!consume('{'))
      return std::string("the header is not a dict ('{...}')");
    bool seenDescr = false, seenFortran = false, seenShape = false;
    skipSpace();
    while (!peek('}')) {
      std::string key;
      if (!parseString(key))
        return "expected a quoted key at header offset " + offset();
      skipSpace();
      if (!consume(':'))
        return "expected ':' after '" + key + "'";
      skipSpace();
      auto once = [&](bool &seen) -> std::optional<std::string> {
        if (seen)
          return "the key '" + key + "' appears twice";
        seen = true;
        return std::nullopt;
      };
      std::optional<std::string> problem;
      if (key == "descr") {
        if ((problem = once(seenDescr)))
          return problem;
        if (!parseString(out.descr))
          return std::string("'descr' is not a string (structured dtypes are "
                             "not supported)");
      } else if (key == "fortran_order") {
        if ((problem = once(seenFortran)))
          return problem;
        if (text.consume_front("True"))
          out.fortranOrder = true;
        else if (text.consume_front("False"))
          out.fortranOrder = false;
        else
          return std::string("'fortran_order' is not True or False");
      } else if (key == "shape") {
        if ((problem = once(seenShape)))
          return problem;
        if (std::optional<std::string> why = parseShape(out.shape))
          return why;
      } else {
        return "unexpected key '" + key +
               "' (a .npy header has exactly 'descr', 'fortran_order' and "
               "'shape')";
      }
      skipSpace();
      if (!consume(',')) {
        skipSpace();
        if (!peek('}'))
          return "expected ',' or '}' at header offset " + offset();
        break;
      }
      skipSpace();
    }
    if (!consume('}'))
      return std::string("the header dict is not closed");
    if (!text.ltrim(" \t\r\n").empty())
      return std::string("unexpected text after the header dict");
    if (!seenDescr || !seenFortran || !seenShape)
      return std::string("the header lacks ") +
             (!seenDescr ? "'descr'" : !seenFortran ? "'fortran_order'"
                                                    : "'shape'");
    return std::nullopt;
  }

private:
  void skipSpace() { text = text.ltrim(" \t\r\n"); }
  bool peek(char c) const { return !text.empty() && text.front() == c; }
  bool consume(char c) { return text.consume_front(llvm::StringRef(&c, 1)); }
  std::string offset() const { return std::to_string(full.size() - text.size()); }

  /// A Python string literal in single or double quotes, without escapes.
  bool parseString(std::string &out) {
    if (text.empty() || (text.front() != '\'' && text.front() != '"'))
      return false;
    char quote = text.front();
    size_t end = text.find(quote, 1);
    if (end == llvm::StringRef::npos)
      return false;
    llvm::StringRef body = text.slice(1, end);
    if (body.contains('\\') || body.contains('\n'))
      return false;
    out = body.str();
    text = text.drop_front(end + 1);
    return true;
  }

  /// A tuple of integers: "()", "(3,)", "(2, 3)", "(2, 3,)".
  std::optional<std::string> parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return std::string("'shape' is not a tuple");
    skipSpace();
    bool trailingComma = false;
    while (!peek(')')) {
      size_t digits = 0;
      while (digits < text.size() && llvm::isDigit(text[digits]))
        ++digits;
      int64_t dim;
      if (digits == 0 || text.take_front(digits).getAsInteger(10, dim))
        return "'shape' has an entry that is not a non-negative integer at "
               "header offset " +
               offset();
      shape.push_back(dim);
      text = text.drop_front(digits);
      skipSpace();
      trailingComma = consume(',');
      skipSpace();
      if (!trailingComma && !peek(')'))
        return "expected ',' or ')' in 'shape' at header offset " + offset();
    }
    consume(')');
    // "(3)" is the integer 3 in Python, not a tuple.
    if (shape.size() == 1 && !trailingComma)
      return std::string("'shape' is not a tuple (a 1-d shape is written "
                         "'(n,)')");
    return std::nullopt;
  }

  llvm::StringRef text;
  const llvm::StringRef full = text;
};
} // namespace

namespace {
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

  NpyHeader parsed;
  if (std::optional<std::string> why = HeaderParser(header).parse(parsed))
    return npyError(name, "malformed header: " + *why);
  std::optional<DType> dtype = dtypeFromDescr(parsed.descr);
  if (!dtype)
    return npyError(
        name,
        llvm::formatv("unsupported dtype '{0}'; expected little-endian "
                      "float32 ('<f4'), float16, int32, int64 or bool (convert "
                      "with .astype(np.float32))",
                      parsed.descr));
  if (parsed.fortranOrder)
    return npyError(name, "Fortran-ordered arrays are not supported (save "
                          "with np.ascontiguousarray)");
  std::vector<int64_t> shape = parsed.shape;
  std::string shapeText;
  for (int64_t d : shape)
    shapeText += (shapeText.empty() ? "" : ", ") + std::to_string(d);

  HostTensor tensor;
  tensor.dtype = *dtype;
  tensor.shape = shape;
  std::optional<uint64_t> size = tensorByteSize(*dtype, shape);
  if (!size)
    return npyError(name, "shape (" + shapeText + ") is too large");
  uint64_t expected = *size;
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
  // NumPy reads any nonzero byte of a bool array as True.
  if (tensor.dtype == DType::Bool)
    for (uint8_t &b : tensor.data)
      b = b != 0;
  return tensor;
}

llvm::Expected<HostTensor> mha::readNpy(llvm::StringRef path) {
  auto buffer = readInputFile(path);
  if (!buffer)
    return buffer.takeError();
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
  return writeFileAtomically(path, serializeNpy(tensor));
}
