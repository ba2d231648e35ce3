//===- GPUMapParallelLoops.cpp - Parallel loops onto GPU blocks/threads ---===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-gpu-map-parallel-loops: every outermost
// scf.parallel of a bufferized function is collapsed to one dimension, tiled
// into blocks of threads and mapped to the GPU's block_x and thread_x; host
// code that still touches buffers becomes a one-thread kernel.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "GPUBuffers.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Conversion/SCFToGPU/SCFToGPU.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <numeric>

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAGPUMAPPARALLELLOOPSPASS
#define GEN_PASS_DEF_MHAGPUREDUCTIONSINNERMOSTPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// The most threads a block may have on every NVIDIA GPU since sm_20.
constexpr int64_t kMaxThreadsPerBlock = 1024;

gpu::ParallelLoopDimMappingAttr mappingTo(MLIRContext *context,
                                          gpu::Processor processor) {
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, context);
  return gpu::ParallelLoopDimMappingAttr::get(context, processor, identity,
                                              identity);
}

/// Maps `loop` (every dimension) to sequential execution in its thread.
LogicalResult mapSequential(scf::ParallelOp loop) {
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping(
      loop.getNumLoops(),
      mappingTo(loop.getContext(), gpu::Processor::Sequential));
  return gpu::setMappingAttr(loop, mapping);
}

/// Collapses, tiles and maps the outermost parallel loop `loop`; returns
/// the loop over a block's threads.
FailureOr<scf::ParallelOp> mapLoop(RewriterBase &rewriter, scf::ParallelOp loop,
                                   int64_t blockSize) {
  MLIRContext *context = loop.getContext();
  if (!loop.getInitVals().empty()) {
    loop.emitError("mha-gpu-map-parallel-loops: a parallel loop with "
                          "a reduction has no GPU mapping yet");
    return failure();
  }
  if (loop.getNumLoops() > 1) {
    // One dimension, the last one fastest: neighbouring threads, neighbouring
    // elements. (The collapse replaces the loop with a new one in place.)
    Operation *next = loop->getNextNode();
    std::vector<unsigned> all(loop.getNumLoops());
    std::iota(all.begin(), all.end(), 0u);
    rewriter.setInsertionPoint(loop);
    collapseParallelLoops(rewriter, loop, {all});
    loop = cast<scf::ParallelOp>(next->getPrevNode());
  }
  auto [outer, inner] = scf::tileParallelLoop(loop, {blockSize},
                                              /*noMinMaxBounds=*/true);
  if (failed(gpu::setMappingAttr(
          outer, {mappingTo(context, gpu::Processor::BlockX)})) ||
      failed(gpu::setMappingAttr(
          inner, {mappingTo(context, gpu::Processor::ThreadX)})))
    return failure();
  WalkResult nested = inner.getBody()->walk([](scf::ParallelOp nestedLoop) {
    return failed(mapSequential(nestedLoop)) ? WalkResult::interrupt()
                                             : WalkResult::advance();
  });
  if (nested.wasInterrupted())
    return failure();
  return inner;
}

/// Whether `buffer` is host memory: after mha-gpu-device-buffers, the only
/// memref.alloc left are the host's.
bool isHostBuffer(Value buffer) {
  return mha::rootBuffer(buffer).getDefiningOp<memref::AllocOp>() != nullptr;
}

