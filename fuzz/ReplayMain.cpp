//===- ReplayMain.cpp - Run a fuzz target on files, without libFuzzer -----===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The main of the fuzz targets in builds without libFuzzer: each argument
// is a file whose bytes are passed to LLVMFuzzerTestOneInput once. The lit
// suite replays the minimized crashes in test/Fuzz through it, so they stay
// fixed in every build.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()),
                           bytes.size());
    // The same line libFuzzer prints when it runs a target on files.
    std::printf("Executed %s\n", argv[i]);
  }
  return 0;
}
