# -*- Python -*-
# lit configuration of the mha regression tests (IR, pipelines, integration).

import os
import sys

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MHA"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mha_obj_root, "test")
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py",
                   "lit.site.cfg.py", "Unit", "npy.py", "Inputs", "seed_crosscheck.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%mha_src_root", config.mha_src_root))
config.substitutions.append(("%mha_obj_root", config.mha_obj_root))
config.substitutions.append(("%examples", os.path.join(config.mha_src_root, "examples")))
config.substitutions.append(("%python", sys.executable))
# Writes, corrupts and compares .npy files for the integration tests.
config.substitutions.append(("%npy", sys.executable + " " + os.path.join(
    config.mha_src_root, "test", "Integration", "npy.py")))

# PyTorch cross-checks run where Debian's python3-torch is installed.
config.substitutions.append(("%seed-crosscheck", "/usr/bin/python3 " + os.path.join(
    config.mha_src_root, "test", "Integration", "PyTorch", "seed_crosscheck.py")))
# The instrumented build of scripts/sanitize.sh: ASan reserves terabytes of
# address space for its shadow, so address-space limits (ulimit -v) cannot
# apply there.
if "-fsanitize=address" in getattr(config, "mha_cxx_flags", ""):
    config.available_features.add("asan")

import shutil
import subprocess
# Data-parallel training tests need mha-run built with MPI and a launcher.
# Open MPI refuses root unless told; oversubscription lets 2 ranks share
# fewer cores.
if getattr(config, "mha_have_mpi", "").upper() in ("TRUE", "ON", "1") and \
        shutil.which("mpirun"):
    config.available_features.add("mpi")
config.substitutions.append(("%mpirun", "env OMPI_ALLOW_RUN_AS_ROOT=1 "
                             "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun "
                             "--oversubscribe"))
try:
    if subprocess.run(["/usr/bin/python3", "-c", "import torch, numpy"],
                      capture_output=True, timeout=60).returncode == 0:
        config.available_features.add("torch")
except Exception:
    pass

# The GPU pipeline: cubins need the CUDA toolkit's ptxas (found as the
# pipeline finds it: $CUDA_HOME, else /usr/local/cuda); running on a GPU
# needs mha-run's GPU runtime (built with the toolkit), the CUDA driver and
# a device.
cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or \
    "/usr/local/cuda"
if os.path.exists(os.path.join(cuda_home, "bin", "ptxas")):
    config.available_features.add("ptxas")
    config.environment["CUDA_HOME"] = cuda_home
if getattr(config, "mha_have_cuda", "").upper() in ("TRUE", "ON", "1"):
    config.available_features.add("cuda-runtime")
    try:
        import ctypes
        cuda = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        if cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(count)) == 0 \
                and count.value > 0:
            config.available_features.add("gpu")
    except OSError:
        pass

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
# Strict FileCheck: captured variables do not leak across CHECK-LABELs and
# every prefix a RUN line names must be used.
# Tests compile every time: the persistent cache of compiled code is off
# unless a test turns it on (Integration/CPU/compile-cache.test).
config.environment["MHA_CACHE_DIR"] = "off"
config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"

# The installed package is built and used like a user would (Install/).
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%cxx", config.cxx_compiler))
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%mha_obj_root", config.mha_obj_root))

tool_dirs = [config.mha_tools_dir, config.llvm_tools_dir]
tools = [ToolSubst("mha-opt", unresolved="fatal"),
         ToolSubst("mha-run", unresolved="fatal"),
         ToolSubst("mha-lsp-server", unresolved="fatal"),
         ToolSubst("mha-capi-check", unresolved="fatal"),
         ToolSubst("mha-fuzz-model", unresolved="fatal"),
         ToolSubst("mha-fuzz-npy", unresolved="fatal"),
         ToolSubst("mha-fuzz-safetensors", unresolved="fatal")]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.mha_tools_dir, append_path=True)