/// Whether `op` or an op nested in it reads or writes the contents of a
/// device buffer (which must happen on the device).
bool touchesBufferContents(Operation *op) {
  WalkResult result = op->walk([](Operation *nested) {
    if (auto load = dyn_cast<memref::LoadOp>(nested))
      return isHostBuffer(load.getMemRef()) ? WalkResult::advance()
                                            : WalkResult::interrupt();
    if (auto store = dyn_cast<memref::StoreOp>(nested))
      return isHostBuffer(store.getMemRef()) ? WalkResult::advance()
                                             : WalkResult::interrupt();
    if (isa<memref::AtomicRMWOp, vector::TransferReadOp,
            vector::TransferWriteOp, vector::LoadOp, vector::StoreOp>(nested))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// Whether `op` or an op nested in it must run on the host: it manages
/// memory, calls a function or reports a run-time error.
bool needsHost(Operation *op) {
  WalkResult result = op->walk([](Operation *nested) {
    if (isa_and_present<gpu::GPUDialect, func::FuncDialect>(
            nested->getDialect()) ||
        isa<memref::AllocOp, memref::DeallocOp, memref::AllocaOp,
            memref::CopyOp, cf::AssertOp>(nested))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

/// Wraps `ops` (consecutive in their block) into a one-iteration parallel
/// loop mapped to one block of one thread.
scf::ParallelOp wrapInOneThread(RewriterBase &rewriter,
                                ArrayRef<Operation *> ops) {
  Location loc = ops.front()->getLoc();
  rewriter.setInsertionPoint(ops.front());
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  auto loop = scf::ParallelOp::create(rewriter, loc, ValueRange{zero},
                                      ValueRange{one}, ValueRange{one});
  for (Operation *op : ops)
    rewriter.moveOpBefore(op, loop.getBody()->getTerminator());
  (void)gpu::setMappingAttr(
      loop, {mappingTo(ops.front()->getContext(), gpu::Processor::BlockX)});
  return loop;
}

/// A host buffer holding a copy of the device buffer `device` (of static
/// shape), made where `b` is; the caller deallocates it.
Value copyToHost(OpBuilder &b, Location loc, Value device) {
  auto type = cast<MemRefType>(device.getType());
  Value host = memref::AllocOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()));
  gpu::MemcpyOp::create(b, loc, Type(), ValueRange(), host, device);
  return host;
}

/// Reads of a scalar (a buffer of one element) by host code, whose value
/// the host uses (an optimizer's step count, a loss's sum being divided):
/// the element is copied into a host buffer and read there.
void readScalarsOnHost(func::FuncOp func) {
  SmallVector<memref::LoadOp> loads;
  func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<scf::ParallelOp, gpu::LaunchOp, scf::ForOp, scf::WhileOp>(op))
      return WalkResult::skip();
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      MemRefType type = load.getMemRefType();
      if (type.hasStaticShape() && type.getNumElements() == 1 &&
          !isHostBuffer(load.getMemRef()))
        loads.push_back(load);
    }
    return WalkResult::advance();
  });
  for (memref::LoadOp load : loads) {
    OpBuilder b(load);
    Location loc = load.getLoc();
    Value host = copyToHost(b, loc, load.getMemRef());
    load->setOperand(0, host);
    b.setInsertionPointAfter(load);
    memref::DeallocOp::create(b, loc, host);
  }
}

/// Keeps a reduction's accumulator in a register: in each sequential loop
/// inside a kernel that loads an element of a buffer, updates it and stores
/// it back at the same loop-invariant position (what a linalg reduction
/// lowers to), and touches that buffer nowhere else, the element is loaded
/// once before the loop, carried as a loop value and stored once after it.
/// (The loop comes from a linalg op, whose inputs and output do not alias,
/// so the other buffers it reads cannot hold that element.)
void promoteAccumulators(RewriterBase &rewriter, Region &kernel) {
  SmallVector<scf::ForOp> loops;
  kernel.walk([&](scf::ForOp loop) { loops.push_back(loop); });
  for (scf::ForOp loop : loops) {
    Block *body = loop.getBody();
    bool opaque = false;
    DenseMap<Value, SmallVector<Operation *>> accesses;
    loop.walk([&](Operation *op) {
      if (auto load = dyn_cast<memref::LoadOp>(op))
        accesses[load.getMemRef()].push_back(op);
      else if (auto store = dyn_cast<memref::StoreOp>(op))
        accesses[store.getMemRef()].push_back(op);
      else if (!isMemoryEffectFree(op) && !isa<scf::ForOp, scf::IfOp,
                                               scf::YieldOp>(op))
        opaque = true;
    });
    if (opaque)
      continue;
    for (auto &[buffer, ops] : accesses) {
      if (ops.size() != 2 || !loop.isDefinedOutsideOfLoop(buffer))
        continue;
      auto load = dyn_cast<memref::LoadOp>(ops[0]);
      auto store = dyn_cast<memref::StoreOp>(ops[1]);
      if (!load || !store || load->getBlock() != body ||
          store->getBlock() != body || !load->isBeforeInBlock(store) ||
          load.getIndices() != store.getIndices() ||
          !llvm::all_of(load.getIndices(), [&](Value index) {
            return loop.isDefinedOutsideOfLoop(index);
          }))
        continue;
      rewriter.setInsertionPoint(loop);
      Value initial = memref::LoadOp::create(rewriter, load.getLoc(), buffer,
                                             load.getIndices());
      Value stored = store.getValueToStore();
      auto grown = cast<LoopLikeOpInterface>(loop.getOperation())
                       .replaceWithAdditionalYields(
                           rewriter, initial,
                           /*replaceInitOperandUsesInLoop=*/false,
                           [&](OpBuilder &, Location,
                               ArrayRef<BlockArgument>) {
                             return SmallVector<Value>{stored};
                           });
      if (failed(grown))
        continue;
      auto newLoop = cast<scf::ForOp>(grown->getOperation());
      rewriter.replaceAllUsesWith(load.getResult(),
                                  newLoop.getRegionIterArgs().back());
      rewriter.eraseOp(load);
      rewriter.setInsertionPointAfter(newLoop);
      memref::StoreOp::create(rewriter, store.getLoc(),
                              newLoop.getResults().back(), buffer,
                              store.getIndices());
      rewriter.eraseOp(store);
      break; // The loop was replaced: one accumulator per loop.
    }
  }
}

