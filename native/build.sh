#!/usr/bin/env bash
# Builds one native component of VideoSSL: `native/build.sh torch` (the libtorch shim) or
# `native/build.sh av` (the video decoder). Called by `dotnet build`; safe to call by hand.
#
# It installs what is missing when run as root (a fresh machine must need no other step), and
# otherwise stops with the exact command to run. The libtorch it builds against:
#   Torch_DIR / LIBTORCH   a libtorch tree or a pip wheel's cmake prefix
#                          (python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
#   otherwise              Debian's libtorch-dev (CPU, 1.13).
set -euo pipefail
component=${1:?usage: native/build.sh torch|av}
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${VIDEOSSL_NATIVE_BUILD:-$here/build}/$component

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v c++ >/dev/null || need+=(g++)
# Plots and reports draw text in DejaVu Sans by file, so pictures look the same on every machine.
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || need+=(fonts-dejavu-core)
case $component in
  torch)
    if [[ -z "${Torch_DIR:-}${LIBTORCH:-}" ]]; then
      [[ -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake || -f /usr/lib/aarch64-linux-gnu/cmake/Torch/TorchConfig.cmake ]] || need+=(libtorch-dev)
      # Without OpenBLAS, Debian's libtorch falls back to the reference BLAS: matmul is many times slower.
      ls /usr/lib/*/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || need+=(libopenblas0)
      # c10d's Gloo process group (distributed training) includes the system gloo's headers.
      [[ -f /usr/include/gloo/algorithm.h ]] || need+=(libgloo-dev)
    fi
    # The tests read PyTorch-written checkpoints and `bench ops` compares against PyTorch on the same libtorch.
    [[ -d /usr/lib/python3/dist-packages/torch ]] || need+=(python3-torch)
    # RandAugment is checked op by op against PIL, whose functions the reference pipelines call.
    [[ -d /usr/lib/python3/dist-packages/PIL ]] || need+=(python3-pil) ;;
  av)
    for lib in libavformat libavcodec libswscale libavutil; do
      pkg-config --exists $lib 2>/dev/null || need+=($lib-dev)
    done
    command -v pkg-config >/dev/null || need+=(pkg-config)
    command -v ffmpeg >/dev/null || need+=(ffmpeg) ;;
  *) echo "native/build.sh: unknown component '$component' (torch|av)" >&2; exit 2 ;;
esac

# tools/gpu/remote.sh builds on a lent CUDA machine that has cmake, a compiler and a pip torch but no network:
# the Debian packages the dev machine's tests need would be an apt-get that cannot succeed there.
[[ -n "${VIDEOSSL_SKIP_SYSTEM_PACKAGES:-}" ]] && need=()
if (( ${#need[@]} )); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "native/build.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A fresh image may have empty package lists; an update is cheap next to the install.
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "VideoSSL needs system packages that are not installed: ${need[*]}" >&2
    echo "Install them with:  sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

cmake_args=(-S "$here/$component" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release)
[[ -n "${LIBTORCH:-}" ]] && cmake_args+=(-DCMAKE_PREFIX_PATH="$LIBTORCH")
[[ -n "${Torch_DIR:-}" ]] && cmake_args+=(-DTorch_DIR="$Torch_DIR" -DCMAKE_PREFIX_PATH="$Torch_DIR")
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake "${cmake_args[@]}" >&2
fi
cmake --build "$build_dir" -j"$(nproc)" >&2
echo "$build_dir"
