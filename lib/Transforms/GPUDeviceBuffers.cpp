//===- GPUDeviceBuffers.cpp - A model's buffers in GPU memory -------------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-gpu-device-buffers: allocations, copies and
// constants of a bufferized model move to the GPU's memory, and public
// functions copy their arguments in and their results out, so that they keep
// the host interface the runner calls.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "GPUBuffers.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAGPUDEVICEBUFFERSPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// The dynamic sizes of `buffer`, for an allocation of the same type.
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value buffer) {
  SmallVector<Value> sizes;
  auto type = cast<MemRefType>(buffer.getType());
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(memref::DimOp::create(b, loc, buffer, d));
  return sizes;
}

/// The identity-layout type of a buffer of `type`'s shape.
MemRefType contiguousType(MemRefType type) {
  return MemRefType::get(type.getShape(), type.getElementType());
}

/// A new device buffer holding a copy of `source` (host or device memory).
Value copyToDevice(OpBuilder &b, Location loc, Value source) {
  auto type = contiguousType(cast<MemRefType>(source.getType()));
  Value device = gpu::AllocOp::create(b, loc, type, /*asyncToken=*/Type(),
                                      /*asyncDependencies=*/ValueRange(),
                                      dynamicSizes(b, loc, source),
                                      /*symbolOperands=*/ValueRange(),
                                      /*hostShared=*/false)
                     .getMemref();
  gpu::MemcpyOp::create(b, loc, /*asyncToken=*/Type(), ValueRange(), device,
                        source);
  return device;
}

/// The allocation `buffer` is a view of, through view-like ops; null when
/// it is not one this function made (an argument of a private function).
Value baseAllocation(Value buffer) {
  Value root = mha::rootBuffer(buffer);
  if (root.getDefiningOp<gpu::AllocOp>() ||
      root.getDefiningOp<memref::GetGlobalOp>())
    return root;
  return Value();
}

/// Whether `func` is host bookkeeping: the ownership-based deallocation's
/// helper, which compares buffers' addresses in lists of indices and flags
/// (memrefs of index and i1 only) in plain loops.
bool isHostHelper(func::FuncOp func) {
  if (func.isPublic() || func.isExternal())
    return false;
  for (Type type : func.getArgumentTypes()) {
    auto memref = dyn_cast<MemRefType>(type);
    if (!memref || !(memref.getElementType().isIndex() ||
                     memref.getElementType().isInteger(1)))
      return false;
  }
  return !func.walk([](scf::ParallelOp) { return WalkResult::interrupt(); })
              .wasInterrupted();
}

/// Whether the allocation `alloc` is host bookkeeping: lists of addresses
/// and ownership flags (index and i1 elements) that only host code reads
/// and writes and only host helpers receive.
bool isHostBookkeeping(memref::AllocOp alloc) {
  Type element = alloc.getType().getElementType();
  if (!element.isIndex() && !element.isInteger(1))
    return false;
  SmallVector<Value> worklist = {alloc.getResult()};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (user->getParentOfType<scf::ParallelOp>() ||
          isa<func::ReturnOp, memref::CopyOp>(user))
        return false;
      if (auto call = dyn_cast<func::CallOp>(user)) {
        auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
            call, call.getCalleeAttr());
        if (!callee || !isHostHelper(callee))
          return false;
        continue;
      }
      if (isa<ViewLikeOpInterface, memref::CastOp>(user))
        for (Value result : user->getResults())
          worklist.push_back(result);
    }
  }
  return true;
}

/// Whether `buffer` is (a view of) a host allocation.
bool isHostAllocation(Value buffer) {
  return mha::rootBuffer(buffer).getDefiningOp<memref::AllocOp>() != nullptr;
}

/// Whether `buffer` (or a view of it) may be written: stored to, the
/// destination of a copy or of a linalg op, or passed to a function that
/// may write that argument.
bool mayBeWritten(Value buffer, llvm::SmallPtrSetImpl<Value> &visited,
                  Operation *fill = nullptr) {
  if (!visited.insert(buffer).second)
    return false;
  SmallVector<Value> worklist = {buffer};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (user == fill)
        continue;
      if (isa<ViewLikeOpInterface, memref::CastOp>(user)) {
        for (Value result : user->getResults())
          worklist.push_back(result);
        continue;
      }
      if (auto copy = dyn_cast<gpu::MemcpyOp>(user)) {
        if (copy.getDst() == value)
          return true;
        continue;
      }
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(user)) {
        if (linalgOp.isDpsInit(&use))
          return true;
        continue;
      }
      if (auto call = dyn_cast<func::CallOp>(user)) {
        auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
            call, call.getCalleeAttr());
        if (!callee || callee.isExternal() ||
            mayBeWritten(callee.getArgument(use.getOperandNumber()), visited))
          return true;
        continue;
      }
      if (isa<memref::StoreOp, memref::AtomicRMWOp, memref::CopyOp>(user))
        return true;
    }
  }
  return false;
}

