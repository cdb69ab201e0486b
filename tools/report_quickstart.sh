#!/usr/bin/env bash
# The quick-start pretraining, a linear probe on its encoder and one on a random encoder of the same shape, and one
# HTML report of the three (plus a screenshot of it when Chromium is installed), as one command:
#   tools/report_quickstart.sh [OUT_DIR] [--set KEY=VALUE]...     (default runs/report_quickstart)
# --set options go to the pretraining only, e.g. --set train.max_steps=100 for a shorter check.
# CONFIGURATION=Debug uses a Debug build (one already built saves the Release build's minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/report_quickstart
if [[ $# -gt 0 && $1 != --* ]]; then out=$1; shift; fi
configuration=${CONFIGURATION:-Release}
dotnet build src/VideoSSL.Cli -c "$configuration" -v q -nologo >/dev/null
videossl() { dotnet "src/VideoSSL.Cli/bin/$configuration/net10.0/videossl.dll" "$@"; }
mkdir -p "$out"
q=experiments/quickstart
echo "pretraining -> $out/pretrain (log: $out/pretrain.log)"
videossl pretrain $q/videomae_micro_synth.json --run-dir "$out/pretrain" "$@" > "$out/pretrain.log"
ckpt=$out/pretrain/checkpoints/last.safetensors
echo "probing the pretrained and a random encoder"
videossl probe $q/probe_linear_micro_synth.json --run-dir "$out/probe-pretrained" --set init="$ckpt" > "$out/probe-pretrained.log"
videossl probe $q/probe_linear_micro_synth.json --run-dir "$out/probe-random" > "$out/probe-random.log"
videossl report "$out/pretrain" "$out/probe-pretrained" "$out/probe-random" --out "$out/report.html"
if [[ -x /usr/bin/chromium ]]; then
  tools/report_screenshot.sh "$out/report.html" "$out/report.png"
fi
