/*===- capi-check.c - The C API's behavior on good and bad calls ----------===*\
|*                                                                            *|
|* Part of the mha project: an MLIR compiler for attention models.            *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* capi-check SEED_MODEL BROKEN_MODEL UNTRAINED_MODEL DIR                     *|
|*                                                                            *|
|* Calls the C API on the seed classifier (results, training, parameters)    *|
|* and with bad arguments (null handles, unknown inputs, wrong types and     *|
|* shapes, missing files), printing each result or error message for         *|
|* FileCheck (test/CAPI/capi.test).                                           *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "mha-c/mha.h"

#include <stdio.h>
#include <string.h>

static void report(const char *what, int status) {
  printf("%s: %s%s\n", what, status == MHA_OK ? "ok" : "error: ",
         status == MHA_OK ? "" : mhaGetLastError());
}

int main(int argc, char **argv) {
  if (argc != 5)
    return 2;
  char path[4096];

  /* Loading. */
  if (!mhaModelLoad(NULL))
    printf("load null: %s\n", mhaGetLastError());
  if (!mhaModelLoad("/nonexistent/model.mlir"))
    printf("load missing: %s\n", mhaGetLastError());
  if (!mhaModelLoad(argv[2]))
    printf("load broken: %s\n", mhaGetLastError());

  /* Null handles. */
  report("run null", mhaModelRun(NULL));
  printf("inputs of null: %lld (%s)\n", (long long)mhaModelNumInputs(NULL),
         mhaGetLastError());
  mhaModelDestroy(NULL);

  MhaModel model = mhaModelLoad(argv[1]);
  if (!model)
    return 1;
  printf("inputs: %lld, first '%s'\n", (long long)mhaModelNumInputs(model),
         mhaModelInputName(model, 0));
  MhaDType dtype;
  int64_t rank, shape[MHA_MAX_RANK];
  report("input type", mhaModelInputType(model, 0, &dtype, &rank, shape));
  printf("input 0: dtype %d rank %lld shape [%lld, %lld, %lld]\n", (int)dtype,
         (long long)rank, (long long)shape[0], (long long)shape[1],
         (long long)shape[2]);
  printf("input name 5: %s (%s)\n",
         mhaModelInputName(model, 5) ? "?" : "null", mhaGetLastError());

  /* Bad inputs. */
  float x[2 * 3 * 16];
  for (int i = 0; i < 2 * 3 * 16; ++i)
    x[i] = (float)(i % 7) * 0.25f - 0.5f;
  int64_t good[3] = {2, 3, 16}, narrow[3] = {2, 3, 8}, negative[3] = {2, -3, 16};
  report("set unknown", mhaModelSetInput(model, "y", MHA_DTYPE_F32, good, 3, x));
  report("set narrow",
         mhaModelSetInput(model, "x", MHA_DTYPE_F32, narrow, 3, x));
  report("set i32", mhaModelSetInput(model, "x", MHA_DTYPE_I32, good, 3, x));
  report("set negative",
         mhaModelSetInput(model, "x", MHA_DTYPE_F32, negative, 3, x));
  report("set rank 9", mhaModelSetInput(model, "x", MHA_DTYPE_F32, good, 9, x));
  report("set null data",
         mhaModelSetInput(model, "x", MHA_DTYPE_F32, good, 3, NULL));
  report("set bad dtype",
         mhaModelSetInput(model, "x", (MhaDType)42, good, 3, x));
  report("run unbound", mhaModelRun(model));
  report("output before run", mhaModelGetOutput(model, 0, NULL, NULL, NULL, NULL));
  report("set missing file",
         mhaModelSetInputFromFile(model, "x", "/nonexistent/x.npy"));

  /* A good run. */
  report("set x", mhaModelSetInput(model, "x", MHA_DTYPE_F32, good, 3, x));
  report("threads", mhaModelSetThreads(model, 1));
  report("threads -1", mhaModelSetThreads(model, -1));
  report("run", mhaModelRun(model));
  const void *data;
  const int64_t *outShape;
  int64_t outRank;
  report("output", mhaModelGetOutput(model, 0, &dtype, &outRank, &outShape, &data));
  printf("output 0: dtype %d rank %lld shape [%lld, %lld] values %.6f %.6f\n",
         (int)dtype, (long long)outRank, (long long)outShape[0],
         (long long)outShape[1], ((const float *)data)[0],
         ((const float *)data)[1]);
  report("output 3", mhaModelGetOutput(model, 3, NULL, NULL, NULL, NULL));

  /* Training: labels of the wrong shape, then good updates. */
  float labels[2] = {1.0f, 0.0f}, wrongLabels[4] = {1.0f, 0.0f, 1.0f, 0.0f};
  int64_t labelShape[2] = {2, 1}, wrongShape[2] = {2, 2};
  double loss = 0;
  /* The data always holds the elements its shape says (the API cannot
   * check a C buffer's size). */
  report("train wrong labels", mhaModelTrainStep(model, MHA_DTYPE_F32,
                                                 wrongShape, 2, wrongLabels,
                                                 &loss));
  for (int step = 1; step <= 3; ++step) {
    report("train", mhaModelTrainStep(model, MHA_DTYPE_F32, labelShape, 2,
                                      labels, &loss));
    printf("loss %d: %.6f\n", step, loss);
  }

  /* Parameters. */
  snprintf(path, sizeof(path), "%s/params.safetensors", argv[4]);
  report("save", mhaModelSaveParams(model, path));
  report("save unwritable",
         mhaModelSaveParams(model, "/nonexistent/dir/p.safetensors"));
  report("load params missing",
         mhaModelLoadParams(model, "/nonexistent/p.safetensors"));
  report("load params", mhaModelLoadParams(model, path));
  report("run again", mhaModelRun(model));
  mhaModelGetOutput(model, 0, NULL, NULL, NULL, &data);
  printf("after reload: %.6f %.6f\n", ((const float *)data)[0],
         ((const float *)data)[1]);
  report("init params", mhaModelInitParams(model, 0));
  report("run initial", mhaModelRun(model));
  mhaModelGetOutput(model, 0, NULL, NULL, NULL, &data);
  printf("initial again: %.6f %.6f\n", ((const float *)data)[0],
         ((const float *)data)[1]);
  report("select missing", mhaModelSelectEntry(model, "nope"));
  mhaModelDestroy(model);

  /* A model without mha.training cannot train. */
  MhaModel untrained = mhaModelLoad(argv[3]);
  if (!untrained)
    return 1;
  report("train untrained", mhaModelTrainStep(untrained, MHA_DTYPE_F32,
                                              labelShape, 2, labels, &loss));
  mhaModelDestroy(untrained);
  printf("version: %s\n", mhaGetVersion());
  return 0;
}
