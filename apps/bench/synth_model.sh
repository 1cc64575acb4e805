#!/usr/bin/env bash
# `make synth-model`: regenerates the bundled demo model data/models/synth-tiny/ and the demo
# video data/samples/synth_demo.mp4 from scratch: synthetic train/val splits (seeds 1 and 2),
# 20 minutes of CPU training (seed 0), the best validation checkpoint kept. The test split of
# `sfvu bench ablation` uses seed 3, so the demo video (seed 3, video 0) was never trained on.
set -euo pipefail
BUILD=${1:-build}
MINUTES=${MINUTES:-20}
SFVU="$BUILD/apps/sfvu"
WORK="$BUILD/synth-model"
mkdir -p "$WORK"
[ -f "$WORK/train/annotations.jsonl" ] || "$SFVU" synth --out "$WORK/train" --videos 1000 --seed 1 --extra-queries
[ -f "$WORK/val/annotations.jsonl" ] || "$SFVU" synth --out "$WORK/val" --videos 40 --seed 2
[ -f "$WORK/demo/annotations.jsonl" ] || "$SFVU" synth --out "$WORK/demo" --videos 1 --seed 3
rm -rf "$WORK/model"
"$SFVU" train --data "$WORK/train" --val "$WORK/val" --out "$WORK/model" --minutes "$MINUTES" --seed 0
rm -rf data/models/synth-tiny
mkdir -p data/models/synth-tiny
cp "$WORK/model/config.json" "$WORK/model/model.safetensors" "$WORK/model/tokenizer_words.json" data/models/synth-tiny/
cp "$WORK/demo/videos/synth3_0000.mp4" data/samples/synth_demo.mp4
du -sh data/models/synth-tiny
