//===- CudaRuntime.cpp - MLIR's GPU runtime calls over the CUDA driver ----===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements, over the CUDA driver API, the host functions that
// code lowered by mha-lower-to-gpu calls (MLIR's GPU runtime ABI: mgpu*),
// and the few mha-run needs to set the device up and hear about failures.
// mha-run loads it (libmha_cuda_runtime.so) for `--device gpu` only, so
// that the CPU path never needs a CUDA driver.
//
// No call aborts. The first failing driver call is recorded with its
// message; the calls after it do nothing (null handles, no launches) until
// the host takes the error (mhaGpuTakeError) after the compiled function
// returns and reports it.
//
//===----------------------------------------------------------------------===//

#include "mha/Runtime/DeviceLedger.h"

#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#define MHA_GPU_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
std::mutex errorMutex;
std::string firstError;
bool failed = false;
CUcontext context = nullptr;
CUdevice device = 0;
/// Whether the device has stream-ordered memory pools (cuMemAllocAsync);
/// else allocations go through cuMemAlloc / cuMemFree.
bool memoryPools = false;

/// The live allocations and the bytes copied each way (mhaGpuTakeTraffic).
mlir::mha::DeviceLedger ledger;

/// Kernel timing (mhaGpuTimeKernels): a pair of events around each launch,
/// read back by mhaGpuTakeKernelTime.
std::mutex timingMutex;
bool timing = false;
std::vector<std::pair<CUevent, CUevent>> timedLaunches;

/// Records a failure of `what` (the first one only).
void fail(const std::string &what) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (!failed) {
    failed = true;
    firstError = what;
  }
}

bool hasFailed() {
  std::lock_guard<std::mutex> lock(errorMutex);
  return failed;
}

/// The driver's name and description of `result`.
std::string describe(CUresult result) {
  const char *name = nullptr, *text = nullptr;
  cuGetErrorName(result, &name);
  cuGetErrorString(result, &text);
  return std::string(name ? name : "CUDA error") +
         (text ? std::string(" (") + text + ")" : std::string());
}

/// Checks a driver call's result; false (and the error recorded) when it
/// failed.
bool check(CUresult result, const char *call) {
  if (result == CUDA_SUCCESS)
    return true;
  fail(std::string(call) + " failed: " + describe(result));
  return false;
}

/// Makes the device's context current on the calling thread; false when
/// the device is not set up or an earlier call failed.
bool ready() {
  if (hasFailed())
    return false;
  if (!context) {
    fail("the GPU runtime was used before mhaGpuInitialize");
    return false;
  }
  return check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
}
} // namespace

//===----------------------------------------------------------------------===//
// mha's own entry points (mha-run)
//===----------------------------------------------------------------------===//

/// Initializes the driver and makes device `ordinal`'s primary context the
/// runtime's. Returns 0, or nonzero with a message in `message`.
MHA_GPU_EXPORT int mhaGpuInitialize(int ordinal, char *message, size_t size) {
  auto report = [&](const std::string &text) {
    std::snprintf(message, size, "%s", text.c_str());
    return 1;
  };
  if (context)
    return 0;
  if (!check(cuInit(0), "cuInit"))
    return report(firstError);
  int count = 0;
  if (!check(cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return report(firstError);
  if (ordinal < 0 || ordinal >= count)
    return report("no CUDA device #" + std::to_string(ordinal) + " (" +
                  std::to_string(count) + " found)");
  int pools = 0;
  if (!check(cuDeviceGet(&device, ordinal), "cuDeviceGet") ||
      !check(cuDeviceGetAttribute(
                 &pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, device),
             "cuDeviceGetAttribute") ||
      !check(cuDevicePrimaryCtxRetain(&context, device),
             "cuDevicePrimaryCtxRetain"))
    return report(firstError);
  memoryPools = pools != 0;
  return 0;
}

/// The device's name and compute capability.
MHA_GPU_EXPORT int mhaGpuDeviceInfo(int *major, int *minor, char *name,
                                    size_t size) {
  if (!context)
    return 1;
  if (!check(cuDeviceGetAttribute(
                 major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
             "cuDeviceGetAttribute") ||
      !check(cuDeviceGetAttribute(
                 minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
             "cuDeviceGetAttribute") ||
      !check(cuDeviceGetName(name, int(size), device), "cuDeviceGetName"))
    return 1;
  return 0;
}

/// Copies the first recorded failure into `message` and clears it; returns
/// 0 when there was none.
MHA_GPU_EXPORT int mhaGpuTakeError(char *message, size_t size) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (!failed)
    return 0;
  std::snprintf(message, size, "%s", firstError.c_str());
  failed = false;
  firstError.clear();
  return 1;
}

//===----------------------------------------------------------------------===//
// MLIR's GPU runtime ABI (what gpu-to-llvm and the GPU translation emit)
//===----------------------------------------------------------------------===//

MHA_GPU_EXPORT void *mgpuModuleLoad(void *data, size_t /*size*/) {
  CUmodule module = nullptr;
  if (ready())
    check(cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

/// PTX, compiled by the driver.
MHA_GPU_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel,
                                       size_t /*size*/) {
  CUmodule module = nullptr;
  if (!ready())
    return nullptr;
  char log[4096] = {0};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log)),
                    reinterpret_cast<void *>(intptr_t(optLevel))};
  if (!check(cuModuleLoadDataEx(&module, data, 3, options, values),
             "cuModuleLoadDataEx") &&
      log[0])
    fail(std::string("the driver could not compile the kernels' PTX: ") +
         log);
  return module;
}

MHA_GPU_EXPORT void mgpuModuleUnload(void *module) {
  if (module && ready())
    check(cuModuleUnload(static_cast<CUmodule>(module)), "cuModuleUnload");
}

MHA_GPU_EXPORT void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  if (module && ready())
    check(cuModuleGetFunction(&function, static_cast<CUmodule>(module), name),
          "cuModuleGetFunction");
  return function;
}

