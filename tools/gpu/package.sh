#!/usr/bin/env bash
# Packages VideoSSL for a CUDA machine that has PyTorch 2.x but no .NET and no network:
# a self-contained linux-x64 publish of the CLI (not trimmed: config binding uses reflection) plus the
# shim's sources, as one tarball under .publish/ (git-ignored). Then, on that machine:
#   tar xzf .publish/videossl-gpu.tgz -C /tmp && bash /tmp/videossl/remote.sh 'bash check.sh'
# remote.sh builds native/torch against that machine's torch and runs the given command with it; check.sh is
# the whole device check (selftest, bench ops, bench pretrain ViT-B bf16). The tarball must stay under the
# 64 MiB a device run can carry: this script stops if it does not.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.publish/videossl
rm -rf "$out" && mkdir -p "$out"
# The shim is built on the GPU machine; the CPU one built here would pull in Debian's libtorch 1.13.
VIDEOSSL_SKIP_NATIVE=1 dotnet publish src/VideoSSL.Cli -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false -o "$out/bin" >/dev/null
rm -f "$out/bin"/libvideossl_*.so
mkdir -p "$out/native" "$out/tools"
cp -r native/torch native/build.sh "$out/native/"
cp -r tools/reference "$out/tools/"
cp -r experiments "$out/" 2>/dev/null || true
cp tools/gpu/remote.sh "$out/remote.sh"
cp tools/gpu/check.sh "$out/check.sh"
tar czf .publish/videossl-gpu.tgz -C .publish videossl
size=$(stat -c %s .publish/videossl-gpu.tgz)
ls -la .publish/videossl-gpu.tgz
if (( size > 64 * 1024 * 1024 )); then
  echo "package.sh: .publish/videossl-gpu.tgz is $((size / 1048576)) MiB, over the 64 MiB a device run carries" >&2
  exit 1
fi