/// Collects, in `block` of host code and the host ops nested in it, the
/// runs of consecutive ops that read or write buffers (with the pure
/// scalar ops between them): each becomes one one-thread kernel.
void collectStrayRuns(Block &block,
                      SmallVectorImpl<SmallVector<Operation *>> &runs) {
  SmallVector<Operation *> run;
  auto close = [&] {
    while (!run.empty() && !touchesBufferContents(run.back()))
      run.pop_back();
    if (!run.empty())
      runs.push_back(std::move(run));
    run.clear();
  };
  for (Operation &op : block) {
    if (isa<scf::ParallelOp, gpu::LaunchOp>(op) ||
        op.hasTrait<OpTrait::IsTerminator>()) {
      close();
    } else if (touchesBufferContents(&op)) {
      if (needsHost(&op)) {
        // Host code holding device work (an scf.if around deallocations
        // and loops): look inside.
        close();
        for (Region &region : op.getRegions())
          for (Block &nested : region)
            collectStrayRuns(nested, runs);
      } else {
        run.push_back(&op);
      }
    } else if (!run.empty() && op.getNumRegions() == 0 &&
               isMemoryEffectFree(&op)) {
      run.push_back(&op);
    } else {
      close();
    }
  }
  close();
}

/// Whether element `indices` of `buffer` lies at a multiple of `bytes` from
/// the start of the device allocation it views (gpu.alloc: 256-byte
/// aligned): every index times its stride, and every view's offset, a
/// multiple of `bytes`, the strides static.
bool isAlignedInAllocation(Value buffer, ValueRange indices, int64_t bytes) {
  auto multiple = [&](OpFoldResult index, int64_t stride, int64_t element) {
    if (stride != ShapedType::kDynamic && (stride * element) % bytes == 0)
      return true;
    std::optional<int64_t> constant = getConstantIntValue(index);
    return constant && stride != ShapedType::kDynamic &&
           (*constant * stride * element) % bytes == 0;
  };
  auto check = [&](MemRefType type, ArrayRef<OpFoldResult> offsets) {
    auto [strides, offset] = type.getStridesAndOffset();
    int64_t element = type.getElementTypeBitWidth() / 8;
    for (auto [index, stride] : llvm::zip(offsets, strides))
      if (!multiple(index, stride, element))
        return false;
    return true;
  };
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type || !type.getElementType().isIntOrFloat() ||
      !check(type, getAsOpFoldResult(indices)))
    return false;
  while (Operation *def = buffer.getDefiningOp()) {
    if (isa<gpu::AllocOp>(def))
      return true;
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      buffer = cast.getSource();
      continue;
    }
    auto view = dyn_cast<memref::SubViewOp>(def);
    if (!view || !check(view.getSourceType(), view.getMixedOffsets()))
      return false;
    buffer = view.getSource();
  }
  return false;
}

