//===- MPICommunicator.cpp - Communicator over MPI ------------------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements the Communicator of an MPI job over MPI_COMM_WORLD.
// MPI's default error handler (MPI_ERRORS_ARE_FATAL) stays: a failed
// collective stops the job with MPI's message, and a rank that dies makes
// the launcher stop the others, so no rank waits forever.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/MPICommunicator.h"

#include "llvm/Support/raw_ostream.h"

#include <mpi.h>

#include <cstdlib>

using namespace mlir;
using namespace mlir::mha;

namespace {
class MPICommunicator final : public Communicator {
public:
  MPICommunicator(int *argc, char ***argv) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rankId);
    MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rankId,
                        MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &sharedSize);
    MPI_Comm_free(&local);
  }
  ~MPICommunicator() override { MPI_Finalize(); }

  int rank() const override { return rankId; }
  int size() const override { return worldSize; }
  int localSize() const override { return sharedSize; }

  void allReduceSum(llvm::MutableArrayRef<float> values) override {
    reduce(values.data(), values.size(), MPI_FLOAT);
  }
  void allReduceSum(llvm::MutableArrayRef<double> values) override {
    reduce(values.data(), values.size(), MPI_DOUBLE);
  }
  std::vector<uint64_t> allGather(uint64_t value) override {
    std::vector<uint64_t> all(worldSize);
    MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T,
                  MPI_COMM_WORLD);
    return all;
  }
  void broadcast(llvm::MutableArrayRef<uint8_t> bytes, int root) override {
    // MPI counts are ints: large buffers go in pieces.
    constexpr size_t kChunk = size_t(1) << 30;
    for (size_t at = 0; at < bytes.size(); at += kChunk)
      MPI_Bcast(bytes.data() + at, int(std::min(kChunk, bytes.size() - at)),
                MPI_BYTE, root, MPI_COMM_WORLD);
  }
  [[noreturn]] void abort(int exitCode) override {
    llvm::outs().flush();
    llvm::errs().flush();
    MPI_Abort(MPI_COMM_WORLD, exitCode);
    std::_Exit(exitCode);
  }

private:
  template <typename T>
  void reduce(T *data, size_t count, MPI_Datatype type) {
    constexpr size_t kChunk = size_t(1) << 28;
    for (size_t at = 0; at < count; at += kChunk)
      MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(kChunk, count - at)),
                    type, MPI_SUM, MPI_COMM_WORLD);
  }

  int rankId = 0, worldSize = 1, sharedSize = 1;
};
} // namespace

std::unique_ptr<Communicator> mha::createMPICommunicator(int *argc,
                                                         char ***argv) {
  return std::make_unique<MPICommunicator>(argc, argv);
}
