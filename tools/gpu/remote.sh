#!/usr/bin/env bash
# Runs on the CUDA machine (see package.sh): checks the toolchain, builds the shim against the local torch,
# then runs the command given as $1 with `videossl` on PATH, from this folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
echo "== toolchain"; command -v c++ cmake nvidia-smi || true; c++ --version | head -1; cmake --version | head -1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "== torch $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)') at $prefix"
export Torch_DIR="$prefix/Torch" VIDEOSSL_NATIVE_BUILD=/tmp/videossl-native VIDEOSSL_SKIP_SYSTEM_PACKAGES=1
bash "$here/native/build.sh" torch >/dev/null
export VIDEOSSL_TORCH_SHIM=/tmp/videossl-native/torch/libvideossl_torch.so
# The pip wheel's libtorch needs its own lib folder on the loader path (the shim's RPATH covers it, this is a fallback).
export LD_LIBRARY_PATH="$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))'):${LD_LIBRARY_PATH:-}"
export PATH="$here/bin:$PATH"
cd "$here"
echo "== $1"
bash -c "$1"
