//===- Safetensors.cpp - safetensors weight files -------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the safetensors reader and writer. The reader parses
// the JSON header itself, strictly and with bounded nesting, and accepts only
// what the format's reference reader accepts.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Safetensors.h"
#include "mha/Runtime/FileIO.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <tuple>

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

namespace {
/// The format nests at most three levels: the header object, a tensor's
/// object, its shape array. Deeper input is refused before it can exhaust
/// the stack.
constexpr int kMaxJsonDepth = 3;

/// A JSON value as the header needs it: integers kept apart from other
/// numbers (a shape of 2.0 is refused, as the reference reader does), and
/// object members in order with duplicates visible.
struct JsonValue {
  enum Kind { Null, Bool, Integer, Float, String, Array, Object } kind = Null;
  bool boolean = false;
  bool negative = false;
  uint64_t magnitude = 0;
  std::string string;
  std::vector<JsonValue> elements;
  std::vector<std::pair<std::string, JsonValue>> members;
};

/// A strict RFC 8259 parser with a depth bound.
class JsonParser {
public:
  explicit JsonParser(llvm::StringRef text) : text(text), full(text) {}

  std::optional<std::string> parseDocument(JsonValue &out) {
    if (std::optional<std::string> why = parseValue(out, 1))
      return why;
    skipSpace();
    if (!text.empty())
      return "unexpected text after the JSON value at offset " + offset();
    return std::nullopt;
  }

private:
  std::string offset() const {
    return std::to_string(full.size() - text.size());
  }
  void skipSpace() { text = text.ltrim(" \t\r\n"); }
  bool consume(llvm::StringRef token) { return text.consume_front(token); }

  std::optional<std::string> parseValue(JsonValue &out, int depth) {
    skipSpace();
    if (text.empty())
      return std::string("unexpected end of the JSON header");
    char c = text.front();
    if (c == '{' || c == '[') {
      if (depth > kMaxJsonDepth)
        return llvm::formatv("JSON nested deeper than the format's {0} levels "
                             "at offset {1}",
                             kMaxJsonDepth, offset())
            .str();
      return c == '{' ? parseObject(out, depth) : parseArray(out, depth);
    }
    if (c == '"') {
      out.kind = JsonValue::String;
      return parseString(out.string);
    }
    if (consume("true") || consume("false")) {
      out.kind = JsonValue::Bool;
      out.boolean = c == 't';
      return std::nullopt;
    }
    if (consume("null")) {
      out.kind = JsonValue::Null;
      return std::nullopt;
    }
    if (c == '-' || llvm::isDigit(c))
      return parseNumber(out);
    return "unexpected character at offset " + offset();
  }

  std::optional<std::string> parseObject(JsonValue &out, int depth) {
    out.kind = JsonValue::Object;
    consume("{");
    skipSpace();
    if (consume("}"))
      return std::nullopt;
    while (true) {
      skipSpace();
      std::string key;
      if (text.empty() || text.front() != '"')
        return "expected a member name at offset " + offset();
      if (std::optional<std::string> why = parseString(key))
        return why;
      skipSpace();
      if (!consume(":"))
        return "expected ':' at offset " + offset();
      JsonValue value;
      if (std::optional<std::string> why = parseValue(value, depth + 1))
        return why;
      for (const auto &member : out.members)
        if (member.first == key)
          return "duplicate name '" + key + "'";
      out.members.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (consume("}"))
        return std::nullopt;
      if (!consume(","))
        return "expected ',' or '}' at offset " + offset();
    }
  }

  std::optional<std::string> parseArray(JsonValue &out, int depth) {
    out.kind = JsonValue::Array;
    consume("[");
    skipSpace();
    if (consume("]"))
      return std::nullopt;
    while (true) {
      JsonValue value;
      if (std::optional<std::string> why = parseValue(value, depth + 1))
        return why;
      out.elements.push_back(std::move(value));
      skipSpace();
      if (consume("]"))
        return std::nullopt;
      if (!consume(","))
        return "expected ',' or ']' at offset " + offset();
    }
  }

