//===- FileFormatsTest.cpp - .npy and safetensors readers/writers ---------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/FileIO.h"
#include "mha/Runtime/Npy.h"
#include "mha/Runtime/Safetensors.h"

#include "gtest/gtest.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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

/// A .npy file with `header` as the header text, verbatim.
std::string rawNpy(const std::string &header, const std::string &data) {
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  return out + header + data;
}

std::string npyError(const std::string &header, const std::string &data) {
  return errorOf(parseNpy(rawNpy(header, data), "h.npy"));
}

// Headers NumPy's reader refuses are refused; those it reads are read the
// same way (the issue's fuzzing found the lenient cases).
TEST(Npy, HeaderIsParsedAsNumPyDoes) {
  std::string one = floats({1});
  // Key order and quoting are free; a trailing comma and padding are fine.
  auto t = parseNpy(rawNpy("{\"shape\": (1,), 'fortran_order': False, "
                           "'descr': '<f4'}  \n",
                           one),
                    "ok.npy");
  ASSERT_TRUE(bool(t)) << errorOf(t.takeError());
  EXPECT_EQ(t->shape, (std::vector<int64_t>{1}));
  EXPECT_NE(npyError("{'descr': '<f4', 'descr': '<i4', 'fortran_order': "
                     "False, 'shape': (1,)}",
                     one)
                .find("the key 'descr' appears twice"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(1,), 'shape': (2,)}",
                     one)
                .find("the key 'shape' appears twice"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, "
                     "'fortran_order': True, 'shape': (1,)}",
                     one)
                .find("appears twice"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(1,), 'extra': 1}",
                     one)
                .find("unexpected key 'extra'"),
            std::string::npos);
  EXPECT_NE(npyError(std::string("{'descr': '<f4', 'fortran_order': False, "
                                 "'shape': (1,)}") +
                         '\0',
                     one)
                .find("NUL byte"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
                     one)
                .find("malformed header"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False}", one)
                .find("lacks 'shape'"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}",
                     one)
                .find("not a tuple"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
                     one)
                .find("not True or False"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(-1,)}",
                     one)
                .find("not a non-negative integer"),
            std::string::npos);
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(1,)} x",
                     one)
                .find("unexpected text after the header"),
            std::string::npos);
  // A huge dimension next to a zero: no elements, but refused before any
  // loop over its rows could run.
  EXPECT_NE(npyError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                     "(4611686018427387904, 0)}",
                     "")
                .find("too large"),
            std::string::npos);
}

TEST(Npy, BoolBytesReadAsNumPyReadsThem) {
  auto t = parseNpy(rawNpy("{'descr': '|b1', 'fortran_order': False, "
                           "'shape': (3,)}",
                           std::string("\x00\x02\xff", 3)),
                    "b.npy");
  ASSERT_TRUE(bool(t)) << errorOf(t.takeError());
  EXPECT_EQ(t->getAsDouble(0), 0.0);
  EXPECT_EQ(t->getAsDouble(1), 1.0);
  EXPECT_EQ(t->getAsDouble(2), 1.0);
}

/// A fresh directory for file tests, removed with its content at the end.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/mha-fileio-XXXXXX";
    path = mkdtemp(name);
  }
  ~TempDir() {
    std::string command = "rm -rf '" + path + "'";
    (void)system(command.c_str());
  }
  std::string operator/(const std::string &name) const {
    return path + "/" + name;
  }
};

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(FileIO, ReadsOnlyRegularFilesWithinTheBound) {
  TempDir dir;
  EXPECT_NE(errorOf(readInputFile("/dev/zero")).find("not a regular file"),
            std::string::npos);
  EXPECT_NE(errorOf(readInputFile(dir.path)).find("is a directory"),
            std::string::npos);
  EXPECT_NE(errorOf(readInputFile(dir / "missing")).find("No such file"),
            std::string::npos);
  ASSERT_FALSE(bool(writeFileAtomically(dir / "f", "0123456789")));
  EXPECT_NE(errorOf(readInputFile(dir / "f", 4)).find("more than the 4"),
            std::string::npos);
  auto ok = readInputFile(dir / "f", 10);
  ASSERT_TRUE(bool(ok));
  EXPECT_EQ((*ok)->getBuffer(), "0123456789");
}

