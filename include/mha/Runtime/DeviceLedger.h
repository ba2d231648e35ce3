//===- DeviceLedger.h - GPU memory bookkeeping ------------------*- C++ -*-===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The bookkeeping of GPU memory that the CUDA runtime (libmha_cuda_runtime)
// and its host emulation (mha-run --device gpu-emulated) share: the live
// allocations, which tell a device address from a host one, and the bytes
// copied each way, so that a run can say what crossed between host and
// device. Header-only: the CUDA runtime links nothing of mha.
//
//===----------------------------------------------------------------------===//

#ifndef MHA_RUNTIME_DEVICELEDGER_H
#define MHA_RUNTIME_DEVICELEDGER_H

#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>

namespace mlir {
namespace mha {

/// Bytes copied between host and device memory (and within the device).
struct DeviceTraffic {
  uint64_t hostToDevice = 0;
  uint64_t deviceToHost = 0;
  uint64_t deviceToDevice = 0;
};

/// The device's live allocations and the traffic since the last take.
/// Thread-safe.
class DeviceLedger {
public:
  void allocated(const void *pointer, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    live[address(pointer)] = bytes;
    liveBytes += bytes;
  }

  /// Forgets the allocation at `pointer` (its size in `bytes`, when not
  /// null); false when there is none (a pointer the device did not
  /// allocate, or one freed already).
  bool freed(const void *pointer, uint64_t *bytes = nullptr) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = live.find(address(pointer));
    if (it == live.end())
      return false;
    liveBytes -= it->second;
    if (bytes)
      *bytes = it->second;
    live.erase(it);
    return true;
  }

  /// Counts a copy of `bytes` from `source` to `destination`.
  void copied(const void *destination, const void *source, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    bool toDevice = isDevice(destination), fromDevice = isDevice(source);
    if (toDevice && fromDevice)
      traffic.deviceToDevice += bytes;
    else if (toDevice)
      traffic.hostToDevice += bytes;
    else if (fromDevice)
      traffic.deviceToHost += bytes;
  }

  /// The traffic since the last take.
  DeviceTraffic take() {
    std::lock_guard<std::mutex> lock(mutex);
    DeviceTraffic result = traffic;
    traffic = DeviceTraffic();
    return result;
  }

  /// The size of the live allocation starting at `pointer`; 0 when none.
  uint64_t sizeOf(const void *pointer) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = live.find(address(pointer));
    return it == live.end() ? 0 : it->second;
  }

  /// Bytes allocated and not freed.
  uint64_t allocatedBytes() {
    std::lock_guard<std::mutex> lock(mutex);
    return liveBytes;
  }

private:
  static uintptr_t address(const void *pointer) {
    return reinterpret_cast<uintptr_t>(pointer);
  }
  /// Whether `pointer` lies in a live allocation (a view's address may be
  /// inside one). Called with the lock held.
  bool isDevice(const void *pointer) const {
    auto it = live.upper_bound(address(pointer));
    if (it == live.begin())
      return false;
    --it;
    return address(pointer) < it->first + it->second;
  }

  std::mutex mutex;
  /// Start address -> size of each live allocation.
  std::map<uintptr_t, uint64_t> live;
  uint64_t liveBytes = 0;
  DeviceTraffic traffic;
};

} // namespace mha
} // namespace mlir

#endif // MHA_RUNTIME_DEVICELEDGER_H
