#!/usr/bin/env bash
# The main job: on a fresh machine, set up, build a paired corpus from music21's
# scores, train the image and audio codecs, bake the corpus into codes, train the
# unified model on every task in both directions, evaluate it with the paper's
# metrics on the test split (and on the held-out rendering style), and write the
# HTML report. Each stage shows progress; a rerun skips the stages that finished
# (their markers are under runs/<config>/stages/), and a stage killed midway resumes
# from its own checkpoints or caches. Nothing finished is ever deleted.
#
#   bash launch/demo.sh                 # the default: the `demo` corpus, ~50 min on 2 cores
#   SCALE=paper bash launch/demo.sh     # the same stages at the paper's scale (a GPU host)
#   TRAIN_STEPS=N CODEC_STEPS=N ...     # shorter or longer budgets
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2

SCALE="${SCALE:-demo}"
DATA_DIR="${DATA_DIR:-data}"
if [ "$SCALE" = paper ]; then
  CONFIG=paper; IMAGE_CODEC=gin/codecs/rqvae_paper.gin; AUDIO_CODEC=gin/codecs/audio_paper.gin
  MODEL_GIN=(--gin-file gin/models/paper.gin --gin-file gin/pretrain.gin
             --gin.MIXTURE_OR_TASK_NAME="'synthetic_paper_all'")
else
  CONFIG="${CONFIG:-demo}"; IMAGE_CODEC=gin/codecs/rqvae_demo.gin; AUDIO_CODEC=gin/codecs/audio_demo.gin
  MODEL_GIN=(--gin-file gin/demo.gin --gin.MIXTURE_OR_TASK_NAME="'synthetic_${CONFIG}_all'")
fi
RUN="runs/${CONFIG}"
BAKED="${DATA_DIR}/baked/synthetic_scores/${CONFIG}"
EVAL="outputs/eval_${CONFIG}"
STAGES="${RUN}/stages"
mkdir -p "$STAGES" outputs
MT3U=.venv/bin/mt3u

# A codec trains into a folder named by its gin file's hash: a changed config starts
# afresh instead of resuming another config's checkpoint.
codec_dir() { echo "${RUN}/codecs/$(basename "$1" .gin)-$(sha256sum "$1" | cut -c1-8)"; }

# stage NAME COMMAND...: runs COMMAND unless NAME finished before; a failure names the
# stage, keeps everything it made, and says how to go on.
stage() {
  local name="$1"; shift
  if [ -f "${STAGES}/${name}.done" ]; then
    echo "== ${name}: done before (${STAGES}/${name}.done); skipped"
    return 0
  fi
  local free_kb
  free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
  if [ "${free_kb:-0}" -lt 2097152 ]; then
    echo "== ${name}: stopped before starting: less than 2 GiB free on $(df -P . | awk 'NR==2 {print $6}');" \
      "free some space, then run bash launch/demo.sh again (finished stages are kept)" >&2
    exit 1
  fi
  echo "== ${name} ($(date +%H:%M:%S))"
  local begin=$SECONDS
  if ! "$@"; then
    echo "== ${name} FAILED after $((SECONDS - begin)) s; its log is above (and under ${RUN}/)." \
      "Nothing finished was deleted: fix the cause, then run bash launch/demo.sh again" \
      "to resume from this stage." >&2
    exit 1
  fi
  echo "$((SECONDS - begin))" > "${STAGES}/${name}.done"
  echo "== ${name}: finished in $((SECONDS - begin)) s"
}

train_codec() {  # GIN_FILE LOG_NAME
  local steps=()
  [ -n "${CODEC_STEPS:-}" ] && steps=(--gin.train_codec.steps="$CODEC_STEPS")
  $MT3U train-codec --gin-file="$1" --workdir="$(codec_dir "$1")" "${steps[@]}" \
    --gin.corpus_data.corpus="'synthetic_scores/${CONFIG}'" \
    --gin.corpus_data.data_dir="'${DATA_DIR}'" 2> "${RUN}/$2.log" \
    || { tail -20 "${RUN}/$2.log"; return 1; }
}

train_model() {
  local steps=()
  [ -n "${TRAIN_STEPS:-}" ] && steps=(--gin.TRAIN_STEPS="$TRAIN_STEPS")
  $MT3U train "${MODEL_GIN[@]}" "${steps[@]}" --gin.MODEL_DIR="'${RUN}/model'" \
    --gin.DataPaths.data_dir="'${DATA_DIR}'" --gin.DataPaths.baked_dir="'${DATA_DIR}/baked'" \
    --gin.CodebookInit.image_codec_workdir="'$(codec_dir "$IMAGE_CODEC")'" \
    --gin.CodebookInit.audio_codec_workdir="'$(codec_dir "$AUDIO_CODEC")'"
}

evaluate() {  # SPLIT OUTPUT
  $MT3U eval --checkpoint "${RUN}/model" -o "$2" --split "$1" \
    --gin.DataPaths.data_dir="'${DATA_DIR}'" --gin.DataPaths.baked_dir="'${DATA_DIR}/baked'" \
    --max-examples "${EVAL_EXAMPLES:-32}"
}

stage corpus $MT3U build synthetic --config "$CONFIG" --data-dir "$DATA_DIR"
stage corpus_report $MT3U report corpus --config "$CONFIG" --data-dir "$DATA_DIR" \
  -o "outputs/corpus_${CONFIG}.html"
stage image_codec train_codec "$IMAGE_CODEC" image_codec
stage audio_codec train_codec "$AUDIO_CODEC" audio_codec
stage bake $MT3U bake --corpus "synthetic_scores/${CONFIG}" --data-dir "$DATA_DIR" \
  --image-workdir "$(codec_dir "$IMAGE_CODEC")" --audio-workdir "$(codec_dir "$AUDIO_CODEC")" \
  --output-dir "$BAKED" --report "outputs/codecs_${CONFIG}.html"
stage train train_model
stage eval evaluate test "$EVAL"
if [ "$CONFIG" = demo ]; then  # the rendering style held out of training
  stage eval_heldout evaluate test_heldout "${EVAL}_heldout"
fi
stage report $MT3U report eval "$EVAL" --screenshot "${EVAL}/report.png"

echo
echo "The demo is done. Look at:"
echo "  outputs/corpus_${CONFIG}.html   the corpus"
echo "  outputs/codecs_${CONFIG}.html   the codecs' reconstructions"
echo "  ${RUN}/model/loss_curves.png    each task's training loss"
echo "  ${EVAL}/results.md              the paper's tables"
echo "  ${EVAL}/report.html             the report (screenshot: ${EVAL}/report.png)"
[ -d "${EVAL}_heldout" ] && echo "  ${EVAL}_heldout/results.md      the same on the held-out rendering style"