/// Row reads and writes of vectors in kernels (vector.transfer_read/write,
/// in bounds, of the innermost dimension) become vector.load/store that
/// carry the alignment their address has, so that the GPU reads 16 bytes
/// per instruction (ld.global.v4) instead of one element.
void alignVectorRows(RewriterBase &rewriter, func::FuncOp func) {
  constexpr int64_t kBytes = 16;
  SmallVector<Operation *> transfers;
  func.walk([&](gpu::LaunchOp launch) {
    launch.walk([&](Operation *op) {
      if (isa<vector::TransferReadOp, vector::TransferWriteOp>(op))
        transfers.push_back(op);
    });
  });
  for (Operation *op : transfers) {
    auto transfer = cast<VectorTransferOpInterface>(op);
    auto vectorType = transfer.getVectorType();
    if (transfer.getMask() || vectorType.getRank() != 1 ||
        !transfer.getPermutationMap().isMinorIdentity() ||
        transfer.hasOutOfBoundsDim() ||
        !isa<MemRefType>(transfer.getShapedType()) ||
        (vectorType.getNumElements() * vectorType.getElementTypeBitWidth() /
         8) % kBytes != 0 ||
        !isAlignedInAllocation(transfer.getBase(), transfer.getIndices(),
                               kBytes))
      continue;
    rewriter.setInsertionPoint(op);
    auto alignment = rewriter.getI64IntegerAttr(kBytes);
    if (auto read = dyn_cast<vector::TransferReadOp>(op)) {
      auto load = vector::LoadOp::create(rewriter, read.getLoc(), vectorType,
                                         read.getBase(), read.getIndices());
      load.setAlignmentAttr(alignment);
      rewriter.replaceOp(read, load);
    } else {
      auto write = cast<vector::TransferWriteOp>(op);
      auto store = vector::StoreOp::create(rewriter, write.getLoc(),
                                           write.getVector(), write.getBase(),
                                           write.getIndices());
      store.setAlignmentAttr(alignment);
      rewriter.eraseOp(write);
    }
  }
}

/// Values one one-thread kernel computes and later code uses (a loop over
/// a row of one element, left after its parallel loop folded away, feeding
/// the next kernel): each goes through a device buffer of one element,
/// stored in its kernel and loaded where it is used, inside the later
/// kernel, or by the host through a copy. `runs` are the future kernels'
/// ops, in order in their blocks; the loads and stores join them.
void passValuesBetweenKernels(RewriterBase &rewriter,
                              SmallVectorImpl<SmallVector<Operation *>> &runs) {
  DenseMap<Operation *, unsigned> runOf;
  for (auto [index, run] : llvm::enumerate(runs))
    for (Operation *op : run)
      runOf[op] = index;
  // Inserts `op` into run `index` just before (or after) `anchor`.
  auto addToRun = [&](unsigned index, Operation *op, Operation *anchor,
                      bool after) {
    SmallVector<Operation *> &run = runs[index];
    auto *it = llvm::find(run, anchor);
    run.insert(after ? std::next(it) : it, op);
    runOf[op] = index;
  };
  for (unsigned index = 0; index < runs.size(); ++index) {
    SmallVector<Operation *> defining(runs[index]);
    for (Operation *op : defining) {
      for (Value value : op->getResults()) {
        Block *block = op->getBlock();
        SmallVector<OpOperand *> outside;
        for (OpOperand &use : value.getUses()) {
          Operation *user = block->findAncestorOpInBlock(*use.getOwner());
          auto found = runOf.find(user);
          if (!user || found == runOf.end() || found->second != index)
            outside.push_back(&use);
        }
        if (outside.empty())
          continue;
        Location loc = op->getLoc();
        auto type = MemRefType::get({}, value.getType());
        rewriter.setInsertionPoint(runs[index].front());
        auto buffer = gpu::AllocOp::create(
            rewriter, loc, type, /*asyncToken=*/Type(), ValueRange(),
            ValueRange(), ValueRange());
        rewriter.setInsertionPointAfter(op);
        auto store = memref::StoreOp::create(rewriter, loc, value,
                                             buffer.getMemref(), ValueRange());
        addToRun(index, store, op, /*after=*/true);
        for (OpOperand *use : outside) {
          Operation *user = block->findAncestorOpInBlock(*use->getOwner());
          rewriter.setInsertionPoint(user);
          auto found = runOf.find(user);
          Value loaded;
          if (found != runOf.end()) {
            auto load = memref::LoadOp::create(rewriter, loc,
                                               buffer.getMemref(), ValueRange());
            addToRun(found->second, load, user, /*after=*/false);
            loaded = load;
          } else {
            // The host's own use: through a host copy.
            Value host = copyToHost(rewriter, loc, buffer.getMemref());
            loaded = memref::LoadOp::create(rewriter, loc, host, ValueRange());
            memref::DeallocOp::create(rewriter, loc, host);
          }
          use->set(loaded);
        }
        rewriter.setInsertionPoint(block->getTerminator());
        gpu::DeallocOp::create(rewriter, loc, Type(), ValueRange(),
                               buffer.getMemref());
      }
    }
  }
}

