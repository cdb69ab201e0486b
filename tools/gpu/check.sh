#!/usr/bin/env bash
# The device check for a lent CUDA machine, in one go (run through remote.sh, which builds the shim and puts
# `videossl` on PATH):  bash /tmp/videossl/remote.sh 'bash check.sh'
# 1. selftest: transfers, bf16 autocast, native SDPA vs formula, fused vs foreach AdamW, memory statistics;
# 2. bench ops: per-op overhead and a ViT block next to PyTorch on the same machine;
# 3. bench pretrain at ViT-B 16x224 batch 32 bf16: step time, clips/s, MFU, peak memory.
# Each step is bounded so the whole check fits a short device lease; a failed selftest stops it.
set -uo pipefail
device=${DEVICE:-cuda}
echo "== selftest --device $device"
timeout 120 videossl selftest --device "$device" || { echo "selftest failed: stopping"; exit 1; }
echo "== bench ops --device $device"
timeout 180 videossl bench ops --device "$device" --iterations 10 || echo "bench ops did not finish"
echo "== bench ops --device $device --bf16"
timeout 120 videossl bench ops --device "$device" --iterations 10 --bf16 --no-reference || echo "bench ops --bf16 did not finish"
echo "== bench pretrain --model vit_base --batch ${BATCH:-32} --bf16 --device $device"
timeout 300 videossl bench pretrain --model vit_base --batch "${BATCH:-32}" --bf16 --device "$device" --steps 10 || echo "bench pretrain did not finish"
