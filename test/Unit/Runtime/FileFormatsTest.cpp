//===- FileFormatsTest.cpp - .npy and safetensors readers/writers ---------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/Npy.h"
#include "mha/Runtime/Safetensors.h"

#include "gtest/gtest.h"

#include <cstring>

using namespace mlir::mha;

namespace {
std::string errorOf(llvm::Error err) { return llvm::toString(std::move(err)); }

template <typename T>
std::string errorOf(llvm::Expected<T> value) {
  EXPECT_FALSE(bool(value));
  return value ? std::string() : llvm::toString(value.takeError());
}

/// The bytes NumPy 1.x writes for np.save(f, np.array([[1, 2, 3], [4, 5, 6]],
/// dtype=np.float32)): the header text is NumPy's, byte for byte.
std::string numpyBytes(const std::string &descr, const std::string &fortran,
                       const std::string &shape, const std::string &data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " +
                       fortran + ", 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  return out + header + data;
}

std::string floats(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

TEST(Npy, ReadsWhatNumPyWrites) {
  auto t = parseNpy(numpyBytes("<f4", "False", "(2, 3)",
                               floats({1, 2, 3, 4, 5, 6})),
                    "x.npy");
  ASSERT_TRUE(bool(t)) << errorOf(t.takeError());
  EXPECT_EQ(t->dtype, DType::F32);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->getAsDouble(5), 6.0);
}

TEST(Npy, ScalarsAndOneDimensionalShapes) {
  auto s = parseNpy(numpyBytes("<f4", "False", "()", floats({7})), "s.npy");
  ASSERT_TRUE(bool(s));
  EXPECT_TRUE(s->shape.empty());
  auto v = parseNpy(numpyBytes("<i8", "False", "(2,)", std::string(16, '\0')),
                    "v.npy");
  ASSERT_TRUE(bool(v));
  EXPECT_EQ(v->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(v->dtype, DType::I64);
}

TEST(Npy, RoundTripsEveryDType) {
  for (DType dtype :
       {DType::F32, DType::F16, DType::I32, DType::I64, DType::Bool}) {
    HostTensor t(dtype, {2, 2});
    for (int i = 0; i < 4; ++i)
      t.setFromDouble(i, i % 2);
    auto back = parseNpy(serializeNpy(t), "rt.npy");
    ASSERT_TRUE(bool(back));
    EXPECT_EQ(back->dtype, dtype);
    EXPECT_EQ(back->shape, t.shape);
    EXPECT_EQ(back->data, t.data);
  }
}

TEST(Npy, RejectsBadFiles) {
  EXPECT_NE(errorOf(parseNpy("hello", "a.npy")).find("a.npy: not a .npy file"),
            std::string::npos);
  EXPECT_NE(errorOf(parseNpy(numpyBytes("<f4", "True", "(2, 3)",
                                        floats({1, 2, 3, 4, 5, 6})),
                             "f.npy"))
                .find("Fortran-ordered"),
            std::string::npos);
  EXPECT_NE(errorOf(parseNpy(numpyBytes(">f4", "False", "(1,)", floats({1})),
                             "be.npy"))
                .find("unsupported dtype '>f4'"),
            std::string::npos);
  EXPECT_NE(errorOf(parseNpy(numpyBytes("<f8", "False", "(1,)",
                                        std::string(8, '\0')),
                             "d.npy"))
                .find("unsupported dtype '<f8'"),
            std::string::npos);
  std::string good =
      numpyBytes("<f4", "False", "(2, 3)", floats({1, 2, 3, 4, 5, 6}));
  EXPECT_NE(errorOf(parseNpy(good.substr(0, 30), "t.npy"))
                .find("truncated header"),
            std::string::npos);
  EXPECT_NE(errorOf(parseNpy(good.substr(0, good.size() - 4), "t.npy"))
                .find("truncated data: shape (2, 3) of f32 needs 24 bytes, "
                      "the file has 20"),
            std::string::npos);
  EXPECT_NE(errorOf(parseNpy(good + "xx", "t.npy"))
                .find("2 unexpected bytes"),
            std::string::npos);
  std::string huge = "\x93NUMPY";
  huge += char(2);
  huge += char(0);
  huge += std::string("\xff\xff\xff\x7f", 4);
  EXPECT_NE(errorOf(parseNpy(huge, "h.npy")).find("oversized header"),
            std::string::npos);
}

TEST(Safetensors, RoundTripAndMetadata) {
  TensorMap tensors;
  HostTensor a(DType::F32, {2, 3});
  a.setFromDouble(4, 2.5);
  HostTensor b(DType::BF16, {4});
  b.setFromDouble(1, -1.5);
  tensors["a"] = a;
  tensors["b"] = b;
  std::string bytes = serializeSafetensors(tensors, {{"epoch", "3"}});
  // The data section starts 8-byte aligned.
  uint64_t headerLen;
  std::memcpy(&headerLen, bytes.data(), 8);
  EXPECT_EQ(headerLen % 8, 0u);
  auto back = parseSafetensors(bytes, "w.safetensors");
  ASSERT_TRUE(bool(back)) << errorOf(back.takeError());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(back->at("a").data, a.data);
  EXPECT_EQ(back->at("b").dtype, DType::BF16);
  EXPECT_EQ(back->at("b").getAsDouble(1), -1.5);
}

TEST(Safetensors, RejectsBadFiles) {
  auto header = [](const std::string &json, const std::string &data) {
    std::string out(8, '\0');
    uint64_t n = json.size();
    std::memcpy(out.data(), &n, 8);
    return out + json + data;
  };
  EXPECT_NE(errorOf(parseSafetensors("abc", "s")).find("truncated"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(header("{nope", ""), "s"))
                .find("malformed JSON header"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(
                        header(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})",
                               std::string(8, '\0')),
                        "s"))
                .find("unsupported dtype 'F64'"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(
                        header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                               std::string(8, '\0')),
                        "s"))
                .find("tensor 'w': 8 bytes for shape [3] of F32, expected 12"),
            std::string::npos);
  EXPECT_NE(errorOf(parseSafetensors(
                        header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                               std::string(8, '\0')),
                        "s"))
                .find("truncated file"),
            std::string::npos);
  std::string big(8, '\xff');
  EXPECT_NE(errorOf(parseSafetensors(big, "s")).find("oversized header"),
            std::string::npos);
}

TEST(HostTensor, HalfAndBFloatConversionsRoundToNearestEven) {
  EXPECT_EQ(halfToFloat(floatToHalf(1.0f)), 1.0f);
  EXPECT_EQ(halfToFloat(floatToHalf(65504.0f)), 65504.0f);
  EXPECT_EQ(bf16ToFloat(floatToBF16(3.0f)), 3.0f);
  // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0).
  EXPECT_EQ(bf16ToFloat(floatToBF16(1.0f + 0x1.0p-8f)), 1.0f);
}
} // namespace
