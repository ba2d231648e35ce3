//===- MPICommunicator.h - Communicator over MPI ----------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file declares the Communicator of an MPI job (library MHAMPI, built
// when CMake finds MPI; mha-run links it).
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNNER_MPICOMMUNICATOR_H
#define MHA_RUNNER_MPICOMMUNICATOR_H

#include "mha/Runner/Communicator.h"

#include <memory>

namespace mlir {
namespace mha {

/// Initializes MPI (MPI_THREAD_FUNNELED: only the main thread calls it) and
/// returns MPI_COMM_WORLD's communicator, which finalizes MPI when destroyed.
/// Call once per process.
std::unique_ptr<Communicator> createMPICommunicator(int *argc, char ***argv);

} // namespace mha
} // namespace mlir

#endif // MHA_RUNNER_MPICOMMUNICATOR_H
