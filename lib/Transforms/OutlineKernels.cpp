//===- OutlineKernels.cpp - One function per distinct matmul kernel -------===//
//
// Part of the mha project: an MLIR compiler for attention models.
//
//===----------------------------------------------------------------------===//
//
// This file implements mha-outline-kernels. After register-block tiling, a
// model holds one copy of the same vector kernel (the loop over K of an
// m-tile x n-tile block) per matmul, and each copy is unrolled into hundreds
// of instructions by the vector lowering: most of what LLVM then optimizes
// and compiles is these copies. The pass moves every such loop into a
// private function whose memref arguments have dynamic sizes and strides (a
// static unit innermost stride stays static: it keeps vector loads
// contiguous), so that copies differing only in the shapes and strides of
// the matrices they read are the same function; the duplicates are then
// merged (upstream duplicate-function-elimination, run by the pipeline).
// LLVM inlines a kernel called once back into its caller.
//
//===----------------------------------------------------------------------===//

#include "mha/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Transforms/Hoisting.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir {
namespace mha {
#define GEN_PASS_DEF_MHAOUTLINEKERNELSPASS
#include "mha/Transforms/Passes.h.inc"
} // namespace mha
} // namespace mlir

using namespace mlir;

namespace {
/// Whether `loop` is a kernel to outline: an innermost loop without
/// results whose body holds a vector.contract (register blocks of a
/// matmul) or a vector.transpose (16 x 16 blocks of a matrix transpose) and
/// nothing but views, vector transfers and index or float arithmetic.
bool isKernelLoop(scf::ForOp loop) {
  if (loop.getNumResults() != 0)
    return false;
  bool hasContract = false;
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (isa<vector::ContractionOp, vector::TransposeOp>(op))
      hasContract = true;
    else if (!isa<memref::SubViewOp, memref::DimOp, vector::TransferReadOp,
                  vector::TransferWriteOp, affine::AffineApplyOp,
                  affine::AffineMinOp, affine::AffineMaxOp>(op) &&
             !isa<arith::ArithDialect, vector::VectorDialect>(
                 op.getDialect()))
      return false;
    if (op.getNumRegions() != 0)
      return false;
  }
  return hasContract;
}

/// The argument type of a kernel reading `type`: a memref of dynamic
/// sizes, offset and strides, but a static unit innermost stride; null when
/// `type` has no strided layout.
MemRefType kernelArgumentType(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return nullptr;
  SmallVector<int64_t> dynamicStrides(strides.size(), ShapedType::kDynamic);
  if (!strides.empty() && strides.back() == 1)
    dynamicStrides.back() = 1;
  SmallVector<int64_t> shape(type.getRank(), ShapedType::kDynamic);
  auto layout = StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic,
                                       dynamicStrides);
  auto result = MemRefType::get(shape, type.getElementType(), layout,
                                type.getMemorySpace());
  return memref::CastOp::areCastCompatible(type, result) ? result : nullptr;
}

struct MHAOutlineKernelsPass final
    : mha::impl::MHAOutlineKernelsPassBase<MHAOutlineKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ForOp> kernels;
    module.walk([&](scf::ForOp loop) {
      if (isKernelLoop(loop))
        kernels.push_back(loop);
    });
    SymbolTable symbols(module);
    OpBuilder b(&getContext());
    unsigned count = 0;
    for (scf::ForOp loop : kernels)
      if (failed(outline(loop, symbols, b, count)))
        return signalPassFailure();
  }

  LogicalResult outline(scf::ForOp loop, SymbolTable &symbols, OpBuilder &b,
                        unsigned &count) {
    // The loop's bounds are arguments, constant or not (kernels differing
    // in their trip count are one function). What else the loop uses from
    // outside: constants are copied in, the rest become arguments.
    SmallVector<Value> arguments = {loop.getLowerBound(),
                                    loop.getUpperBound()};
    SmallVector<Type> argumentTypes = {arguments[0].getType(),
                                       arguments[1].getType()};
    SetVector<Value> used;
    used.insert(loop.getStep());
    getUsedValuesDefinedAbove(loop.getRegion(), used);
    SmallVector<Operation *> constants;
    for (Value value : used) {
      Operation *def = value.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>()) {
        constants.push_back(def);
        continue;
      }
      if (llvm::is_contained(arguments, value))
        continue;
      Type type = value.getType();
      if (auto memref = dyn_cast<MemRefType>(type)) {
        type = kernelArgumentType(memref);
        if (!type)
          return success(); // Not a strided view: left in place.
      }
      arguments.push_back(value);
      argumentTypes.push_back(type);
    }

    auto parent = loop->getParentOfType<func::FuncOp>();
    Location loc = loop.getLoc();
    b.setInsertionPoint(parent);
    auto kernel = func::FuncOp::create(
        b, loc, ("__mha_kernel_" + llvm::Twine(count++)).str(),
        b.getFunctionType(argumentTypes, {}));
    kernel.setPrivate();
    // Internal to the module for LLVM too: a kernel called once is inlined
    // back, and none is kept for callers outside.
    kernel->setAttr("llvm.linkage",
                    LLVM::LinkageAttr::get(b.getContext(),
                                           LLVM::Linkage::Internal));
    symbols.insert(kernel);
    Block *body = kernel.addEntryBlock();
    b.setInsertionPointToStart(body);
    IRMapping mapping;
    for (Operation *constant : constants)
      mapping.map(constant->getResult(0), b.clone(*constant)->getResult(0));
    for (auto [value, arg] : llvm::drop_begin(
             llvm::zip(arguments, body->getArguments()), 2))
      mapping.map(value, arg);
    for (unsigned i = 0; i < 2; ++i)
      if (!mapping.contains(arguments[i]))
        mapping.map(arguments[i], body->getArgument(i));
    auto copy = cast<scf::ForOp>(b.clone(*loop, mapping));
    copy.setLowerBound(body->getArgument(0));
    copy.setUpperBound(body->getArgument(1));
    func::ReturnOp::create(b, loc);
    // Views of the now dynamic arguments: their types follow.
    WalkResult retyped = copy.walk([&](memref::SubViewOp view) {
      auto source = cast<MemRefType>(view.getSource().getType());
      MemRefType type = memref::SubViewOp::inferRankReducedResultType(
          view.getType().getShape(), source, view.getMixedOffsets(),
          view.getMixedSizes(), view.getMixedStrides());
      if (!type)
        return WalkResult::interrupt();
      view.getResult().setType(type);
      return WalkResult::advance();
    });
    if (retyped.wasInterrupted())
      return loop.emitOpError("mha-outline-kernels: cannot retype a view");

    // In the kernel the output tile is an argument, which only the loop's
    // transfers use: its read and write leave the loop, and the
    // accumulators stay in registers across the reduction. (In place, the
    // tile is a view, which the hoisting must assume may alias the inputs.)
    linalg::hoistRedundantVectorTransfers(kernel);

    // The call, with the views cast to the arguments' types.
    b.setInsertionPoint(loop);
    SmallVector<Value> operands;
    for (auto [value, type] : llvm::zip(arguments, argumentTypes))
      operands.push_back(value.getType() == type
                             ? value
                             : memref::CastOp::create(b, loc, type, value)
                                   .getResult());
    func::CallOp::create(b, loc, kernel, operands);
    loop.erase();
    return success();
  }
};
} // namespace
