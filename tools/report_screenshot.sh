#!/usr/bin/env bash
# Renders a report (videossl report) in headless Chromium and writes a screenshot:
#   tools/report_screenshot.sh REPORT.html OUT.png [WIDTH [HEIGHT]]
# Needs Debian's `chromium` (apt-get install -y chromium); the report itself needs no network, and none is used.
set -euo pipefail
report=${1:?usage: tools/report_screenshot.sh REPORT.html OUT.png [WIDTH [HEIGHT]]}
out=${2:?usage: tools/report_screenshot.sh REPORT.html OUT.png [WIDTH [HEIGHT]]}
width=${3:-1600}
height=${4:-10000}
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || { echo "report_screenshot.sh: $chromium not found; install it with: apt-get install -y chromium" >&2; exit 1; }
[[ -f $report ]] || { echo "report_screenshot.sh: $report does not exist" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: Chromium refuses to start its sandbox as root; --virtual-time-budget lets every image decode before the shot.
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$profile" \
  --window-size="$width,$height" --virtual-time-budget=10000 \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$report")" 2> >(grep -v -E 'dbus|Fontconfig|sandbox|gpu|GPU|viz|unexpected operator|bytes written' >&2 || true)
[[ -s $out ]] || { echo "report_screenshot.sh: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
