#!/usr/bin/env bash
# Writes the files `videossl bench data` was measured on: N clips of 10 s, 320x240, 25 fps H.264 (x264 veryfast,
# default GOP), Kinetics-like in size. `--realistic` (the default) adds temporal noise so the bitrate is near a real
# Kinetics clip's (~390 KB per 10 s); `--plain` keeps testsrc2's flat colours (low entropy, decodes much faster).
#   tools/bench/make_videos.sh OUT_DIR [N] [--plain]
# Then: videossl bench data --root OUT_DIR --annotations OUT_DIR/list.txt --workers 2 --seconds 15
set -euo pipefail
out=${1:?usage: make_videos.sh OUT_DIR [N] [--plain]}
n=${2:-24}
mode=${3:---realistic}
command -v ffmpeg >/dev/null || { echo "needs ffmpeg: apt-get install -y ffmpeg" >&2; exit 1; }
mkdir -p "$out"
: > "$out/list.txt"
for i in $(seq 0 $((n - 1))); do
  filter="testsrc2=size=320x240:rate=25:duration=10,hue=h=$((i * 15))"
  [[ $mode == --realistic ]] && filter+=",noise=alls=10:allf=t+u"
  ffmpeg -loglevel error -y -f lavfi -i "$filter" -c:v libx264 -preset veryfast -pix_fmt yuv420p "$out/clip$i.mp4"
  echo "clip$i.mp4 $((i % 4))" >> "$out/list.txt"
done
du -sh "$out" | cut -f1 | sed "s/^/$n clips, /"