  std::optional<std::string> parseNumber(JsonValue &out) {
    size_t i = 0;
    out.negative = text.front() == '-';
    if (out.negative)
      ++i;
    size_t digitsBegin = i;
    while (i < text.size() && llvm::isDigit(text[i]))
      ++i;
    llvm::StringRef digits = text.slice(digitsBegin, i);
    if (digits.empty() || (digits.size() > 1 && digits.front() == '0'))
      return "malformed number at offset " + offset();
    bool isFloat = false;
    if (i < text.size() && text[i] == '.') {
      isFloat = true;
      size_t fraction = ++i;
      while (i < text.size() && llvm::isDigit(text[i]))
        ++i;
      if (i == fraction)
        return "malformed number at offset " + offset();
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
      isFloat = true;
      ++i;
      if (i < text.size() && (text[i] == '+' || text[i] == '-'))
        ++i;
      size_t exponent = i;
      while (i < text.size() && llvm::isDigit(text[i]))
        ++i;
      if (i == exponent)
        return "malformed number at offset " + offset();
    }
    if (isFloat) {
      out.kind = JsonValue::Float;
    } else {
      out.kind = JsonValue::Integer;
      // Integers beyond 64 bits are kept as floats: no size accepts them.
      if (digits.getAsInteger(10, out.magnitude))
        out.kind = JsonValue::Float;
    }
    text = text.drop_front(i);
    return std::nullopt;
  }

  std::optional<std::string> parseString(std::string &out) {
    consume("\"");
    while (true) {
      if (text.empty())
        return std::string("unterminated string in the JSON header");
      char c = text.front();
      text = text.drop_front();
      if (c == '"')
        return std::nullopt;
      if (uint8_t(c) < 0x20)
        return "control character in a string at offset " + offset();
      if (c != '\\') {
        out += c;
        continue;
      }
      if (text.empty())
        return std::string("unterminated string in the JSON header");
      char e = text.front();
      text = text.drop_front();
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        std::optional<uint32_t> unit = hex4();
        if (!unit)
          return "malformed \\u escape at offset " + offset();
        uint32_t code = *unit;
        if (code >= 0xD800 && code < 0xDC00) {
          std::optional<uint32_t> low;
          if (!consume("\\u") || !(low = hex4()) || *low < 0xDC00 ||
              *low >= 0xE000)
            return "unpaired surrogate at offset " + offset();
          code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
        } else if (code >= 0xDC00 && code < 0xE000) {
          return "unpaired surrogate at offset " + offset();
        }
        appendUTF8(out, code);
        break;
      }
      default:
        return "malformed escape at offset " + offset();
      }
    }
  }

  std::optional<uint32_t> hex4() {
    if (text.size() < 4)
      return std::nullopt;
    uint32_t value;
    llvm::StringRef digits = text.take_front(4);
    if (!llvm::all_of(digits, llvm::isHexDigit) ||
        digits.getAsInteger(16, value))
      return std::nullopt;
    text = text.drop_front(4);
    return value;
  }

  static void appendUTF8(std::string &out, uint32_t code) {
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }

  llvm::StringRef text;
  const llvm::StringRef full;
};

/// A non-negative JSON integer, as the format's sizes and offsets are.
std::optional<uint64_t> asSize(const JsonValue &v) {
  if (v.kind != JsonValue::Integer || (v.negative && v.magnitude != 0))
    return std::nullopt;
  return v.magnitude;
}

const JsonValue *member(const JsonValue &object, llvm::StringRef name) {
  for (const auto &[key, value] : object.members)
    if (key == name)
      return &value;
  return nullptr;
}
} // namespace

