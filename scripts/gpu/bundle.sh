#!/bin/bash
# Packs the built mha-run, its GPU runtime and the shared libraries it needs
# beyond a stock Linux system into .gpu-bundle/ (ignored by git), so that a
# GPU machine without LLVM/MLIR installed can run it: the device checks
# (scripts/gpu/device-check.sh) carry it there.
#
#   bash scripts/gpu/bundle.sh [build-dir]
#
# libz3 and ICU, which libLLVM and libxml2 link but mha-run never calls,
# are replaced by empty stand-ins of the same names (lazy binding resolves a
# function only when it is called), which keeps the bundle under the 64 MiB
# a device call may carry.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
out=$root/.gpu-bundle
rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
cp "$build/bin/mha-run" "$out/bin/"
cp "$build/lib/libmha_cuda_runtime.so" "$out/lib/"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib"
# Libraries every Linux with a C++ toolchain has are left out.
ldd "$build/bin/mha-run" | awk '/=>/ {print $3}' |
  grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|libz|libzstd|liblzma|libdl|libpthread|librt)\.so' |
  while read -r lib; do
    case "$(basename "$lib")" in
      libz3.so.*|libicu*.so.*)
        # Every symbol the other libraries import from it, as an empty
        # function (some are taken by address, so must exist at load time).
        for other in $(ldd "$build/bin/mha-run" | awk '/=>/ {print $3}'); do
          nm -D --undefined-only "$other" 2>/dev/null | awk '{print $2}'
        done | sed 's/@.*//' | sort -u > "$stage/imported"
        nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
          sort -u | comm -12 - "$stage/imported" |
          sed 's/.*/void &(void) {}/' |
          cc -shared -fPIC -x c - -Wl,-soname,"$(basename "$lib")" \
             -o "$stage/lib/$(basename "$lib")" ;;
      *) cp -L "$lib" "$stage/lib/" ;;
    esac
  done
tar -C "$stage" -cf - lib | xz -T0 -6 > "$out/libs.tar.xz"
du -sh "$out"/* | sed 's/^/  /'
echo "bundle: $out ($(du -sh "$out" | cut -f1))"
