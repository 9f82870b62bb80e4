# Sourced by launch/demo.sh and launch/compare_mixtures.sh: the main job's settings and
# stages, so that a script that adds runs to the demo reuses its stages instead of
# copying them. The caller sets `set -euo pipefail`, cds to the repository root and
# sets DRY_RUN (1: print each command a stage would run instead of running it).
#
# Settings (environment):
#   SCALE       demo (default) or paper
#   CONFIG      the synthetic corpus config at demo scale (default demo)
#   DATA_DIR    the TFDS data dir (default data); the baked corpus is under DATA_DIR/baked
#   RUN_ROOT    where runs live (default runs): the run is RUN_ROOT/<config>
#   OUTPUT_ROOT where evaluations go (default outputs; RUN_ROOT/outputs when RUN_ROOT is
#               set elsewhere, so that a run in a scratch folder leaves outputs/ alone)
#   PREP_RUN    the run whose corpus, codec and bake stages are reused: their markers
#               and the codecs' workdirs (default runs/<config>, the demo's own, also
#               for a run under another RUN_ROOT: the data dir's baked corpus is theirs)
#   PREP_ROOT   where PREP_RUN is when unset: PREP_ROOT/<config> (default runs)
#   TRAIN_STEPS, CODEC_STEPS, EVAL_EXAMPLES   budgets (defaults: the gin files', 32)
source launch/common.sh
export TF_CPP_MIN_LOG_LEVEL=2

SCALE="${SCALE:-demo}"
DATA_DIR="${DATA_DIR:-data}"
if [ "$SCALE" = paper ]; then
  CONFIG=paper; IMAGE_CODEC=gin/codecs/rqvae_paper.gin; AUDIO_CODEC=gin/codecs/audio_paper.gin
  MODEL_GIN=(--gin-file gin/models/paper.gin --gin-file gin/pretrain.gin)
  MIXTURE_PREFIX=paper
else
  # The audio codec: the spectral codec with linear maps, 4 x 1,024 codes at 50 frames a
  # second, without quantizer dropout (keeps 0.79 of the notes the d256 log-mel AMT hears,
  # the first 4 x 1,024 codec 0.67; docs/levers.md, "The audio codec").
  CONFIG="${CONFIG:-demo}"; IMAGE_CODEC=gin/codecs/rqvae_demo.gin
  AUDIO_CODEC=gin/codecs/audio_demo_spectral_linear_4x1024_restarts_nodrop.gin
  MODEL_GIN=(--gin-file gin/demo.gin)
  MIXTURE_PREFIX="synthetic_${CONFIG}"
fi
if [ -z "${OUTPUT_ROOT:-}" ]; then
  OUTPUT_ROOT=outputs
  [ "${RUN_ROOT:-runs}" != runs ] && OUTPUT_ROOT="${RUN_ROOT}/outputs"
fi
RUN_ROOT="${RUN_ROOT:-runs}"
RUN="${RUN_ROOT}/${CONFIG}"
PREP_RUN="${PREP_RUN:-${PREP_ROOT:-runs}/${CONFIG}}"
BAKED="${DATA_DIR}/baked/synthetic_scores/${CONFIG}"
# Configs with a rendering style held out of training (corpus/synthetic.py's heldout_style)
# are also evaluated on it (the split test_heldout).
case "$CONFIG" in demo|chorales|chorales3|music21) HELDOUT=1 ;; *) HELDOUT=0 ;; esac
COMPARE="${RUN}/compare"
# How the all-task model's audio outputs decode in the demo's evaluations: sampled (the
# symbolic and image outputs greedy). Greedy audio codes scored at their random pairing;
# sampled at 0.7 the same model's were heard above it (docs/levers.md, "Synthesis: sampled").
AUDIO_DECODING=(--temperature 0.7 --decoding-outputs audio)
TABLE_DIR="${OUTPUT_ROOT}/compare_${CONFIG}"
EVAL="${OUTPUT_ROOT}/eval_${CONFIG}"
STAGES="${RUN}/stages"
PREP_STAGES="${PREP_RUN}/stages"
MT3U=.venv/bin/mt3u
# The script a failed stage asks to run again (the caller's).
RERUN="${RERUN:-bash launch/$(basename "$0")}"

dry_run() { [[ ${DRY_RUN:-0} == 1 ]]; }

# run COMMAND...: runs it, or prints it (quoted for pasting) in a dry run.
run() {
  if dry_run; then quote_command "$@"; else "$@"; fi
}

# A codec trains into a folder named by its gin file's hash: a changed config starts
# afresh instead of resuming another config's checkpoint.
codec_dir() { echo "${PREP_RUN}/codecs/$(basename "$1" .gin)-$(sha256sum "$1" | cut -c1-8)"; }