TEST(FileIO, WritesAtomicallyAndLeavesNoTemporary) {
  TempDir dir;
  std::string path = dir / "out.bin";
  ASSERT_FALSE(bool(writeFileAtomically(path, "old")));
  ASSERT_FALSE(bool(writeFileAtomically(path, "new content")));
  EXPECT_EQ(slurp(path), "new content");
  EXPECT_NE(access(temporaryPathFor(path).c_str(), F_OK), 0);
  // A failed write (here: into a directory that does not exist) reports
  // the path and leaves nothing.
  EXPECT_NE(errorOf(writeFileAtomically(dir / "no/such/file", "x"))
                .find("cannot write"),
            std::string::npos);
  // Writing over a directory fails and keeps it.
  ASSERT_EQ(mkdir((dir / "d").c_str(), 0755), 0);
  EXPECT_NE(errorOf(writeFileAtomically(dir / "d", "x")).find("cannot write"),
            std::string::npos);
  EXPECT_EQ(access(temporaryPathFor(dir / "d").c_str(), F_OK), -1);
}

// A write that fails part-way (as on a full disk; here the file-size limit
// makes write() fail with EFBIG) is reported and leaves the old file whole.
TEST(FileIO, AFailedWriteKeepsTheOldFile) {
  TempDir dir;
  std::string path = dir / "ckpt.safetensors";
  ASSERT_FALSE(bool(writeFileAtomically(path, "the old checkpoint")));
  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  sighandler_t previous = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error =
      errorOf(writeFileAtomically(path, std::string(1 << 20, 'x')));
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, previous);
  EXPECT_NE(error.find("cannot write (write): File too large; the file is "
                       "unchanged"),
            std::string::npos)
      << error;
  EXPECT_EQ(slurp(path), "the old checkpoint");
  EXPECT_NE(access(temporaryPathFor(path).c_str(), F_OK), 0);
}

TEST(FileIO, CheckWritableFindsProblemsBeforeTheWork) {
  TempDir dir;
  EXPECT_FALSE(bool(checkWritable(dir / "new.safetensors")));
  EXPECT_NE(errorOf(checkWritable(dir.path)).find("is a directory"),
            std::string::npos);
  EXPECT_NE(errorOf(checkWritable(dir / "missing/x")).find("directory"),
            std::string::npos);
  // A temporary left by a killed run is removed.
  std::string stale = temporaryPathFor(dir / "ckpt.safetensors");
  ASSERT_FALSE(bool(writeFileAtomically(stale, "partial")));
  EXPECT_FALSE(bool(checkWritable(dir / "ckpt.safetensors")));
  EXPECT_NE(access(stale.c_str(), F_OK), 0);
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

std::string safetensorsWith(const std::string &json, const std::string &data) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  return out + json + data;
}

std::string stError(const std::string &json, const std::string &data) {
  return errorOf(parseSafetensors(safetensorsWith(json, data), "s"));
}

// What the format's reference reader refuses is refused.
TEST(Safetensors, MatchesTheReferenceReader) {
  std::string eight(8, '\0');
  // Accepted: tensors in any order in the JSON, tiling the data.
  auto ok = parseSafetensors(
      safetensorsWith(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("__metadata__":{"k":"v"}})",
                      eight),
      "s");
  ASSERT_TRUE(bool(ok)) << errorOf(ok.takeError());
  EXPECT_EQ(ok->size(), 2u);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
                    eight)
                .find("overlaps"),
            std::string::npos);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    eight)
                .find("a gap precedes it"),
            std::string::npos);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                    eight)
                .find("4 bytes after the last tensor"),
            std::string::npos);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
                    eight)
                .find("malformed 'data_offsets'"),
            std::string::npos);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    eight)
                .find("duplicate name 'a'"),
            std::string::npos);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})",
                    eight)
                .find("not a non-negative integer"),
            std::string::npos);
  EXPECT_NE(stError(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                    eight)
                .find("not a non-negative integer"),
            std::string::npos);
  EXPECT_NE(stError(R"({"__metadata__":{"epoch":3}})", "")
                .find("metadata 'epoch' is not a string"),
            std::string::npos);
  EXPECT_NE(stError(R"( {"a":1})", "").find("does not start with '{'"),
            std::string::npos);
  EXPECT_NE(stError("{\"a\":\"\xff\"}", "").find("not valid UTF-8"),
            std::string::npos);
}

TEST(Safetensors, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep = "{\"a\":" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  EXPECT_NE(stError(deep, "").find("nested deeper than the format's 3 levels"),
            std::string::npos);
}

TEST(Safetensors, MetadataIsReturned) {
  std::map<std::string, std::string> metadata;
  auto t = parseSafetensors(
      serializeSafetensors({}, {{"epoch", "2"}, {"format", "x"}}), "m",
      &metadata);
  ASSERT_TRUE(bool(t)) << errorOf(t.takeError());
  EXPECT_EQ(metadata["epoch"], "2");
  EXPECT_EQ(metadata["format"], "x");
}

} // namespace
