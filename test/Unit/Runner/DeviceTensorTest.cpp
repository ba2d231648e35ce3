//===- DeviceTensorTest.cpp - Tensors kept in device memory
//----------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// The runner's side of device-resident arguments and results
// (CompileOptions::deviceResident, JitModule::callOnDevice), on the emulated
// device (host memory behind MLIR's GPU runtime calls, with the same
// bookkeeping as the CUDA runtime's): a step that takes a parameter on the
// device and returns the updated one there, called repeatedly; what crosses
// between host and device; the errors for a tensor in the wrong memory; and
// the ledger that tells device addresses from host ones.
//
//===----------------------------------------------------------------------===//

#include "mha/Runner/Driver.h"
#include "mha/Runner/JitModule.h"
#include "mha/Runner/Registration.h"
#include "mha/Runtime/DeviceLedger.h"

// The emulated device's runtime (private to the runner library).
#include "Runner/EmulatedDevice.h"

#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

#include <cmath>

using namespace mlir;
using namespace mlir::mha;

namespace {
/// p' = p + x, and the sum of p' (a host result).
const char *kStep = R"mlir(
  func.func @step(%x: tensor<1000xf32>, %p: tensor<1000xf32>)
      -> (tensor<1000xf32>, tensor<f32>) {
    %new = mha.add %p, %x : tensor<1000xf32>, tensor<1000xf32>
    %total = mha.reduce sum %new dims = [0] : tensor<1000xf32>
    return %new, %total : tensor<1000xf32>, tensor<f32>
  }
)mlir";

class DeviceTensors : public ::testing::Test {
protected:
  static void SetUpTestSuite() { initializeNativeTarget(); }

  std::unique_ptr<JitModule> compile(bool resident) {
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(kStep, &driver.getContext());
    EXPECT_TRUE(module);
    CompileOptions options;
    options.device = Device::GPUEmulation;
    if (resident)
      options.deviceResident["step"] = {/*arguments=*/{1}, /*results=*/{0}};
    auto jit = JitModule::compile(*module, options);
    EXPECT_TRUE(bool(jit)) << (jit ? "" : llvm::toString(jit.takeError()));
    return jit ? std::move(*jit) : nullptr;
  }

  DriverContext driver;
};

HostTensor filled(float value) {
  HostTensor t(DType::F32, {1000});
  for (int64_t i = 0; i < 1000; ++i)
    t.f32()[i] = value + float(i);
  return t;
}

TEST_F(DeviceTensors, StepKeepsItsParameterOnTheDevice) {
  std::unique_ptr<JitModule> jit = compile(/*resident=*/true);
  ASSERT_TRUE(jit);
  HostTensor x = filled(0.5f);
  auto p = jit->toDevice(filled(1.0f));
  ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
  DeviceTensor param = std::move(*p);
  jit->takeDeviceUse();
  for (int step = 0; step < 3; ++step) {
    auto out = jit->callOnDevice("step", {&x, &param});
    ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
    ASSERT_EQ(out->device.size(), 1u);
    ASSERT_EQ(out->host.size(), 1u);
    EXPECT_EQ(out->device[0].shape, std::vector<int64_t>{1000});
    // The old parameter is freed as the new one replaces it.
    param = std::move(out->device[0]);
  }
  // Each step copied x in and the sum out, never the parameter.
  std::optional<DeviceUse> use = jit->takeDeviceUse();
  ASSERT_TRUE(use);
  EXPECT_EQ(use->traffic.hostToDevice, 3u * 4000u);
  EXPECT_EQ(use->traffic.deviceToHost, 3u * 4u);
  // One parameter's buffer (rounded to the allocator's 256 bytes) left.
  EXPECT_EQ(use->allocatedBytes, 4096u);
  auto host = jit->toHost(param);
  ASSERT_TRUE(bool(host)) << llvm::toString(host.takeError());
  for (int64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(host->f32()[i], (1.0f + float(i)) + 3 * (0.5f + float(i)))
        << "at " << i;
}

TEST_F(DeviceTensors, WithoutResidenceEverythingIsCopied) {
  std::unique_ptr<JitModule> jit = compile(/*resident=*/false);
  ASSERT_TRUE(jit);
  HostTensor x = filled(0.5f), p = filled(1.0f);
  jit->takeDeviceUse();
  auto out = jit->call("step", {&x, &p});
  ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
  std::optional<DeviceUse> use = jit->takeDeviceUse();
  ASSERT_TRUE(use);
  EXPECT_EQ(use->traffic.hostToDevice, 2u * 4000u);
  EXPECT_EQ(use->traffic.deviceToHost, 4000u + 4u);
  EXPECT_EQ(use->allocatedBytes, 0u);
}

TEST_F(DeviceTensors, WrongMemoryIsAnError) {
  std::unique_ptr<JitModule> jit = compile(/*resident=*/true);
  ASSERT_TRUE(jit);
  HostTensor x = filled(0.5f), p = filled(1.0f);
  auto hostParam = jit->callOnDevice("step", {&x, &p}, {"x", "p"});
  ASSERT_FALSE(bool(hostParam));
  EXPECT_EQ(llvm::toString(hostParam.takeError()),
            "@step: 'p' must be a tensor in device memory");
  auto device = jit->toDevice(x);
  ASSERT_TRUE(bool(device));
  auto deviceInput = jit->callOnDevice("step", {&*device, &*device});
  ASSERT_FALSE(bool(deviceInput));
  EXPECT_EQ(llvm::toString(deviceInput.takeError()),
            "@step: argument #0 must be a tensor in host memory");
  // call() cannot return device results.
  auto plain = jit->call("step", {&x, &p});
  ASSERT_FALSE(bool(plain));
}

TEST_F(DeviceTensors, ResidenceOfAMissingPositionIsAnError) {
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kStep, &driver.getContext());
  ASSERT_TRUE(module);
  CompileOptions options;
  options.device = Device::GPUEmulation;
  options.deviceResident["step"] = {{2}, {}};
  auto jit = JitModule::compile(*module, options);
  ASSERT_FALSE(bool(jit));
  EXPECT_EQ(llvm::toString(jit.takeError()),
            "@step has no argument or result #2 to keep on the device");
}