/// The positions `func`'s attribute `name` lists (of `count`), checked:
/// each one once, in range, a memref.
FailureOr<llvm::SmallDenseSet<int64_t>>
residentPositions(func::FuncOp func, StringRef name, unsigned count) {
  llvm::SmallDenseSet<int64_t> positions;
  Attribute attr = func->getAttr(name);
  if (!attr)
    return positions;
  auto list = dyn_cast<DenseI64ArrayAttr>(attr);
  if (!list)
    return func.emitError()
           << "'" << name << "' must be an array<i64: ...> of positions";
  bool arguments = name == mha::kDeviceResidentArgumentsAttr;
  for (int64_t position : list.asArrayRef()) {
    if (position < 0 || position >= int64_t(count))
      return func.emitError()
             << "'" << name << "' lists position " << position << " of "
             << count << (arguments ? " arguments" : " results");
    Type type = arguments ? func.getArgumentTypes()[position]
                          : func.getResultTypes()[position];
    if (!isa<MemRefType>(type))
      return func.emitError() << "'" << name << "' lists position " << position
                              << ", which is not a buffer: " << type;
    if (!positions.insert(position).second)
      return func.emitError()
             << "'" << name << "' lists position " << position << " twice";
  }
  return positions;
}

LogicalResult placeBuffers(func::FuncOp func) {
  // The deallocation helper runs on the host, on host lists.
  if (isHostHelper(func)) {
    func->setAttr(mha::kHostFunctionAttr, UnitAttr::get(func.getContext()));
    return success();
  }
  Block &entry = func.getBody().front();
  OpBuilder b(func.getContext());

  // Stack buffers would be host memory: the pipeline must not make any.
  WalkResult stack = func.walk([](memref::AllocaOp alloca) {
    if (alloca->getParentOfType<gpu::LaunchOp>())
      return WalkResult::advance();
    alloca.emitError("mha-gpu-device-buffers: a stack buffer outside a "
                     "kernel would be host memory");
    return WalkResult::interrupt();
  });
  if (stack.wasInterrupted())
    return failure();

  // Allocations, deallocations and copies on the device.
  SmallVector<Operation *> ops;
  func.walk([&](Operation *op) {
    if (isa<memref::AllocOp, memref::DeallocOp, memref::CopyOp,
            memref::GetGlobalOp>(op) &&
        !op->getParentOfType<gpu::LaunchOp>())
      ops.push_back(op);
  });
  // Device copies of constants, freed on every return.
  SmallVector<Value> constantCopies;
  for (Operation *op : ops) {
    b.setInsertionPoint(op);
    Location loc = op->getLoc();
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (isHostBookkeeping(alloc))
        continue;
      auto device = gpu::AllocOp::create(
          b, loc, alloc.getType(), Type(), ValueRange(),
          alloc.getDynamicSizes(), alloc.getSymbolOperands(),
          /*hostShared=*/false);
      alloc.replaceAllUsesWith(device.getMemref());
      alloc.erase();
    } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      if (isHostAllocation(dealloc.getMemref()))
        continue;
      gpu::DeallocOp::create(b, loc, Type(), ValueRange(),
                             dealloc.getMemref());
      dealloc.erase();
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      gpu::MemcpyOp::create(b, loc, Type(), ValueRange(), copy.getTarget(),
                            copy.getSource());
      copy.erase();
    } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
      b.setInsertionPointAfter(global);
      Value device = copyToDevice(b, loc, global.getResult());
      global.getResult().replaceAllUsesExcept(
          device, device.getDefiningOp()->getNextNode());
      if (global->getBlock() == &entry) {
        constantCopies.push_back(device);
      } else {
        // Inside a loop or branch: freed at the end of its block.
        b.setInsertionPoint(global->getBlock()->getTerminator());
        gpu::DeallocOp::create(b, loc, Type(), ValueRange(), device);
      }
    }
  }

  // Public functions: host buffers in, host buffers out (but for the
  // arguments and results marked device-resident). A private function is
  // called on device buffers: residence means nothing there.
  if (!func.isPublic()) {
    for (StringRef name :
         {mha::kDeviceResidentArgumentsAttr, mha::kDeviceResidentResultsAttr})
      if (func->hasAttr(name))
        return func.emitError()
               << "'" << name
               << "' is for a public function (the runner's entry point); @"
               << func.getSymName()
               << " is private and takes and returns device buffers already";
    return success();
  }
  FailureOr<llvm::SmallDenseSet<int64_t>> residentArguments = residentPositions(
      func, mha::kDeviceResidentArgumentsAttr, func.getNumArguments());
  FailureOr<llvm::SmallDenseSet<int64_t>> residentResults = residentPositions(
      func, mha::kDeviceResidentResultsAttr, func.getNumResults());
  if (failed(residentArguments) || failed(residentResults))
    return failure();
  SmallVector<Value> argumentCopies;
  // Arguments the function updates in place, with their device copies:
  // copied back before it returns.
  SmallVector<std::pair<Value, Value>> writtenArguments;
  b.setInsertionPointToStart(&entry);
  for (BlockArgument arg : entry.getArguments()) {
    if (!isa<MemRefType>(arg.getType()))
      continue;
    bool resident = residentArguments->contains(arg.getArgNumber());
    llvm::SmallPtrSet<Value, 8> visited;
    // A device-resident argument is read where it is, unless the function
    // writes it: then it works on a device copy, and the caller's buffer
    // keeps its value.
    if (resident && !mayBeWritten(arg, visited))
      continue;
    visited.clear();
    // Every use but the copy's own (taken before it exists) reads the
    // device copy.
    SmallVector<OpOperand *> uses;
    for (OpOperand &use : arg.getUses())
      uses.push_back(&use);
    Value device = copyToDevice(b, arg.getLoc(), arg);
    for (OpOperand *use : uses)
      use->set(device);
    argumentCopies.push_back(device);
    if (!resident &&
        mayBeWritten(device, visited,
                     /*fill=*/device.getDefiningOp()->getNextNode()))
      writtenArguments.push_back({arg, device});
  }

  WalkResult result = func.walk([&](func::ReturnOp ret) {
    b.setInsertionPoint(ret);
    llvm::SetVector<Value> toFree(argumentCopies.begin(),
                                  argumentCopies.end());
    toFree.insert(constantCopies.begin(), constantCopies.end());
    DenseMap<Value, Value> hostCopies;
    // Device-resident results: each a fresh device buffer of this
    // function's that it returns once and does not free; anything else (a
    // view, a constant, an argument) is copied into one. A buffer returned
    // several times is copied for all but its last return (each copy
    // replaces a use, so the count falls to one there).
    llvm::SmallPtrSet<Value, 8> keptOnDevice;
    for (OpOperand &operand : ret->getOpOperands()) {
      Value value = operand.get();
      if (!residentResults->contains(operand.getOperandNumber()))
        continue;
      auto alloc = value.getDefiningOp<gpu::AllocOp>();
      bool fresh = alloc && !llvm::is_contained(argumentCopies, value) &&
                   !llvm::is_contained(constantCopies, value) &&
                   llvm::count(ret->getOperands(), value) == 1;
      if (fresh) {
        keptOnDevice.insert(value);
        continue;
      }
      operand.set(copyToDevice(b, ret.getLoc(), value));
    }
    for (OpOperand &operand : ret->getOpOperands()) {
      Value value = operand.get();
      auto type = dyn_cast<MemRefType>(value.getType());
      if (!type || residentResults->contains(operand.getOperandNumber()))
        continue;
      auto [it, inserted] = hostCopies.try_emplace(value, Value());
      if (inserted) {
        Value host = memref::AllocOp::create(
            b, ret.getLoc(), contiguousType(type),
            dynamicSizes(b, ret.getLoc(), value));
        gpu::MemcpyOp::create(b, ret.getLoc(), Type(), ValueRange(), host,
                              value);
        it->second = host;
        Value base = baseAllocation(value);
        // A buffer a private function returned is the caller's to free (a
        // descriptor's allocated pointer is its allocation's, views too).
        if (!base && value.getDefiningOp<func::CallOp>())
          base = value;
        if (!base)
          return ret.emitError("mha-gpu-device-buffers: a returned buffer "
                               "whose allocation is not in this function"),
                 WalkResult::interrupt();
        if (!base.getDefiningOp<memref::GetGlobalOp>())
          toFree.insert(base);
      }
      operand.set(it->second);
    }
    for (auto [host, device] : writtenArguments)
      gpu::MemcpyOp::create(b, ret.getLoc(), Type(), ValueRange(), host,
                            device);
    for (Value device : toFree)
      if (!keptOnDevice.contains(device))
        gpu::DeallocOp::create(b, ret.getLoc(), Type(), ValueRange(), device);
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

struct MHAGPUDeviceBuffersPass final
    : mha::impl::MHAGPUDeviceBuffersPassBase<MHAGPUDeviceBuffersPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal() && failed(placeBuffers(func)))
        return signalPassFailure();
  }
};
} // namespace
