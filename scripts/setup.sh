#!/usr/bin/env bash
# Installs every Debian package SuperLens needs to build, test and benchmark.
# Idempotent: packages already present are skipped. Must run as root.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config ccache
  qt6-base-dev qt6-svg-dev libqcustomplot-dev
  libhdf5-dev libeigen3-dev libopenblas-dev
  nlohmann-json3-dev libstb-dev libpcre2-dev libsentencepiece-dev libcli11-dev libgtest-dev libicu-dev
  # GUI tests and screenshots (xauth is only "recommended" by xvfb; fonts avoid boxes)
  xvfb xauth fonts-dejavu-core
  # the figure presets' faces (widgets/figure_presets.cpp): Liberation Serif (Times),
  # Liberation Sans (Helvetica/Arial), CMU Serif (Computer Modern)
  fonts-liberation2 fonts-cmu
  # cross-checks, tests and benchmarks (Debian's python3, not the one first on PATH)
  python3-torch python3-numpy python3-h5py python3-sentencepiece sentencepiece python3-pil
  # the Python module (app/python) and its tests, docs/PYTHON.md's plots
  python3-dev pybind11-dev python3-pytest python3-matplotlib python3-venv
  hdf5-tools poppler-utils time
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: need root to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
