#!/usr/bin/env bash
# The main job on the embedded default: set up, build the tiny paired corpus
# from music21's bundled scores, and write its HTML report. (Training,
# inference and their reports join this script as those stages land.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2
CONFIG="${CONFIG:-tiny}"
DATA_DIR="${DATA_DIR:-data}"
.venv/bin/mt3u build synthetic --config "$CONFIG" --data-dir "$DATA_DIR"
.venv/bin/mt3u report corpus --config "$CONFIG" --data-dir "$DATA_DIR" \
  -o "outputs/corpus_${CONFIG}.html"
