//===- Communicator.cpp - The processes of a data-parallel run ------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements launcherWorldSize from the environment MPI launchers
// give their processes.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Communicator.h"

#include "llvm/ADT/StringRef.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::mha;

std::optional<int> mha::launcherWorldSize() {
  // Open MPI's mpirun and mpiexec; MPICH's Hydra (PMI).
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char *value = std::getenv(name)) {
      int size = 0;
      if (!llvm::StringRef(value).getAsInteger(10, size) && size > 0)
        return size;
    }
  return std::nullopt;
}
