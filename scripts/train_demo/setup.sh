#!/usr/bin/env bash
# Packages for the demo-model training pipeline (not part of the main setup,
# which CI runs; training is never run by CI or tests). Must run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# bible-kjv: the `bible` program that dumps the text; bible-kjv-text: the
# King James Version text itself (public domain).
# python3-torch / python3-numpy / sentencepiece: Debian's torch and SentencePiece.
apt-get install -y bible-kjv bible-kjv-text python3-torch python3-numpy python3-sentencepiece sentencepiece
