#!/usr/bin/env bash
# `make bench`: generates the benchmark inputs of issue #2 with the ffmpeg CLI (once) and runs
# `sfvu bench decode` on them and on the bundled sample.
#   long_320x240_gop10s.mp4  10 min, 320x240, 25 fps, one keyframe every 10 s (sparse sampling target)
#   clip_720p_60s.mp4        60 s, 1280x720, 25 fps, 2 s GOPs (dual-rate target)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/$build/bench"
mkdir -p "$dir"
src="$root/data/samples/bikes.mp4"
if [ ! -f "$dir/long_320x240_gop10s.mp4" ]; then
  echo "bench: generating $dir/long_320x240_gop10s.mp4" >&2
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$src" -t 600 -an -vf scale=320:240 \
    -c:v libx264 -preset veryfast -g 250 -keyint_min 250 -sc_threshold 0 "$dir/long_320x240_gop10s.mp4.tmp.mp4"
  mv "$dir/long_320x240_gop10s.mp4.tmp.mp4" "$dir/long_320x240_gop10s.mp4"
fi
if [ ! -f "$dir/clip_720p_60s.mp4" ]; then
  echo "bench: generating $dir/clip_720p_60s.mp4" >&2
  ffmpeg -nostdin -v error -y -stream_loop -1 -i "$src" -t 60 -an -vf scale=1280:720 \
    -c:v libx264 -preset veryfast -g 50 "$dir/clip_720p_60s.mp4.tmp.mp4"
  mv "$dir/clip_720p_60s.mp4.tmp.mp4" "$dir/clip_720p_60s.mp4"
fi
"$root/$build/apps/sfvu" bench decode --repeat "${REPEAT:-2}" \
  "$dir/long_320x240_gop10s.mp4" "$dir/clip_720p_60s.mp4" "$root/tests/fixtures/videos/smpte-2997.mp4"
