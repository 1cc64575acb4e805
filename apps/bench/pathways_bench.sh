#!/usr/bin/env bash
# `make bench` (second part): the Slow/Fast pathways benchmark of issue #4.
#   - fast pathway (a) full resolution then pool vs (b) low resolution then pool: FLOPs, time,
#     cosine between their tokens, on the 60 s 720p clip;
#   - peak RSS of encoding a 1-hour video at default settings (target < 2 GiB).
# Random ViT-B/16 weights in the real shapes (ARCH=b32|b16|l14-336, or MODEL=dir for a real CLIP).
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/$build/bench"
mkdir -p "$dir"
src="$root/data/samples/bikes.mp4"
long="$dir/long_1h_320x240.mp4"
if [ ! -f "$long" ]; then
  echo "bench: generating $long (1 hour, 320x240, 25 fps; a few minutes)" >&2
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$src" -t 3600 -an -vf scale=320:240 \
    -c:v libx264 -preset ultrafast -g 250 "$long.tmp.mp4"
  mv "$long.tmp.mp4" "$long"
fi
clip="$dir/clip_720p_60s.mp4"
[ -f "$clip" ] || clip="$src"
model=()
if [ -n "${MODEL:-}" ]; then model=(--model "$MODEL"); else model=(--arch "${ARCH:-b16}"); fi
"$root/$build/apps/sfvu" bench pathways "${model[@]}" --repeat "${REPEAT:-1}" --memory-video "$long" "$clip"