# stage_in DIR NAME COMMAND...: runs COMMAND unless NAME finished before (its marker is
# DIR/NAME.done); a failure names the stage, keeps everything it made, and says how to
# go on. A dry run prints the commands (a function's own, through `run`) and skipped
# stages as comments, and writes nothing.
stage_in() {
  local dir="$1" name="$2"; shift 2
  if [ -f "${dir}/${name}.done" ]; then
    echo "$(dry_run && echo '#' || echo '==') ${name}: done before (${dir}/${name}.done); skipped"
    return 0
  fi
  if dry_run; then
    if declare -F "$1" >/dev/null; then "$@"; else quote_command "$@"; fi
    return 0
  fi
  mkdir -p "$dir"
  local free_kb
  free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
  if [ "${free_kb:-0}" -lt 2097152 ]; then
    echo "== ${name}: stopped before starting: less than 2 GiB free on $(df -P . | awk 'NR==2 {print $6}');" \
      "free some space, then run ${RERUN} again (finished stages are kept)" >&2
    exit 1
  fi
  echo "== ${name} ($(date +%H:%M:%S))"
  local begin=$SECONDS
  if ! "$@"; then
    echo "== ${name} FAILED after $((SECONDS - begin)) s; its log is above (and under ${RUN}/)." \
      "Nothing finished was deleted: fix the cause, then run ${RERUN} again" \
      "to resume from this stage." >&2
    exit 1
  fi
  echo "$((SECONDS - begin))" > "${dir}/${name}.done"
  echo "== ${name}: finished in $((SECONDS - begin)) s"
}

# stage NAME COMMAND...: a stage of this run (markers under RUN/stages).
stage() { stage_in "$STAGES" "$@"; }

# prep_stage NAME COMMAND...: a stage of the corpus, codecs and bake (markers under
# PREP_RUN/stages), shared by every run of the corpus.
prep_stage() { stage_in "$PREP_STAGES" "$@"; }

train_codec() {  # GIN_FILE LOG_NAME
  local steps=()
  [ -n "${CODEC_STEPS:-}" ] && steps=(--gin.train_codec.steps="$CODEC_STEPS")
  local words=($MT3U train-codec --gin-file="$1" --workdir="$(codec_dir "$1")" "${steps[@]}"
    --gin.corpus_data.corpus="'synthetic_scores/${CONFIG}'"
    --gin.corpus_data.data_dir="'${DATA_DIR}'")
  local log="${PREP_RUN}/$2.log"
  if dry_run; then
    echo "$(quote_command "${words[@]}") 2> $(quote_word "$log")"
    return 0
  fi
  mkdir -p "$PREP_RUN"
  "${words[@]}" 2> "$log" || { tail -20 "$log"; return 1; }
}

# train_model [MODEL_DIR [MIXTURE]]: the run's gin and TRAIN_STEPS (default: all tasks);
# the code embeddings start from the codecs' codebooks unless CODEBOOK_INIT=0 (a run
# that reads pixels and writes symbols, on a corpus with no codecs).
train_model() {
  local model_dir="${1:-${RUN}/model}" mixture="${2:-${MIXTURE_PREFIX}_all}" steps=() init=()
  [ -n "${TRAIN_STEPS:-}" ] && steps=(--gin.TRAIN_STEPS="$TRAIN_STEPS")
  [ "${CODEBOOK_INIT:-1}" = 0 ] || init=(
    --gin.CodebookInit.image_codec_workdir="'$(codec_dir "$IMAGE_CODEC")'"
    --gin.CodebookInit.audio_codec_workdir="'$(codec_dir "$AUDIO_CODEC")'")
  run $MT3U train "${MODEL_GIN[@]}" --gin.MIXTURE_OR_TASK_NAME="'${mixture}'" "${steps[@]}" \
    --gin.MODEL_DIR="'${model_dir}'" \
    --gin.DataPaths.data_dir="'${DATA_DIR}'" --gin.DataPaths.baked_dir="'${DATA_DIR}/baked'" \
    "${init[@]}"
}

# evaluate SPLIT OUTPUT [MODEL_DIR [PAIRS [FLAG...]]]: PAIRS e.g. image_to_lmx (default:
# all); FLAGs go to `mt3u eval` as they are (e.g. --audio-codec DIR).
evaluate() {
  local model_dir="${3:-${RUN}/model}" pairs=()
  [ -n "${4:-}" ] && pairs=(--pairs "$4")
  run $MT3U eval --checkpoint "$model_dir" -o "$2" --split "$1" "${pairs[@]}" "${@:5}" \
    --gin.DataPaths.data_dir="'${DATA_DIR}'" --gin.DataPaths.baked_dir="'${DATA_DIR}/baked'" \
    --max-examples "${EVAL_EXAMPLES:-32}"
}

