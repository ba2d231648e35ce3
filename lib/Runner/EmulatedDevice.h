//===- EmulatedDevice.h - GPU runtime calls over host memory ----*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// `--device gpu-emulated` runs the GPU pipeline's host code as on a GPU
// (buffers placed by mha-gpu-device-buffers, copies between host and
// device, mha-run's resident parameters) with the kernels run on the host;
// its "device" is host memory behind the same runtime calls (mgpu*) the
// CUDA runtime implements, with the same bookkeeping (DeviceLedger). New
// device memory and freed device memory are filled with 0xff bytes (NaN
// for every float type), so that reading memory no kernel wrote, or memory
// already freed, shows in the numbers.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_LIB_RUNNER_EMULATEDDEVICE_H
#define MHA_LIB_RUNNER_EMULATEDDEVICE_H

#include "mha/Runtime/DeviceLedger.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>

namespace mlir {
namespace mha {
namespace emulated_device {

/// Calls `bind` with the name and address of each runtime function the
/// lowered host code calls (mgpuMemAlloc, mgpuMemcpy, ...).
void forEachFunction(llvm::function_ref<void(llvm::StringRef, void *)> bind);

/// The first misuse since the last take (freeing memory the device did not
/// allocate); nonzero with its message when there was one. The CUDA
/// runtime's mhaGpuTakeError, emulated.
int takeError(char *message, size_t size);

/// The emulated device's allocations and traffic.
DeviceLedger &ledger();

/// Device memory, as mgpuMemAlloc and mgpuMemFree give and take it.
void *allocate(uint64_t bytes);
void release(void *pointer);
/// Copies between host and device, counted.
void copy(void *destination, const void *source, uint64_t bytes);

} // namespace emulated_device
} // namespace mha
} // namespace mlir

#endif // MHA_LIB_RUNNER_EMULATEDDEVICE_H
