#!/usr/bin/env bash
# The end-to-end signal on the built-in synthetic motion dataset, as one command (about 10 min on 2 cores):
# pretrain vit_micro with the quick-start VideoMAE config, then probe that encoder and a randomly initialised one of
# the same shape with the same probes (linear, attentive, ridge), and fine-tune from both. Prints one table.
#   tools/e2e_synth.sh [OUT_DIR]          (default runs/e2e_synth; seeds are the configs' own)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/e2e_synth}
dotnet build src/VideoSSL.Cli -c Release -v q -nologo >/dev/null
videossl() { dotnet src/VideoSSL.Cli/bin/Release/net10.0/videossl.dll "$@"; }
mkdir -p "$out"
q=experiments/quickstart
videossl pretrain $q/videomae_micro_synth.json --run-dir "$out/pretrain" > "$out/pretrain.log"
ckpt=$out/pretrain/checkpoints/last.safetensors
# acc1 of a run's final multi-view test, from its metrics.json.
acc() { python3 -c 'import json,sys; print("%.2f" % (100 * json.load(open(sys.argv[1]))["top1"]))' "$1/test/metrics.json"; }
run() { # name, command, config, extra args...
  local name=$1 cmd=$2 cfg=$3; shift 3
  videossl "$cmd" "$cfg" --run-dir "$out/$name-random" "$@" > "$out/$name-random.log"
  videossl "$cmd" "$cfg" --run-dir "$out/$name-pretrained" --set init="$ckpt" "$@" > "$out/$name-pretrained.log"
  printf '| %-10s | %8s%% | %8s%% |\n' "$name" "$(acc "$out/$name-random")" "$(acc "$out/$name-pretrained")" >> "$out/table.md"
}
printf '| %-10s | %9s | %9s |\n|---|---|---|\n' "top-1" "random" "pretrained" > "$out/table.md"
run linear probe $q/probe_linear_micro_synth.json
run ridge probe $q/probe_linear_micro_synth.json --set probe.kind=ridge
run attentive probe $q/probe_attentive_micro_synth.json
run finetune finetune $q/finetune_micro_synth.json
grep '^done:' "$out/pretrain.log"
cat "$out/table.md"