MHA_GPU_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                     intptr_t gridY, intptr_t gridZ,
                                     intptr_t blockX, intptr_t blockY,
                                     intptr_t blockZ, int32_t sharedBytes,
                                     void *stream, void **params,
                                     void **extra, size_t /*paramsCount*/) {
  if (!function || !ready())
    return;
  // An empty grid (a tensor with no elements) launches nothing.
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return;
  CUevent start = nullptr, end = nullptr;
  {
    std::lock_guard<std::mutex> lock(timingMutex);
    if (timing) {
      if (check(cuEventCreate(&start, CU_EVENT_DEFAULT), "cuEventCreate") &&
          check(cuEventCreate(&end, CU_EVENT_DEFAULT), "cuEventCreate") &&
          check(cuEventRecord(start, static_cast<CUstream>(stream)),
                "cuEventRecord")) {
        timedLaunches.emplace_back(start, end);
      } else {
        // (The failure is recorded; nothing is launched after it.)
        if (start)
          cuEventDestroy(start);
        if (end)
          cuEventDestroy(end);
        start = end = nullptr;
      }
    }
  }
  check(cuLaunchKernel(static_cast<CUfunction>(function), unsigned(gridX),
                       unsigned(gridY), unsigned(gridZ), unsigned(blockX),
                       unsigned(blockY), unsigned(blockZ),
                       unsigned(sharedBytes), static_cast<CUstream>(stream),
                       params, extra),
        "cuLaunchKernel");
  if (end)
    check(cuEventRecord(end, static_cast<CUstream>(stream)), "cuEventRecord");
}

/// Turns the timing of kernel launches on (nonzero) or off. While on, each
/// launch is bracketed by two events on its stream.
MHA_GPU_EXPORT void mhaGpuTimeKernels(int on) {
  std::lock_guard<std::mutex> lock(timingMutex);
  timing = on != 0;
}