struct MHAGPUMapParallelLoopsPass final
    : mha::impl::MHAGPUMapParallelLoopsPassBase<MHAGPUMapParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    // The deallocation's helper (mha-gpu-device-buffers marked it) stays on
    // the host; the mark has done its work.
    if (func->removeAttr(mha::kHostFunctionAttr))
      return;
    if (blockSize <= 0 || blockSize > kMaxThreadsPerBlock) {
      func.emitError("mha-gpu-map-parallel-loops: block-size must be in [1, ")
          << kMaxThreadsPerBlock << "] (threads per block of an NVIDIA GPU), "
          << "got " << int64_t(blockSize);
      return signalPassFailure();
    }
    IRRewriter rewriter(func.getContext());
    // Outermost parallel loops (not inside another one or a kernel).
    SmallVector<scf::ParallelOp> loops;
    func.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
        if (!loop->hasAttr(gpu::getMappingAttrName()))
          loops.push_back(loop);
        return WalkResult::skip();
      }
      return WalkResult::advance();
    });
    SmallVector<scf::ParallelOp> threadLoops;
    for (scf::ParallelOp loop : loops) {
      FailureOr<scf::ParallelOp> threads = mapLoop(rewriter, loop, blockSize);
      if (failed(threads))
        return signalPassFailure();
      threadLoops.push_back(*threads);
    }
    // Each thread's work: reductions accumulate in registers.
    for (scf::ParallelOp threads : threadLoops)
      promoteAccumulators(rewriter, threads.getRegion());

    // Emulated on the host (no conversion), every buffer is host memory:
    // the mapped loop nests are the kernels, nothing else moves.
    if (!convert)
      return;
    readScalarsOnHost(func);
    // What else reads or writes buffers runs as a kernel of one thread:
    // whole top-level ops (a sequential loop with its body) and the scalar
    // work between them.
    SmallVector<SmallVector<Operation *>> candidateRuns;
    collectStrayRuns(func.getBody().front(), candidateRuns);
    SmallVector<SmallVector<Operation *>> runs;
    for (ArrayRef<Operation *> candidates : candidateRuns) {
      // Scalar ops that need nothing from the buffers stay on the host,
      // ahead of the kernel (the host may use them too).
      llvm::SmallPtrSet<Operation *, 8> inRun;
      SmallVector<Operation *> run;
      Operation *first = candidates.front();
      for (Operation *op : candidates) {
        bool hostable = op->getNumRegions() == 0 && isMemoryEffectFree(op) &&
                        llvm::none_of(op->getOperands(), [&](Value v) {
                          return inRun.contains(v.getDefiningOp());
                        });
        if (hostable && op != first) {
          op->moveBefore(first);
          continue;
        }
        inRun.insert(op);
        run.push_back(op);
      }
      runs.push_back(std::move(run));
    }
    passValuesBetweenKernels(rewriter, runs);
    for (ArrayRef<Operation *> run : runs) {
      scf::ParallelOp kernel = wrapInOneThread(rewriter, run);
      promoteAccumulators(rewriter, kernel.getRegion());
    }

    // Every mapped loop a kernel launch; one left over would be host code
    // on device memory, so it is an error here.
    RewritePatternSet patterns(func.getContext());
    populateParallelLoopToGPUPatterns(patterns);
    ConversionTarget target(*func.getContext());
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    configureParallelLoopToGPULegality(target);
    target.addDynamicallyLegalOp<scf::ParallelOp>([](scf::ParallelOp loop) {
      // Nested, sequential loops stay inside their kernel.
      return loop->getParentOfType<gpu::LaunchOp>() != nullptr;
    });
    if (failed(applyPartialConversion(func, target, std::move(patterns)))) {
      func.emitError("mha-gpu-map-parallel-loops: a parallel loop could not "
                     "become a GPU kernel");
      return signalPassFailure();
    }
    finalizeParallelLoopToGPUConversion(func);
    alignVectorRows(rewriter, func);
  }
};
} // namespace

namespace {
struct MHAGPUReductionsInnermostPass final
    : mha::impl::MHAGPUReductionsInnermostPassBase<
          MHAGPUReductionsInnermostPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    for (linalg::GenericOp op : ops) {
      SmallVector<unsigned> order;
      SmallVector<utils::IteratorType> iterators =
          op.getIteratorTypesArray();
      for (unsigned i = 0; i < iterators.size(); ++i)
        if (iterators[i] == utils::IteratorType::parallel)
          order.push_back(i);
      for (unsigned i = 0; i < iterators.size(); ++i)
        if (iterators[i] != utils::IteratorType::parallel)
          order.push_back(i);
      bool identity = true;
      for (unsigned i = 0; i < order.size(); ++i)
        identity &= order[i] == i;
      if (identity)
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order))) {
        op.emitError("mha-gpu-reductions-innermost: cannot reorder loops");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
