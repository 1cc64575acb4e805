#!/usr/bin/env bash
# `make bench-batch`: batch throughput of `sfvu ground` with the bundled model over a folder
# of synthetic videos (N=20 by default), decoding inline (--no-overlap) against the prefetch of
# the next videos (--jobs 1 and 2, Note [Batch prefetch] in apps/src/video_prefetch.h), in
# one script on the same files with the token cache off. Prints videos/minute and the ratio to
# inline; also checks that the three runs wrote the same lines.
set -euo pipefail
BUILD=${1:-build}
N=${N:-20}
SFVU="$BUILD/apps/sfvu"
WORK="$BUILD/bench-batch"
MODEL=data/models/synth-tiny
[ -f "$WORK/videos/annotations.jsonl" ] || "$SFVU" synth --out "$WORK/videos" --videos "$N" --seed 7 >/dev/null
run() {  # name, extra flags -> seconds
  local start end
  start=$(date +%s.%N)
  "$SFVU" ground --model "$MODEL" --query "a red circle moves" --no-cache -q "$WORK/videos/videos" \
    --out "$WORK/$1.jsonl" "${@:2}"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
base=$(run inline --no-overlap)
one=$(run jobs1 --jobs 1)
two=$(run jobs2 --jobs 2)
cmp -s "$WORK/inline.jsonl" "$WORK/jobs1.jsonl" && cmp -s "$WORK/inline.jsonl" "$WORK/jobs2.jsonl" \
  || { echo "batch bench: the runs wrote different lines" >&2; exit 1; }
printf 'batch: %d synthetic videos (%s), model %s, %d cores\n' "$N" "$(ls "$WORK/videos/videos" | head -1)" "$MODEL" "$(nproc)"
for row in "inline (--no-overlap) $base" "prefetch --jobs 1 $one" "prefetch --jobs 2 $two"; do
  secs=${row##* }
  name=${row% *}
  awk -v n="$name" -v s="$secs" -v v="$N" -v b="$base" \
    'BEGIN { printf "  %-22s %6.1f s  %6.1f videos/min  %.2fx inline\n", n, s, v * 60 / s, b / s }'
done
