#!/usr/bin/env bash
# Installs the Debian packages sfvu needs, if any are missing.
# As root: runs apt-get. Otherwise: prints the exact sudo line and fails.
set -euo pipefail
packages=(
  build-essential cmake pkg-config make git
  libtorch-dev libopenblas0-pthread
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev
  ffmpeg
  libopencv-dev libboost-program-options-dev libgtest-dev nlohmann-json3-dev libicu-dev zlib1g-dev libsentencepiece-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "sfvu: missing Debian packages. Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "sfvu: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
