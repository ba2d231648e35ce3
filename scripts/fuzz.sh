#!/usr/bin/env bash
#===- scripts/fuzz.sh - Run the fuzz targets for a bounded time ----------===#
#
# Builds the libFuzzer targets in the instrumented build-asan/ (see
# scripts/sanitize.sh) and runs each for MHA_FUZZ_SECONDS (default 60)
# seconds, seeded with the examples and test models (mha-fuzz-model;
# MHA_FUZZ_MODEL_SEEDS chooses the directories) and generated .npy and
# safetensors files. The corpora grow in
# build-asan/fuzz-corpus/ between runs. A crash stops the script with a
# nonzero status and leaves the input in build-asan/fuzz-crashes/; minimize
# it (the target's -minimize_crash=1) into test/Fuzz/<target>/ as a
# regression test once fixed.
#
# Usage: MHA_FUZZ_SECONDS=600 scripts/fuzz.sh [target...]
#   targets: mha-fuzz-model mha-fuzz-npy mha-fuzz-safetensors (default all)
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${MHA_FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mha-fuzz-model mha-fuzz-npy mha-fuzz-safetensors)

scripts/sanitize.sh --build-only
cmake --build build-asan --target "${targets[@]}"

corpus=build-asan/fuzz-corpus
crashes=build-asan/fuzz-crashes
mkdir -p "$crashes"
# Seeds: the model files under MHA_FUZZ_MODEL_SEEDS (directories; default
# every model in the repository), and well-formed data files. libFuzzer runs
# every seed once before it looks at the clock, and each model goes through
# all the pipelines (about 4 s under ASan on 2 cores): .ci/run's short
# budget seeds with fewer.
mkdir -p "$corpus/mha-fuzz-model" "$corpus/mha-fuzz-npy" "$corpus/mha-fuzz-safetensors"
# shellcheck disable=SC2086  # (a list of directories)
find ${MHA_FUZZ_MODEL_SEEDS:-examples test} -name '*.mlir' -size -64k \
  -exec cp {} "$corpus/mha-fuzz-model/" \;
python3 - "$corpus" <<'PY'
import json, struct, sys
corpus = sys.argv[1]
def npy(name, descr, shape, data):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open("%s/mha-fuzz-npy/%s" % (corpus, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data)
npy("f32", "<f4", "(2, 3)", struct.pack("<6f", *range(6)))
npy("i64", "<i8", "(3,)", struct.pack("<3q", 0, 1, 2))
npy("bool", "|b1", "(2, 2)", bytes([0, 1, 1, 0]))
npy("f16", "<f2", "()", struct.pack("<e", 1.5))
def st(name, tensors, meta):
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for key, (dtype, shape, raw) in tensors.items():
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open("%s/mha-fuzz-safetensors/%s" % (corpus, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
st("two", {"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
           "b": ("BF16", [2], b"\x80\x3f\x00\x40")}, {"epoch": "1", "format": "mha-checkpoint-1"})
st("empty", {}, None)
st("ints", {"i": ("I64", [1], struct.pack("<q", 7)), "m": ("BOOL", [3], b"\x01\x00\x01")}, None)
PY

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:allow_user_poisoning=0"
export UBSAN_OPTIONS="abort_on_error=1:halt_on_error=1:print_stacktrace=1"
status=0
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds} s"
  log="build-asan/$target.log"
  # The model target lowers whole models: give it time per input.
  if ! build-asan/bin/$target "$corpus/$target" -max_total_time="$seconds" \
      -timeout=60 -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix="$crashes/$target-" -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz: $target FOUND A CRASH (input in $crashes/, log in $log)"
    tail -40 "$log"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" |
    sed "s/^/fuzz: $target /" || true
done
exit $status