/// The GPU time of the kernels launched since the last call (milliseconds,
/// waiting for them to finish), and their number in `launches`; the
/// launches' events are released.
MHA_GPU_EXPORT double mhaGpuTakeKernelTime(int *launches) {
  std::lock_guard<std::mutex> lock(timingMutex);
  double total = 0;
  int count = 0;
  for (auto [start, end] : timedLaunches) {
    float ms = 0;
    if (!hasFailed() && check(cuEventSynchronize(end), "cuEventSynchronize") &&
        check(cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime")) {
      total += ms;
      ++count;
    }
    cuEventDestroy(start);
    cuEventDestroy(end);
  }
  timedLaunches.clear();
  if (launches)
    *launches = count;
  return total;
}

/// The bytes copied host to device, device to host and within the device
/// since the last call (into traffic[0..2]), and the bytes allocated now
/// (traffic[3]).
MHA_GPU_EXPORT void mhaGpuTakeTraffic(uint64_t *traffic) {
  mlir::mha::DeviceTraffic taken = ledger.take();
  traffic[0] = taken.hostToDevice;
  traffic[1] = taken.deviceToHost;
  traffic[2] = taken.deviceToDevice;
  traffic[3] = ledger.allocatedBytes();
}

MHA_GPU_EXPORT void *mgpuStreamCreate() {
  CUstream stream = nullptr;
  if (ready())
    check(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  return stream;
}

MHA_GPU_EXPORT void mgpuStreamDestroy(void *stream) {
  if (stream && ready())
    check(cuStreamDestroy(static_cast<CUstream>(stream)), "cuStreamDestroy");
}

MHA_GPU_EXPORT void mgpuStreamSynchronize(void *stream) {
  if (ready())
    check(cuStreamSynchronize(static_cast<CUstream>(stream)),
          "cuStreamSynchronize (a kernel or copy failed)");
}

MHA_GPU_EXPORT void mgpuStreamWaitEvent(void *stream, void *event) {
  if (stream && event && ready())
    check(cuStreamWaitEvent(static_cast<CUstream>(stream),
                            static_cast<CUevent>(event), 0),
          "cuStreamWaitEvent");
}

MHA_GPU_EXPORT void *mgpuEventCreate() {
  CUevent event = nullptr;
  if (ready())
    check(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  return event;
}

MHA_GPU_EXPORT void mgpuEventDestroy(void *event) {
  if (event && ready())
    check(cuEventDestroy(static_cast<CUevent>(event)), "cuEventDestroy");
}

MHA_GPU_EXPORT void mgpuEventSynchronize(void *event) {
  if (event && ready())
    check(cuEventSynchronize(static_cast<CUevent>(event)),
          "cuEventSynchronize");
}

MHA_GPU_EXPORT void mgpuEventRecord(void *event, void *stream) {
  if (event && ready())
    check(cuEventRecord(static_cast<CUevent>(event),
                        static_cast<CUstream>(stream)),
          "cuEventRecord");
}

/// Device memory from the stream-ordered allocator where the device has
/// one (no device-wide synchronization per allocation, unlike cuMemAlloc).
MHA_GPU_EXPORT void *mgpuMemAlloc(uint64_t bytes, void *stream,
                                  bool hostShared) {
  if (bytes == 0 || !ready())
    return nullptr;
  CUdeviceptr pointer = 0;
  CUresult result =
      hostShared ? cuMemAllocManaged(&pointer, bytes, CU_MEM_ATTACH_GLOBAL)
      : memoryPools
          ? cuMemAllocAsync(&pointer, bytes, static_cast<CUstream>(stream))
          : cuMemAlloc(&pointer, bytes);
  if (result != CUDA_SUCCESS) {
    fail("allocating " + std::to_string(bytes) +
         " bytes of GPU memory failed: " + describe(result));
    return nullptr;
  }
  ledger.allocated(reinterpret_cast<void *>(pointer), bytes);
  return reinterpret_cast<void *>(pointer);
}

MHA_GPU_EXPORT void mgpuMemFree(void *pointer, void *stream) {
  if (!pointer || !ready())
    return;
  ledger.freed(pointer);
  if (memoryPools)
    check(cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(pointer),
                         static_cast<CUstream>(stream)),
          "cuMemFreeAsync");
  else
    check(cuMemFree(reinterpret_cast<CUdeviceptr>(pointer)), "cuMemFree");
}

MHA_GPU_EXPORT void mgpuMemcpy(void *dst, void *src, size_t bytes,
                               void *stream) {
  if (bytes == 0 || !ready())
    return;
  ledger.copied(dst, src, bytes);
  check(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                      reinterpret_cast<CUdeviceptr>(src), bytes,
                      static_cast<CUstream>(stream)),
        "cuMemcpyAsync");
}

MHA_GPU_EXPORT void mgpuMemset32(void *dst, unsigned value, size_t count,
                                 void *stream) {
  if (count && ready())
    check(cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                           static_cast<CUstream>(stream)),
          "cuMemsetD32Async");
}

MHA_GPU_EXPORT void mgpuMemset16(void *dst, unsigned short value,
                                 size_t count, void *stream) {
  if (count && ready())
    check(cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                           static_cast<CUstream>(stream)),
          "cuMemsetD16Async");
}

// Device memory for mha-run's own use outside compiled code (tensors kept
// on the device between calls), on the context's legacy stream. Allocations
// and copies are waited for, so that the compiled code's streams may use
// them at once; a free is not (it is stream-ordered, and each compiled call
// has waited for its streams before it returns, so nothing still uses the
// memory): a training step replaces three tensors per parameter, and
// waiting for each would put a synchronization per tensor in every step.

MHA_GPU_EXPORT void *mhaGpuAllocate(uint64_t bytes) {
  void *pointer = mgpuMemAlloc(bytes, nullptr, /*hostShared=*/false);
  if (pointer)
    check(cuStreamSynchronize(nullptr), "cuStreamSynchronize");
  return pointer;
}

MHA_GPU_EXPORT void mhaGpuRelease(void *pointer) {
  if (!pointer)
    return;
  mgpuMemFree(pointer, nullptr);
}

MHA_GPU_EXPORT void mhaGpuCopy(void *dst, const void *src, uint64_t bytes) {
  mgpuMemcpy(dst, const_cast<void *>(src), bytes, nullptr);
  if (bytes && ready())
    check(cuStreamSynchronize(nullptr),
          "cuStreamSynchronize (a copy between host and GPU failed)");
}

MHA_GPU_EXPORT void mgpuSetDefaultDevice(int32_t /*device*/) {
  // One device: the one mhaGpuInitialize chose.
}
