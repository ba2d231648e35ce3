/*===- train-model.c - mha from C ------------------------------------------===*\
|*                                                                            *|
|* Part of the mha project: an MLIR compiler for attention models.            *|
|*                                                                            *|
|*===----------------------------------------------------------------------===*|
|*                                                                            *|
|* Loads a model file, binds inputs of ones (dynamic dimensions 4), runs it  *|
|* forward and prints each result; with --train, runs 5 training updates     *|
|* with labels of ones shaped like the first result (for bce or mse models,  *|
|* such as examples/seed_classifier.mlir), printing the loss of each, and    *|
|* saves the parameters to trained-c.safetensors.                            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "mha-c/mha.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(int status) {
  if (status != MHA_OK)
    fprintf(stderr, "error: %s\n", mhaGetLastError());
  return status;
}

static size_t dtypeSize(MhaDType dtype) {
  return dtype == MHA_DTYPE_I64 ? 8 : dtype == MHA_DTYPE_BOOL ? 1 : 4;
}

/* A buffer of `count` ones of `dtype`. */
static void *ones(MhaDType dtype, int64_t count) {
  void *data = malloc((size_t)count * dtypeSize(dtype) + 1);
  for (int64_t i = 0; i < count; ++i) {
    if (dtype == MHA_DTYPE_F32)
      ((float *)data)[i] = 1.0f;
    else if (dtype == MHA_DTYPE_I32)
      ((int32_t *)data)[i] = 1;
    else if (dtype == MHA_DTYPE_I64)
      ((int64_t *)data)[i] = 1;
    else
      ((uint8_t *)data)[i] = 1;
  }
  return data;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: train-model MODEL.mlir [--train]\n");
    return 2;
  }
  printf("%s\n", mhaGetVersion());
  MhaModel model = mhaModelLoad(argv[1]);
  if (!model) {
    fprintf(stderr, "error: %s\n", mhaGetLastError());
    return 1;
  }
  int status = MHA_OK;
  int64_t inputs = mhaModelNumInputs(model);
  for (int64_t i = 0; i < inputs && status == MHA_OK; ++i) {
    MhaDType dtype;
    int64_t rank, shape[MHA_MAX_RANK], count = 1;
    status = check(mhaModelInputType(model, i, &dtype, &rank, shape));
    if (status != MHA_OK)
      break;
    for (int64_t d = 0; d < rank; ++d) {
      if (shape[d] < 0)
        shape[d] = 4;
      count *= shape[d];
    }
    void *data = ones(dtype, count);
    status = check(mhaModelSetInput(model, mhaModelInputName(model, i), dtype,
                                    shape, rank, data));
    free(data);
  }
  if (status == MHA_OK)
    status = check(mhaModelRun(model));
  MhaDType outType = MHA_DTYPE_F32;
  int64_t outRank = 0, outCount = 1;
  const int64_t *outShape = NULL;
  for (int64_t r = 0; status == MHA_OK && r < mhaModelNumOutputs(model); ++r) {
    const void *data;
    int64_t rank, count = 1;
    const int64_t *shape;
    MhaDType dtype;
    status = check(mhaModelGetOutput(model, r, &dtype, &rank, &shape, &data));
    if (status != MHA_OK)
      break;
    double sum = 0;
    printf("result %lld: rank %lld [", (long long)r, (long long)rank);
    for (int64_t d = 0; d < rank; ++d) {
      printf("%s%lld", d ? ", " : "", (long long)shape[d]);
      count *= shape[d];
    }
    for (int64_t i = 0; dtype == MHA_DTYPE_F32 && i < count; ++i)
      sum += ((const float *)data)[i];
    printf("] sum %g\n", sum);
    if (r == 0) {
      outType = dtype;
      outRank = rank;
      outShape = shape;
      outCount = count;
    }
  }
  if (status == MHA_OK && argc > 2 && strcmp(argv[2], "--train") == 0) {
    /* Copy the shape: the result's buffers change at the next run. */
    int64_t labelShape[MHA_MAX_RANK];
    memcpy(labelShape, outShape, (size_t)outRank * sizeof(int64_t));
    void *labels = ones(outType, outCount);
    for (int step = 1; step <= 5 && status == MHA_OK; ++step) {
      double loss;
      status = check(mhaModelTrainStep(model, outType, labelShape, outRank,
                                       labels, &loss));
      if (status == MHA_OK)
        printf("update %d: loss %.6f\n", step, loss);
    }
    free(labels);
    if (status == MHA_OK)
      status = check(mhaModelSaveParams(model, "trained-c.safetensors"));
  }
  mhaModelDestroy(model);
  return status == MHA_OK ? 0 : 1;
}