# Set up the environment, then make the output folders (neither in a dry run).
setup() {
  run bash launch/setup_env.sh
  dry_run || mkdir -p "$STAGES" "$OUTPUT_ROOT"
}

# The codecs' workdirs by name (their gin file's name and hash), one a line.
codec_names() { basename "$(codec_dir "$IMAGE_CODEC")"; basename "$(codec_dir "$AUDIO_CODEC")"; }

# bake_corpus: the corpus encoded with both codecs, then their names written beside the bake's
# marker (PREP_RUN/stages/bake.codecs) for check_baked_codecs.
bake_corpus() {
  run $MT3U bake --corpus "synthetic_scores/${CONFIG}" --data-dir "$DATA_DIR" \
    --image-workdir "$(codec_dir "$IMAGE_CODEC")" --audio-workdir "$(codec_dir "$AUDIO_CODEC")" \
    --output-dir "$BAKED" --report "${OUTPUT_ROOT}/codecs_${CONFIG}.html"
  dry_run || codec_names > "${PREP_STAGES}/bake.codecs"
}

# Stops when PREP_RUN's bake was made with other codecs than the gin files name now (a
# codec config changed since): its finished stages would skip the new codecs' training
# and bake, and its models were trained on the old codes.
check_baked_codecs() {
  local file="${PREP_STAGES}/bake.codecs"
  [ -f "${PREP_STAGES}/bake.done" ] && [ -f "$file" ] || return 0
  [ "$(cat "$file")" = "$(codec_names)" ] && return 0
  echo "== ${PREP_RUN} was baked with the codecs $(paste -sd, "$file"), but the gin files" \
    "now name $(codec_names | paste -sd, -). Move ${PREP_RUN}, ${RUN} and ${BAKED} aside (or" \
    "set PREP_ROOT, RUN_ROOT and DATA_DIR to new folders), then run ${RERUN} again;" \
    "nothing was changed" >&2
  exit 1
}

# The corpus and its report, both codecs and the bake (PREP_RUN's): what every model
# of the corpus config trains on. Each skips when done.
prep_stages() {
  check_baked_codecs
  prep_stage corpus $MT3U build synthetic --config "$CONFIG" --data-dir "$DATA_DIR"
  prep_stage corpus_report $MT3U report corpus --config "$CONFIG" --data-dir "$DATA_DIR" \
    -o "${OUTPUT_ROOT}/corpus_${CONFIG}.html"
  prep_stage image_codec train_codec "$IMAGE_CODEC" image_codec
  prep_stage audio_codec train_codec "$AUDIO_CODEC" audio_codec
  prep_stage bake bake_corpus
}

# The demo's stages up to its evaluations: the corpus, codecs and bake, then the
# all-task model trained and evaluated on the test split (and, at demo scale, the
# held-out rendering style). Each skips when done.
demo_stages() {
  prep_stages
  stage train train_model
  stage eval evaluate test "$EVAL" "" "" "${AUDIO_DECODING[@]}"
  if [ "$HELDOUT" = 1 ]; then
    stage eval_heldout evaluate test_heldout "${EVAL}_heldout" "" "" "${AUDIO_DECODING[@]}"
  fi
}

# single_run NAME MIXTURE PAIR [FLAG...]: a model of its own beside the demo's,
# RUN/compare/NAME/model (markers RUN/compare/NAME/stages/NAME_*), trained with MODEL_GIN
# on MIXTURE and evaluated on PAIR (e.g. image_to_lmx; "" for all) with `mt3u eval`'s
# FLAGs into TABLE_DIR/eval_NAME, and on the held-out style into
# TABLE_DIR/eval_NAME_heldout; appends the eval dirs to SINGLE_DIRS.
SINGLE_DIRS=()
single_run() {
  local name="$1" mixture="$2" pair="$3"
  local markers="${COMPARE}/${name}/stages" model="${COMPARE}/${name}/model"
  stage_in "$markers" "${name}_train" train_model "$model" "$mixture"
  stage_in "$markers" "${name}_eval" evaluate test "${TABLE_DIR}/eval_${name}" "$model" "$pair" \
    "${@:4}"
  SINGLE_DIRS+=("${TABLE_DIR}/eval_${name}")
  if [ "$HELDOUT" = 1 ]; then
    stage_in "$markers" "${name}_eval_heldout" evaluate test_heldout \
      "${TABLE_DIR}/eval_${name}_heldout" "$model" "$pair" "${@:4}"
    SINGLE_DIRS+=("${TABLE_DIR}/eval_${name}_heldout")
  fi
}