TEST(EmulatedDevice, PoisonsMemoryAndReportsMisuse) {
  // New device memory reads as NaN until written.
  auto *floats = static_cast<float *>(emulated_device::allocate(16));
  ASSERT_NE(floats, nullptr);
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(std::isnan(floats[i])) << "at " << i;
  float host[4] = {1, 2, 3, 4};
  emulated_device::ledger().take();
  emulated_device::copy(floats, host, sizeof(host));
  EXPECT_EQ(floats[3], 4.0f);
  EXPECT_EQ(emulated_device::ledger().take().hostToDevice, sizeof(host));
  emulated_device::release(floats);
  char message[256] = {0};
  EXPECT_EQ(emulated_device::takeError(message, sizeof(message)), 0);
  // Freed twice, or never the device's: an error the runner reports.
  emulated_device::release(floats);
  ASSERT_EQ(emulated_device::takeError(message, sizeof(message)), 1);
  EXPECT_NE(std::string(message).find("that the device did not allocate, or "
                                      "freed already"),
            std::string::npos)
      << message;
  emulated_device::release(host);
  EXPECT_EQ(emulated_device::takeError(message, sizeof(message)), 1);
  EXPECT_EQ(emulated_device::takeError(message, sizeof(message)), 0);
  // Nothing for nothing, as cuMemAlloc.
  EXPECT_EQ(emulated_device::allocate(0), nullptr);
}

TEST(DeviceLedger, TellsDeviceAddressesAndCountsCopies) {
  DeviceLedger ledger;
  alignas(64) static char device[256], host[64];
  ledger.allocated(device, sizeof(device));
  ledger.copied(device + 100, host, 10); // into a view of the allocation
  ledger.copied(host, device, 20);
  ledger.copied(device, device + 128, 30);
  ledger.copied(host, host + 32, 40); // host to host: not counted
  DeviceTraffic traffic = ledger.take();
  EXPECT_EQ(traffic.hostToDevice, 10u);
  EXPECT_EQ(traffic.deviceToHost, 20u);
  EXPECT_EQ(traffic.deviceToDevice, 30u);
  EXPECT_EQ(ledger.take().hostToDevice, 0u);
  EXPECT_EQ(ledger.sizeOf(device), 256u);
  EXPECT_EQ(ledger.allocatedBytes(), 256u);
  uint64_t bytes = 0;
  EXPECT_TRUE(ledger.freed(device, &bytes));
  EXPECT_EQ(bytes, 256u);
  EXPECT_FALSE(ledger.freed(device));
  EXPECT_EQ(ledger.allocatedBytes(), 0u);
}
} // namespace