llvm::Expected<TensorMap>
mha::parseSafetensors(llvm::StringRef bytes, llvm::StringRef name,
                      std::map<std::string, std::string> *metadata) {
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
  llvm::StringRef headerText = bytes.substr(8, headerLen);
  if (!headerText.starts_with("{"))
    return stError(name, "the header does not start with '{'");
  if (!llvm::json::isUTF8(headerText))
    return stError(name, "the header is not valid UTF-8");
  JsonValue root;
  if (std::optional<std::string> why = JsonParser(headerText).parseDocument(root))
    return stError(name, "malformed JSON header: " + *why);
  llvm::StringRef data = bytes.drop_front(8 + headerLen);

  struct Extent {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Extent> extents;
  TensorMap tensors;
  for (const auto &[key, value] : root.members) {
    if (key == "__metadata__") {
      if (value.kind == JsonValue::Null)
        continue;
      if (value.kind != JsonValue::Object)
        return stError(name, "'__metadata__' is not an object");
      for (const auto &[metaKey, metaValue] : value.members) {
        if (metaValue.kind != JsonValue::String)
          return stError(name, "metadata '" + metaKey +
                                   "' is not a string (the format allows "
                                   "only string values)");
        if (metadata)
          (*metadata)[metaKey] = metaValue.string;
      }
      continue;
    }
    std::string where = ("tensor '" + key + "'");
    if (value.kind != JsonValue::Object)
      return stError(name, where + " is not an object");
    const JsonValue *dtypeValue = member(value, "dtype");
    const JsonValue *shape = member(value, "shape");
    const JsonValue *offsets = member(value, "data_offsets");
    if (!dtypeValue || dtypeValue->kind != JsonValue::String || !shape ||
        shape->kind != JsonValue::Array || !offsets ||
        offsets->kind != JsonValue::Array || offsets->elements.size() != 2)
      return stError(name, where + " needs 'dtype' (a string), 'shape' (an "
                                   "array) and two 'data_offsets'");
    const std::string &dtypeName = dtypeValue->string;
    std::optional<DType> dtype = dtypeFromName(dtypeName);
    if (!dtype)
      return stError(name, where + " has unsupported dtype '" + dtypeName +
                               "'; expected F32, F16, BF16, I32, I64 or BOOL");
    HostTensor tensor;
    tensor.dtype = *dtype;
    for (const JsonValue &dim : shape->elements) {
      std::optional<uint64_t> d = asSize(dim);
      if (!d || *d > uint64_t(INT64_MAX))
        return stError(name, where + " has a shape entry that is not a "
                                     "non-negative integer");
      tensor.shape.push_back(int64_t(*d));
    }
    std::optional<uint64_t> expected = tensorByteSize(*dtype, tensor.shape);
    if (!expected)
      return stError(name, where + " is too large");
    std::optional<uint64_t> begin = asSize(offsets->elements[0]);
    std::optional<uint64_t> end = asSize(offsets->elements[1]);
    if (!begin || !end || *end < *begin)
      return stError(name, where + " has malformed 'data_offsets' (two "
                                   "non-negative integers, begin <= end)");
    if (*end > data.size())
      return stError(name, llvm::formatv("{0} ends at byte {1} of the data, "
                                         "which has {2} (truncated file?)",
                                         where, *end, data.size()));
    if (*end - *begin != *expected)
      return stError(name, llvm::formatv("{0}: {1} bytes for shape [{2}] of "
                                         "{3}, expected {4}",
                                         where, *end - *begin,
                                         shapeString(tensor.shape), dtypeName,
                                         *expected));
    llvm::StringRef slice = data.substr(*begin, *end - *begin);
    tensor.data.assign(slice.bytes_begin(), slice.bytes_end());
    if (tensor.dtype == DType::Bool)
      for (uint8_t &b : tensor.data)
        b = b != 0;
    extents.push_back({*begin, *end, key});
    tensors.emplace(key, std::move(tensor));
  }
  // As the reference reader: the tensors, ordered by offset, tile the data
  // exactly (no gap, no overlap, nothing after the last).
  llvm::sort(extents, [](const Extent &a, const Extent &b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t next = 0;
  for (const Extent &e : extents) {
    if (e.begin != next)
      return stError(name, llvm::formatv("tensor '{0}' starts at byte {1} of "
                                         "the data, expected {2} ({3})",
                                         e.name, e.begin, next,
                                         e.begin < next ? "it overlaps another"
                                                        : "a gap precedes it"));
    next = e.end;
  }
  if (next != data.size())
    return stError(name, llvm::formatv("{0} bytes after the last tensor's "
                                       "data (the format allows none)",
                                       data.size() - next));
  return tensors;
}

llvm::Expected<TensorMap>
mha::readSafetensors(llvm::StringRef path,
                     std::map<std::string, std::string> *metadata) {
  auto buffer = readInputFile(path);
  if (!buffer)
    return buffer.takeError();
  return parseSafetensors((*buffer)->getBuffer(), path, metadata);
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
  return writeFileAtomically(path, serializeSafetensors(tensors, metadata));
}
