#!/usr/bin/env bash
# The main job on the embedded default: set up, build the tiny paired corpus
# from music21's bundled scores and write its HTML report, then train the tiny
# image and audio codecs briefly, bake the corpus into RVQ codes and report the
# codecs' reconstructions. (Training, inference and their reports join this
# script as those stages land.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2
CONFIG="${CONFIG:-tiny}"
DATA_DIR="${DATA_DIR:-data}"
# Codec training steps: each tiny gin file's own (400 image, 200 audio: the
# figures in BENCHMARKS.md; a few minutes on 2 cores) unless CODEC_STEPS is set.
# Orbax checkpoints under runs/ resume, so a rerun trains only what is missing.
STEPS_FLAG=()
[ -n "${CODEC_STEPS:-}" ] && STEPS_FLAG=(--gin.train_codec.steps="$CODEC_STEPS")
.venv/bin/mt3u build synthetic --config "$CONFIG" --data-dir "$DATA_DIR"
.venv/bin/mt3u report corpus --config "$CONFIG" --data-dir "$DATA_DIR" \
  -o "outputs/corpus_${CONFIG}.html"

mkdir -p runs
# Each codec trains into a folder named by its gin file's hash, so a changed
# config starts afresh instead of resuming another config's checkpoint.
codec_dir() { echo "runs/codecs_${CONFIG}/${1}_tiny-$(sha256sum "gin/codecs/${1}_tiny.gin" | cut -c1-8)"; }
for codec in rqvae audio; do
  echo "== training the tiny ${codec} codec on synthetic_scores/${CONFIG}"
  .venv/bin/mt3u train-codec --gin-file="gin/codecs/${codec}_tiny.gin" \
    --workdir="$(codec_dir "$codec")" \
    "${STEPS_FLAG[@]}" \
    --gin.corpus_data.corpus="'synthetic_scores/${CONFIG}'" \
    --gin.corpus_data.data_dir="'${DATA_DIR}'" 2> "runs/codecs_${CONFIG}_${codec}.log" \
    || { tail -20 "runs/codecs_${CONFIG}_${codec}.log"; exit 1; }
done
echo "== baking synthetic_scores/${CONFIG} into codes (validation metrics below)"
.venv/bin/mt3u bake --corpus "synthetic_scores/${CONFIG}" --data-dir "$DATA_DIR" \
  --image-workdir "$(codec_dir rqvae)" --audio-workdir "$(codec_dir audio)" \
  --output-dir "${DATA_DIR}/baked/synthetic_scores/${CONFIG}" \
  --report "outputs/codecs_${CONFIG}.html"
