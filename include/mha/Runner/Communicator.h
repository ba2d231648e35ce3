//===- Communicator.h - The processes of a data-parallel run ----*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares Communicator, the collective operations data-parallel
// training needs (sum, gather, broadcast, abort) over the processes of one
// run. The runner holds no implementation of them: mha-run passes MPI's
// (MPICommunicator.h, built when Open MPI is found) when `mpirun` started
// it, and training in one process needs none.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_COMMUNICATOR_H
#define MHA_RUNNER_COMMUNICATOR_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace mlir {
namespace mha {

/// The ranks of a data-parallel run. Every call is collective: each rank
/// makes the same calls in the same order.
class Communicator {
public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// The number of ranks on this rank's machine.
  virtual int localSize() const = 0;

  /// Replaces `values` on every rank with their element-wise sum over the
  /// ranks; every rank receives the same bits.
  virtual void allReduceSum(llvm::MutableArrayRef<float> values) = 0;
  virtual void allReduceSum(llvm::MutableArrayRef<double> values) = 0;
  /// Every rank's `value`, indexed by rank.
  virtual std::vector<uint64_t> allGather(uint64_t value) = 0;
  /// Copies rank `root`'s `bytes` to every rank (the same length on all).
  virtual void broadcast(llvm::MutableArrayRef<uint8_t> bytes, int root) = 0;
  /// Stops every rank of the run with `exitCode`; the caller has printed why.
  [[noreturn]] virtual void abort(int exitCode) = 0;
};

/// The number of ranks when an MPI launcher (mpirun, mpiexec, or a
/// scheduler through PMI/PMIx) started this process, read from the
/// launcher's environment; nullopt when none did.
std::optional<int> launcherWorldSize();

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_COMMUNICATOR_H
