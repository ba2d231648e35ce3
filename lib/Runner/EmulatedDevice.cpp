//===- EmulatedDevice.cpp - MLIR's GPU runtime calls over host memory -----===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//

#include "EmulatedDevice.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

using namespace mlir::mha;

namespace {
std::mutex errorMutex;
std::string firstError;

void fail(const std::string &what) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    firstError = what;
}

/// Fills `bytes` at `pointer` with 0xff: NaN in f32, f16 and bf16.
void poison(void *pointer, uint64_t bytes) {
  std::memset(pointer, 0xff, bytes);
}

// The runtime calls (signatures of MLIR's GPU runtime ABI). One stream:
// every call completes before it returns, so streams and events are
// tokens.
int streamToken;
int eventToken;

void *streamCreate() { return &streamToken; }
void streamDestroy(void *) {}
void streamSynchronize(void *) {}
void streamWaitEvent(void *, void *) {}
void *eventCreate() { return &eventToken; }
void eventDestroy(void *) {}
void eventSynchronize(void *) {}
void eventRecord(void *, void *) {}
void *memAlloc(uint64_t bytes, void *, bool) {
  return emulated_device::allocate(bytes);
}
void memFree(void *pointer, void *) { emulated_device::release(pointer); }
void memcpyAsync(void *destination, void *source, size_t bytes, void *) {
  emulated_device::copy(destination, source, bytes);
}
void memset32(void *destination, unsigned value, size_t count, void *) {
  auto *words = static_cast<uint32_t *>(destination);
  for (size_t i = 0; i < count; ++i)
    words[i] = value;
}
void memset16(void *destination, unsigned short value, size_t count, void *) {
  auto *halves = static_cast<uint16_t *>(destination);
  for (size_t i = 0; i < count; ++i)
    halves[i] = value;
}
void setDefaultDevice(int32_t) {}
} // namespace

DeviceLedger &emulated_device::ledger() {
  static DeviceLedger instance;
  return instance;
}

void *emulated_device::allocate(uint64_t bytes) {
  // As cuMemAlloc: nothing for nothing; 256-byte alignment.
  if (bytes == 0)
    return nullptr;
  uint64_t rounded = (bytes + 255) / 256 * 256;
  void *pointer = std::aligned_alloc(256, rounded);
  if (!pointer) {
    fail("allocating " + std::to_string(bytes) +
         " bytes of (emulated) GPU memory failed");
    return nullptr;
  }
  poison(pointer, rounded);
  ledger().allocated(pointer, rounded);
  return pointer;
}

void emulated_device::release(void *pointer) {
  if (!pointer)
    return;
  uint64_t bytes = 0;
  if (!ledger().freed(pointer, &bytes)) {
    char text[64];
    std::snprintf(text, sizeof(text), "%p", pointer);
    fail(std::string("freeing GPU memory at ") + text +
         " that the device did not allocate, or freed already");
    return;
  }
  poison(pointer, bytes);
  std::free(pointer);
}

void emulated_device::copy(void *destination, const void *source,
                           uint64_t bytes) {
  if (bytes == 0)
    return;
  ledger().copied(destination, source, bytes);
  std::memmove(destination, source, bytes);
}

int emulated_device::takeError(char *message, size_t size) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (firstError.empty())
    return 0;
  std::snprintf(message, size, "%s", firstError.c_str());
  firstError.clear();
  return 1;
}

void emulated_device::forEachFunction(
    llvm::function_ref<void(llvm::StringRef, void *)> bind) {
  bind("mgpuStreamCreate", reinterpret_cast<void *>(&streamCreate));
  bind("mgpuStreamDestroy", reinterpret_cast<void *>(&streamDestroy));
  bind("mgpuStreamSynchronize", reinterpret_cast<void *>(&streamSynchronize));
  bind("mgpuStreamWaitEvent", reinterpret_cast<void *>(&streamWaitEvent));
  bind("mgpuEventCreate", reinterpret_cast<void *>(&eventCreate));
  bind("mgpuEventDestroy", reinterpret_cast<void *>(&eventDestroy));
  bind("mgpuEventSynchronize", reinterpret_cast<void *>(&eventSynchronize));
  bind("mgpuEventRecord", reinterpret_cast<void *>(&eventRecord));
  bind("mgpuMemAlloc", reinterpret_cast<void *>(&memAlloc));
  bind("mgpuMemFree", reinterpret_cast<void *>(&memFree));
  bind("mgpuMemcpy", reinterpret_cast<void *>(&memcpyAsync));
  bind("mgpuMemset32", reinterpret_cast<void *>(&memset32));
  bind("mgpuMemset16", reinterpret_cast<void *>(&memset16));
  bind("mgpuSetDefaultDevice", reinterpret_cast<void *>(&setDefaultDevice));
}
