/*===- mha-c/mha.h - The mha C API ---------------------------------*- C -*-===*\
|*                                                                            *|
|* Part of the mha project: an MLIR compiler for attention models.            *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* A small, stable C interface to mha, in the style of MLIR's C API: opaque  *|
|* handles, plain C types, no C++ across it. It loads a model file, binds    *|
|* parameters and inputs from memory or files, JIT-compiles and runs the     *|
|* model forward, and runs training steps as the model's mha.training says.  *|
|*                                                                            *|
|* Errors: every function that can fail returns MHA_OK (0) or MHA_ERROR and  *|
|* leaves a message naming what was wrong (the file, the input, the shape    *|
|* expected) for mhaGetLastError(); handles-returning functions return NULL. *|
|* A NULL handle is an error, never a crash. Handles are not thread-safe;    *|
|* different handles may be used from different threads.                    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef MHA_C_MHA_H
#define MHA_C_MHA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MHA_CAPI_EXPORTED __declspec(dllexport)
#else
#define MHA_CAPI_EXPORTED __attribute__((visibility("default")))
#endif

#define MHA_OK 0
#define MHA_ERROR 1

/** Element types of the tensors that cross the API (row-major data). */
typedef enum MhaDType {
  MHA_DTYPE_F32 = 0,
  MHA_DTYPE_I32 = 1,
  MHA_DTYPE_I64 = 2,
  MHA_DTYPE_BOOL = 3, /* one byte per element, 0 or 1 */
  /* Not a type: makes every 32-bit value representable, so that a bad
   * value passed from C is reported as an error rather than being
   * undefined behavior in C++. */
  MHA_DTYPE_MAX_ENUM = 0x7fffffff,
} MhaDType;

/** The largest rank the API reports shapes for. */
#define MHA_MAX_RANK 8

/** A loaded model: its module, parameters, bound inputs and compiled code. */
typedef struct MhaModel_ *MhaModel;

/** The message of the last failed call on this thread ("" if none). Valid
 *  until the next call on this thread. */
MHA_CAPI_EXPORTED const char *mhaGetLastError(void);

/** "mha X.Y.Z (LLVM/MLIR N.N.N)". */
MHA_CAPI_EXPORTED const char *mhaGetVersion(void);

/** Parses and verifies a model file; its parameters are initialized from
 *  its initializers with seed 0, its entry is the mha.training model or its
 *  only public function. NULL on failure. */
MHA_CAPI_EXPORTED MhaModel mhaModelLoad(const char *path);

/** Frees a model and everything it owns; NULL is allowed. */
MHA_CAPI_EXPORTED void mhaModelDestroy(MhaModel model);

/** Picks the function mhaModelRun runs (NULL or "": the default). */
MHA_CAPI_EXPORTED int mhaModelSelectEntry(MhaModel model, const char *name);

/** The entry's inputs: their count, names, element types and shapes (-1 for
 *  a dynamic dimension; `shape` holds MHA_MAX_RANK values). */
MHA_CAPI_EXPORTED int64_t mhaModelNumInputs(MhaModel model);
MHA_CAPI_EXPORTED const char *mhaModelInputName(MhaModel model, int64_t index);
MHA_CAPI_EXPORTED int mhaModelInputType(MhaModel model, int64_t index, MhaDType *dtype,
                      int64_t *rank, int64_t *shape);

/** Parameters: re-initialized from `seed`, or read from / written to a
 *  safetensors file (written atomically), checked against the model. */
MHA_CAPI_EXPORTED int mhaModelInitParams(MhaModel model, uint64_t seed);
MHA_CAPI_EXPORTED int mhaModelLoadParams(MhaModel model, const char *path);
MHA_CAPI_EXPORTED int mhaModelSaveParams(MhaModel model, const char *path);

/** Threads of compiled parallel loops (0: every core; the default). Takes
 *  effect at the next compilation. */
MHA_CAPI_EXPORTED int mhaModelSetThreads(MhaModel model, int64_t threads);

/** Binds the entry's input `name` to a copy of `data` (row-major,
 *  `rank` dims in `shape`; `data` must hold the product of `shape`
 *  elements, which the API cannot check), or to an .npy file. The data must
 *  match the input's element type and static dimensions. */
MHA_CAPI_EXPORTED int mhaModelSetInput(MhaModel model, const char *name, MhaDType dtype,
                     const int64_t *shape, int64_t rank, const void *data);
MHA_CAPI_EXPORTED int mhaModelSetInputFromFile(MhaModel model, const char *name,
                             const char *npyPath);

/** Runs the entry on the bound inputs and the parameters (JIT-compiling it
 *  on the first call). */
MHA_CAPI_EXPORTED int mhaModelRun(MhaModel model);

/** Results of the last run: count, and result `index`'s element type,
 *  rank, shape and data (owned by the model, valid until the next run). */
MHA_CAPI_EXPORTED int64_t mhaModelNumOutputs(MhaModel model);
MHA_CAPI_EXPORTED int mhaModelGetOutput(MhaModel model, int64_t index, MhaDType *dtype,
                      int64_t *rank, const int64_t **shape,
                      const void **data);

/** One training update as the model's mha.training says (loss, optimizer,
 *  dropout), on the batch bound with mhaModelSetInput (the model's inputs)
 *  and these labels (f32 for bce/mse, i64 class indices for
 *  cross_entropy; as many elements as `labelsShape` says); compiles the training step on the first call. The
 *  parameters and the optimizer state are updated in place; `loss` (may be
 *  NULL) receives the batch's loss. Updates are counted, and dropout draws
 *  from (seed, update count) as mha-run --train does. */
MHA_CAPI_EXPORTED int mhaModelTrainStep(MhaModel model, MhaDType labelsType,
                      const int64_t *labelsShape, int64_t labelsRank,
                      const void *labels, double *loss);

#ifdef __cplusplus
}
#endif

#endif /* MHA_C_MHA_H */
