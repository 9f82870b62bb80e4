#!/usr/bin/env bash
# What moves OMR and AMT toward their targets at the demo's budget, measured: each lever
# is a model of its own beside the demo's, trained and evaluated on its pair (test split
# and held-out style), and its curve of the metric against minutes of training drawn
# next to the run it changes.
#
#   AMT, the model's size: AMT alone on log-mel inputs, the tiny model
#       (gin/demo_amt_mel.gin) against d_model 256, 4 + 4 layers (gin/demo_amt_mel_256.gin),
#       and the tiny model at 50 log-mel frames a second instead of 100 (gin/demo_amt_mel_50.gin)
#   OMR, the image grid's rows: OMR alone with the tiny model on `demo` with each image
#       frame's row embedded (gin/demo_rows.gin) against the same run without (lever omr);
#       the demo's all-task run with them (lever all_rows), and that with OMR's share of
#       the batches tripled (gin/demo_rows_omr3.gin, lever all_rows_omr3)
#   AMT in the mixture, its inputs: the demo's all-task run reading audio as log-mel
#       frames instead of codes (gin/demo_mel.gin, lever all_mel), and that with AMT's
#       share of the batches tripled (gin/demo_mel_amt3.gin, lever all_mel_amt3)
#   OMR, pixels as column strips: OMR alone reading the system image as whole 128 x 2
#       pixel columns, one frame each (gin/demo_omr_strips.gin, lever omr_strips), and
#       with d_model 128 (gin/demo_omr_strips_128.gin, lever omr_strips_128)
#   OMR, the corpus's size: OMR alone with the tiny model (gin/demo.gin) on the `demo`
#       corpus (136 chorales; the run launch/compare_mixtures.sh also makes) against the
#       `chorales` corpus (all 408, its own codecs and bake), and on the chorales with the
#       image grid's rows (gin/demo_rows.gin), both read on every system, the rows also
#       trained on to 9,000, 12,000 and 18,000 steps; the rows on a model twice as wide
#       (gin/demo_rows_128.gin) on to 9,000 steps, and with dropout 0.1
#       (gin/demo_rows_128_dropout.gin) on to 9,000, 12,000, 18,000 and 22,000, and twice
#       as wide again with dropout (gin/demo_rows_256_dropout.gin) on to 9,000, 12,000
#       and 18,000, and that on `chorales3` (each training piece in three styles, the
#       chorales' codecs); their SER against the steps and against training time
#       (outputs/levers/chorales_omr_rows*.png)
#   OMR, inputs and size: on `chorales`, pixel patches and d_model 256
#       (gin/demo_omr_patch_256.gin) against the tiny model on the codes
#   OMR, the corpus's size on pixels: that d256 patch model on the `music21` corpus
#       (every usable score of music21 in the demo's styles; no codecs or bake), also
#       evaluated on the chorales' test split
#   The audio codec, its training: what the demo's first codec (gin/codecs/audio_demo.gin)
#       keeps of the notes against the same codec trained 5x longer
#       (gin/codecs/audio_demo_long.gin), and that with 256 codes a codebook instead of 32
#       (gin/codecs/audio_demo_long_256.gin), twice as wide (audio_demo_long_wide.gin)
#       or with a waveform discriminator's losses (audio_demo_long_gan.gin), and the
#       spectral architecture (audio_demo_spectral.gin: STFT magnitudes in and out,
#       Griffin-Lim), heard by the d256 log-mel AMT above (its AMT table's codec rows: whole test
#       systems, original and reconstructed); then what loses the notes: 16 codebooks of
#       1,024 codes instead of 4 of 32, for the conv codec (audio_demo_long_16x1024.gin) and
#       the spectral one (audio_demo_spectral_16x1024.gin), a mel loss at 2,048 samples
#       (audio_demo_long_mel2048.gin), spectral convergence (audio_demo_long_convergence.gin)
#       and the waveform L1's weight, 1 or 8,000 instead of 2,000 (audio_demo_long_mel_only,
#       audio_demo_long_waveform, that with 16 x 1024 codes: audio_demo_long_waveform_16x1024),
#       and the spectral codec with a linear map beside each frame stack, 4 x 32, 4 x 1024
#       and 16 x 1024 codes (audio_demo_spectral_linear, audio_demo_spectral_linear_4x1024,
#       the demo's first until 2026-12-06, audio_demo_spectral_linear_16x1024), 4 x 1024 for 4,000 steps
#       (audio_demo_spectral_linear_4x1024_long); 4 x 1024 with the dead-code threshold
#       scaled to its codebooks (audio_demo_spectral_linear_4x1024_restarts), and that
#       without quantizer dropout (audio_demo_spectral_linear_4x1024_restarts_nodrop, the
#       demo's since 2026-12-06),
#       and that with the codebooks' EMA decay 0.99 (..._restarts_nodrop_ema99), these
#       four 4 x 1,024 codecs and 16 x 1,024 also heard by the tiny log-mel AMT (amt_mel);
#       one test system's log-mel above each codec's reconstruction of it (`mt3u report
#       codec-spectra`, outputs/levers/codec_spectra.png)
#   The audio codec, its steps: the demo's first codec trained 20x longer keeping every
#       checkpoint (gin/codecs/audio_demo_curve.gin), each of 1,000 to 8,000 steps heard by that AMT:
#       the share of the notes kept against codec steps (outputs/levers/audio_demo_curve.png)
#   MIDI -> audio, its judge: the demo's all-task model's generated audio transcribed
#       by that d256 AMT (`mt3u eval --transcriber`) instead of its own, greedy and sampled, and by the tiny
#       log-mel AMT, greedy and sampled; MIDI -> audio alone (the task, gin/demo.gin's
#       model and budget) heard by the tiny one, greedy and sampled
#   Image -> audio alone: the task with the image grid's rows (gin/demo_rows.gin) and the
#       demo's budget, heard by the tiny log-mel AMT, sampled on three seeds; copies trained
#       on to 9,000 and 18,000 steps, and its rows against the steps
#       (outputs/levers/image_to_audio_rows_steps.png)
#   Image -> audio beside OMR: the paper's mixtures of that direction with the rows, OMR and
#       image -> audio (lever omr_i2a_rows), and those with MIDI -> audio (omr_i2a_synth_rows),
#       at the demo's budget: OMR on every system, image -> audio heard as above
#   AMT beside audio -> image: the paper's mixtures of that direction on log-mel at 50 frames a
#       second (gin/demo_mel.gin), AMT and audio -> image (lever amt_a2i_mel) and those with
#       engraving (amt_a2i_engrave_mel), against AMT alone so (lever amt_mel_50)
#   Audio -> image, its judge: the all-task model's generated images, greedy and sampled,
#       read by OMR alone with the rows (`mt3u eval --reader`), which reads pitches, instead
#       of by its own OMR; audio -> image alone (gin/demo.gin's model and budget) read by the
#       same judge
#   Every task, the model's width: the demo's all-task run with d_model 128 and MLP 512
#       for 2,250 steps (gin/demo_128.gin) against the demo's d_model 64 for 4,500;
#       its step size: the demo's all-task run at a peak learning rate of 3e-3 instead of
#       1e-3 (gin/demo_lr3e3.gin, lever all_lr3e3), its audio also heard by the tiny
#       log-mel AMT
#
#   bash launch/levers.sh             # after (or including) the demo's corpus, codecs, bake
#   bash launch/levers.sh --dry-run   # print the commands of the stages not done
#   TRAIN_STEPS=N EVAL_EXAMPLES=N RUN_ROOT=... PREP_ROOT=...   as for launch/demo.sh
#       (launch/demo_stages.sh; the demo scale only)
#   CODEC_JUDGE=NAME   the AMT lever whose model hears the codecs (default: amt_mel_256)
#   JUDGE_STEP=N   the judging AMT's checkpoint that hears the codecs (default: its latest)
#
# Models under runs/<config>/compare/<lever>/ (markers in its stages/), evaluations in
# outputs/compare_<config>/eval_<lever>[_heldout], the curves in outputs/levers/
# (amt_curves.png, omr_curves.png, image_to_audio_rows_steps.png, each with its points as
# Markdown beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/common.sh
parse_dry_run "$@"
if [ "${SCALE:-demo}" != demo ]; then
  echo "levers.sh: the levers are measured at the demo scale only (SCALE=${SCALE})" >&2
  exit 2
fi
if [ -n "${PREP_RUN:-}" ]; then
  echo "levers.sh: PREP_RUN names one config's run and the levers use two (demo, chorales);" \
    "set PREP_ROOT instead (each config's is PREP_ROOT/<config>)" >&2
  exit 2
fi
RERUN="bash launch/levers.sh"
CODEC_JUDGE="${CODEC_JUDGE:-amt_mel_256}"
CURVES="${OUTPUT_ROOT:-outputs}/levers"

# in_config CONFIG COMMAND...: COMMAND with the demo stages' settings of the corpus config
# (sourced in a subshell: each config has its own run, codecs and bake).
in_config() {
  (
    CONFIG="$1"
    shift
    source launch/demo_stages.sh
    "$@"
  )
}

# lever NAME GIN MIXTURE PAIR [FLAG...] (in_config): the config's shared stages, then the
# lever's model trained with GIN on synthetic_<config>_<MIXTURE> and evaluated on PAIR
# ("" for all) with `mt3u eval`'s FLAGs.
lever() {
  MODEL_GIN=(--gin-file "$2")
  prep_stages
  single_run "$1" "${MIXTURE_PREFIX}_$3" "$4" "${@:5}"
}

# pixel_lever NAME GIN MIXTURE PAIR DATASET (in_config): a lever that reads pixels and
# writes symbols needs the corpus's systems alone (no whole pieces, which would double
# its size on disk; no codecs, no bake: its code embeddings start random). Its model is
# trained and evaluated as `lever`'s, then also on the test split of DATASET (a smaller
# corpus of the same styles whose test pieces are among its own, e.g.
# synthetic_chorales) into TABLE_DIR/eval_NAME_DATASET.
pixel_lever() {
  MODEL_GIN=(--gin-file "$2")
  # Its own marker: prep_stages' `corpus` marker must mean the pieces are built too. A
  # corpus built whole holds the systems, so either marker skips the build.
  [ -f "${PREP_STAGES}/corpus.done" ] ||
    prep_stage corpus_systems $MT3U build synthetic --config "$CONFIG" --data-dir "$DATA_DIR" --no-pieces
  CODEBOOK_INIT=0 single_run "$1" "${MIXTURE_PREFIX}_$3" "$4"
  stage_in "${COMPARE}/$1/stages" "$1_eval_$5" evaluate test "${TABLE_DIR}/eval_$1_$5" \
    "${COMPARE}/$1/model" "$4" --dataset "$5"
}

# codec_lever GIN (in_config): the audio codec of GIN (trained unless done: the demo's
# own is a stage of prep_stages) judged by the AMT lever CODEC_JUDGE's model (default the
# d256 log-mel AMT, amt_mel_256), whose AMT evaluation on the test split then has the
# codec's rows, into TABLE_DIR/eval_<judge>_<codec gin's name>.
codec_lever() {
  local name
  name="$(basename "$1" .gin)"
  [ "$1" = "$AUDIO_CODEC" ] || prep_stage "$name" train_codec "$1" "$name"
  judged_codec "$name" "$(codec_dir "$1")"
}

# own_codec_lever (in_config): codec_lever for the config's own audio codec (AUDIO_CODEC of
# demo_stages.sh), so its name lives in one place.
own_codec_lever() { codec_lever "$AUDIO_CODEC"; }

# judged_codec NAME CODEC (in_config): the AMT lever CODEC_JUDGE's model (its checkpoint
# JUDGE_STEP when set, else its latest) on the test split with the codec's rows, into
# TABLE_DIR/eval_<judge>_NAME.
judged_codec() {
  stage_in "${COMPARE}/${CODEC_JUDGE}/stages" "${CODEC_JUDGE}_$1" evaluate test \
    "${TABLE_DIR}/eval_${CODEC_JUDGE}_$1" "${COMPARE}/${CODEC_JUDGE}/model" audio_to_midi \
    --audio-codec "$2" ${JUDGE_STEP:+--step "$JUDGE_STEP"}
}

# codec_curve GIN STEP... (in_config): the audio codec of GIN, trained keeping every
# checkpoint, its checkpoint of each STEP judged as codec_lever's codecs are, then what
# it keeps of the notes against its steps: CURVES/<gin's name>.png, its points beside it.
codec_curve() {
  local name points=()
  name="$(basename "$1" .gin)"
  prep_stage "$name" train_codec "$1" "$name"
  for step in "${@:2}"; do
    judged_codec "${name}_${step}" "$(codec_dir "$1")/checkpoints/${step}"
    points+=(--point "${step}=${TABLE_DIR}/eval_${CODEC_JUDGE}_${name}_${step}")
  done
  run $MT3U report codec-curve "${points[@]}" -o "${CURVES}/${name}.png"
}

# codec_spectra OUTPUT LABEL=GIN... (in_config): one test system's log-mel as the log-mel
# AMT resolves it above each codec's (trained above) reconstruction of it, into
# CURVES/OUTPUT (its distances as Markdown beside it).
codec_spectra() {
  local output="$1" words=()
  shift
  for labelled in "$@"; do words+=(--codec "${labelled%%=*}=$(codec_dir "${labelled#*=}")"); done
  run $MT3U report codec-spectra --config "$CONFIG" --data-dir "$DATA_DIR" --example 3 \
    "${words[@]}" -o "${CURVES}/${output}"
}

# judged_synthesis JUDGE NAME [FLAG...] (in_config): the demo's all-task model (its own
# stage, skipped when done) on MIDI -> audio and image -> audio, its audio transcribed by
# the JUDGE lever's AMT, into TABLE_DIR/eval_NAME; FLAGs go to `mt3u eval` (decoding).
judged_synthesis() {
  stage train train_model
  synthesis_judged_by "${RUN}/model" "$@"
}

# judged_lever_synthesis LEVER JUDGE NAME [FLAG...] (in_config): the LEVER's all-task model
# (trained by its own lever above) on MIDI -> audio and image -> audio, its audio transcribed
# by the JUDGE lever's AMT, into TABLE_DIR/eval_NAME; FLAGs go to `mt3u eval` (decoding).
judged_lever_synthesis() {
  synthesis_judged_by "${COMPARE}/$1/model" "${@:2}"
}

# synthesis_judged_by MODEL JUDGE NAME [FLAG...] (in_config): MODEL on MIDI -> audio and
# image -> audio, its audio transcribed by the JUDGE lever's AMT, into TABLE_DIR/eval_NAME
# (a stage of the JUDGE's markers).
synthesis_judged_by() {
  stage_in "${COMPARE}/$2/stages" "$3" evaluate test "${TABLE_DIR}/eval_$3" "$1" \
    midi_to_audio,image_to_audio --transcriber "${COMPARE}/$2/model" "${@:4}"
}

# with_audio_decoding COMMAND... (in_config): COMMAND with the `mt3u eval` flags that decode
# audio as the demo's evaluations do (demo_stages.sh's AUDIO_DECODING) appended.
with_audio_decoding() {
  "$@" "${AUDIO_DECODING[@]}"
}

# audio_alone NAME GIN PAIR JUDGE [SEED...] (in_config): PAIR, an audio output (midi_to_audio,
# image_to_audio), trained alone (the task, no mixture) with GIN's model and the demo's budget,
# its generated audio transcribed by the JUDGE lever's AMT into TABLE_DIR/eval_NAME (its own
# AMT, untrained, would hear nothing), greedy and, into eval_NAME_sampled, decoded as the
# demo's evaluations decode audio; each SEED also sampled into eval_NAME_sampled_seedSEED.
audio_alone() {
  local markers="${COMPARE}/$1/stages" model="${COMPARE}/$1/model"
  local judged=("$3" --transcriber "${COMPARE}/$4/model")
  MODEL_GIN=(--gin-file "$2")
  prep_stages
  stage_in "$markers" "$1_train" train_model "$model" "${MIXTURE_PREFIX}_$3_train"
  stage_in "$markers" "$1_eval" evaluate test "${TABLE_DIR}/eval_$1" "$model" "${judged[@]}"
  stage_in "$markers" "$1_eval_sampled" evaluate test "${TABLE_DIR}/eval_$1_sampled" "$model" \
    "${judged[@]}" "${AUDIO_DECODING[@]}"
  sampled_seeds "$1" "$3" "$4" "${@:5}"
}

# sampled_seeds NAME PAIR JUDGE SEED... (in_config): the NAME lever's model on PAIR, decoded
# as the demo's evaluations decode audio with each SEED into
# TABLE_DIR/eval_NAME_sampled_seedSEED, heard by the JUDGE lever's AMT.
sampled_seeds() {
  local seed
  for seed in "${@:4}"; do
    stage_in "${COMPARE}/$1/stages" "$1_eval_sampled_seed${seed}" evaluate test \
      "${TABLE_DIR}/eval_$1_sampled_seed${seed}" "${COMPARE}/$1/model" "$2" \
      --transcriber "${COMPARE}/$3/model" "${AUDIO_DECODING[@]}" --gin.evaluate.seed="$seed"
  done
}

# copy_run SOURCE DEST: a trained run's folder copied whole (checkpoints, curves, config),
# through DEST.partial, so that a copy killed midway leaves nothing at DEST.
copy_run() {
  run rm -rf "$2.partial"
  run cp -r "$1" "$2.partial"
  run mv "$2.partial" "$2"
}

# codecs_from CONFIG (in_config): this config's codecs are CONFIG's, copied as its codec
# stages (prep_stages then skips their training): a config that renders CONFIG's scores
# again needs no codecs of its own, and its levers differ from CONFIG's only in what
# their models train on.
codecs_from() {
  prep_stage image_codec copy_codec "$IMAGE_CODEC" "$1"
  prep_stage audio_codec copy_codec "$AUDIO_CODEC" "$1"
}

# copy_codec GIN CONFIG: CONFIG's codec of GIN copied into this config's codec folder
# (-T: a copy killed midway is completed in place, not nested, when its stage runs again).
copy_codec() {
  local to
  to="$(codec_dir "$1")"
  run mkdir -p "${PREP_RUN}/codecs"
  run cp -rT "${PREP_ROOT:-runs}/$2/codecs/$(basename "$to")" "$to"
}

# resumed_run NAME SOURCE STEPS GIN MIXTURE (in_config): the SOURCE lever's model copied and
# trained on to STEPS with GIN on synthetic_<config>_MIXTURE, its cosine schedule stretched
# to them.
resumed_run() {
  local markers="${COMPARE}/$1/stages" model="${COMPARE}/$1/model"
  MODEL_GIN=(--gin-file "$4")
  stage_in "$markers" "$1_copy" copy_run "${COMPARE}/$2/model" "$model"
  TRAIN_STEPS="$3" stage_in "$markers" "$1_train" train_model "$model" "${MIXTURE_PREFIX}_$5"
}

# audio_resumed NAME SOURCE STEPS GIN PAIR JUDGE SEED... (in_config): the SOURCE lever's model
# (audio_alone's, trained with GIN on PAIR alone) trained on to STEPS (resumed_run), then
# sampled as the demo's evaluations decode audio on each SEED into
# TABLE_DIR/eval_NAME_sampled_seedSEED, heard by the JUDGE lever's AMT: whether more steps of
# the task carry it past its floor.
audio_resumed() {
  resumed_run "$1" "$2" "$3" "$4" "$5_train"
  sampled_seeds "$1" "$5" "$6" "${@:7}"
}

# image_to_audio_mixture NAME GIN MIXTURE JUDGE SEED... (in_config): one of the paper's
# mixtures of the image -> audio direction (MIXTURE: omr_i2a, omr_i2a_synth) trained with
# GIN's model and the demo's budget; OMR read on every system of the test split and held-out
# style, and image -> audio decoded as the demo's evaluations decode audio on each SEED, heard
# by the JUDGE lever's AMT: whether OMR beside image -> audio lets it follow its image, and
# whether image -> audio beside OMR helps OMR (against the tasks alone: levers omr_rows and
# image_to_audio_rows).
image_to_audio_mixture() {
  EVAL_EXAMPLES=1000 lever "$1" "$2" "$3" image_to_lmx  # every system: more than either split has
  sampled_seeds "$1" image_to_audio "$4" "${@:5}"
}

# step_curve OUTPUT PAIR METRIC EVAL_NAME... (in_config): PAIR's rows of METRIC in
# TABLE_DIR/eval_EVAL_NAME against the training steps of their models (`mt3u report
# step-curve`; TARGET, when set, drawn dashed), into CURVES/OUTPUT with its points as
# Markdown beside it.
step_curve() {
  local output="$1" pair="$2" metric="$3" words=() name
  shift 3
  for name in "$@"; do words+=(--eval "${TABLE_DIR}/eval_${name}"); done
  run .venv/bin/mt3u report step-curve "${words[@]}" --pair "$pair" --metric "$metric" \
    ${TARGET:+--target "$TARGET"} -o "${CURVES}/${output}"
}

# omr_steps_curve NAME STEPS... (in_config): the SER of the NAME lever and of its runs on to
# each of STEPS (omr_steps), on every system of the test split and of the held-out style,
# against the steps, the target (40) dashed, into CURVES/chorales_NAME_steps_<split>.png.
omr_steps_curve() {
  local split steps names
  for split in test test_heldout; do
    names=("$1_${split}_all")
    for steps in "${@:2}"; do names+=("$1_$((steps / 1000))k_${split}_all"); done
    TARGET=40 step_curve "chorales_$1_steps_${split}.png" image_to_lmx "SER (%)" "${names[@]}"
  done
}

# every_system NAME PAIR (in_config): the NAME lever's model on PAIR on every system of the
# test split and the held-out style (more than either has), into
# TABLE_DIR/eval_NAME_test_all and eval_NAME_test_heldout_all.
every_system() {
  local split
  for split in test test_heldout; do
    EVAL_EXAMPLES=1000 stage_in "${COMPARE}/$1/stages" "$1_eval_${split}_all" evaluate "$split" \
      "${TABLE_DIR}/eval_$1_${split}_all" "${COMPARE}/$1/model" "$2"
  done
}

# omr_steps NAME GIN STEPS... (in_config): the NAME lever's OMR model trained on to each of
# STEPS in turn (resumed_run NAME_<thousands>k from the run before, with GIN), each read on
# every system (every_system): whether more steps carry it further.
omr_steps() {
  local source="$1" steps name
  for steps in "${@:3}"; do
    name="$1_$((steps / 1000))k"
    resumed_run "$name" "$source" "$steps" "$2" omr
    every_system "$name" image_to_lmx
    source="$name"
  done
}

# mixtures_table OUTPUT LABEL=EVAL_NAME... (in_config): the labelled levers' eval dirs
# (TABLE_DIR/eval_EVAL_NAME, EVAL_NAME a glob; a label may repeat) side by side, one table a
# pair (`mt3u report mixtures`), into TABLE_DIR/OUTPUT with its JSON beside it.
mixtures_table() {
  local output="$1" words=() labelled
  shift
  for labelled in "$@"; do
    words+=(--mixture "${labelled%%=*}=${TABLE_DIR}/eval_${labelled#*=}")
  done
  run .venv/bin/mt3u report mixtures "${words[@]}" -o "${TABLE_DIR}/${output}"
}

# Image outputs sampled as the demo's evaluations sample audio (greedy decoding writes
# white columns after the clef), for the audio -> image levers.
IMAGE_SAMPLING=(--temperature 0.7 --decoding-outputs image)

# judged_images JUDGE NAME [FLAG...] (in_config): the demo's all-task model (its own stage,
# skipped when done) on audio -> image, test split and held-out style, its generated images
# read by the JUDGE lever's OMR, into TABLE_DIR/eval_NAME[_heldout]; FLAGs go to `mt3u eval`.
judged_images() {
  local markers="${COMPARE}/$1/stages"
  stage train train_model
  stage_in "$markers" "$2" evaluate test "${TABLE_DIR}/eval_$2" "${RUN}/model" audio_to_image \
    --reader "${COMPARE}/$1/model" "${@:3}"
  stage_in "$markers" "$2_heldout" evaluate test_heldout "${TABLE_DIR}/eval_$2_heldout" \
    "${RUN}/model" audio_to_image --reader "${COMPARE}/$1/model" "${@:3}"
}

# images_alone NAME JUDGE (in_config): audio -> image alone (the task, no mixture) with the
# demo's model and budget, its generated images read by the JUDGE lever's OMR (its own,
# untrained, would read nothing), greedy into TABLE_DIR/eval_NAME[_heldout] and sampled
# (IMAGE_SAMPLING) into eval_NAME_sampled[_heldout].
images_alone() {
  local markers="${COMPARE}/$1/stages" model="${COMPARE}/$1/model" split suffix
  MODEL_GIN=(--gin-file gin/demo.gin)
  prep_stages
  single_run "$1" "${MIXTURE_PREFIX}_audio_to_image_train" audio_to_image \
    --reader "${COMPARE}/$2/model"
  for split in test test_heldout; do
    suffix="${split#test}"
    stage_in "$markers" "$1_eval_sampled${suffix}" evaluate "$split" \
      "${TABLE_DIR}/eval_$1_sampled${suffix}" "$model" audio_to_image \
      --reader "${COMPARE}/$2/model" "${IMAGE_SAMPLING[@]}"
  done
}

# curves OUTPUT TASK LABEL=MODEL_DIR...: the runs' metric of TASK against training time.
curves() {
  local output="$1" task="$2" words=()
  shift 2
  for labelled in "$@"; do words+=(--run "$labelled"); done
  in_config demo run .venv/bin/mt3u report curves "${words[@]}" --task "$task" -o "${CURVES}/${output}"
}

in_config demo setup
in_config demo lever amt_mel gin/demo_amt_mel.gin amt audio_to_midi
in_config demo lever amt_mel_256 gin/demo_amt_mel_256.gin amt audio_to_midi
in_config demo lever amt_mel_50 gin/demo_amt_mel_50.gin amt audio_to_midi
in_config demo lever omr gin/demo.gin omr image_to_lmx
in_config demo lever omr_rows gin/demo_rows.gin omr image_to_lmx
in_config demo lever omr_strips gin/demo_omr_strips.gin omr image_to_lmx
in_config demo lever omr_strips_128 gin/demo_omr_strips_128.gin omr image_to_lmx
in_config chorales lever omr gin/demo.gin omr image_to_lmx
# ... with the image grid's rows, and both read on every system of the chorales' test split
# and held-out style: the two levers that each moved OMR, together.
in_config chorales lever omr_rows gin/demo_rows.gin omr image_to_lmx
in_config chorales every_system omr image_to_lmx
in_config chorales every_system omr_rows image_to_lmx
# ... and that trained on to twice the steps, to 12,000 and to 18,000 (where it stops
# gaining), with its SER against the steps beside the target.
in_config chorales omr_steps omr_rows gin/demo_rows.gin 9000 12000 18000
in_config chorales omr_steps_curve omr_rows 9000 12000 18000
# ... and the rows on a model twice as wide, which the tiny one's flat training loss asks;
# that trained on to twice the steps (where it memorizes), and with dropout, on to 22,000.
in_config chorales lever omr_rows_128 gin/demo_rows_128.gin omr image_to_lmx
in_config chorales every_system omr_rows_128 image_to_lmx
in_config chorales omr_steps omr_rows_128 gin/demo_rows_128.gin 9000
in_config chorales lever omr_rows_128_dropout gin/demo_rows_128_dropout.gin omr image_to_lmx
in_config chorales every_system omr_rows_128_dropout image_to_lmx
in_config chorales omr_steps omr_rows_128_dropout gin/demo_rows_128_dropout.gin \
  9000 12000 18000 22000
in_config chorales omr_steps_curve omr_rows_128_dropout 9000 12000 18000 22000
# ... and twice as wide again with dropout (d_model 256), at the first one's budget and on
# to four times the steps.
in_config chorales lever omr_rows_256_dropout gin/demo_rows_256_dropout.gin omr image_to_lmx
in_config chorales every_system omr_rows_256_dropout image_to_lmx
in_config chorales omr_steps omr_rows_256_dropout gin/demo_rows_256_dropout.gin 9000 12000 18000
in_config chorales omr_steps_curve omr_rows_256_dropout 9000 12000 18000
# ... and that model on `chorales3`, each training piece rendered in three styles (the
# chorales' codecs; the other splits the chorales' own renderings), at the first budget.
in_config chorales3 codecs_from chorales
in_config chorales3 lever omr_rows_256_dropout gin/demo_rows_256_dropout.gin omr image_to_lmx
in_config chorales3 every_system omr_rows_256_dropout image_to_lmx
# It reads 2.8 points better at 4,500 steps than on one rendering a piece: on to 9,000.
in_config chorales3 omr_steps omr_rows_256_dropout gin/demo_rows_256_dropout.gin 9000
in_config chorales lever omr_patch_256 gin/demo_omr_patch_256.gin omr image_to_lmx
in_config music21 pixel_lever omr_patch_256 gin/demo_omr_patch_256.gin omr image_to_lmx \
  synthetic_chorales
# The demo's own codec first (trained by prep_stages), then the levers' in turn.
in_config demo own_codec_lever
for codec in audio_demo audio_demo_long \
  audio_demo_long_256 audio_demo_long_wide audio_demo_long_gan audio_demo_spectral \
  audio_demo_long_16x1024 audio_demo_long_mel2048 audio_demo_spectral_16x1024 \
  audio_demo_long_convergence audio_demo_long_mel_only audio_demo_long_waveform \
  audio_demo_long_waveform_16x1024 audio_demo_spectral_linear audio_demo_spectral_linear_16x1024 \
  audio_demo_spectral_linear_4x1024 audio_demo_spectral_linear_4x1024_long \
  audio_demo_spectral_linear_4x1024_restarts audio_demo_spectral_linear_4x1024_restarts_nodrop_ema99; do
  in_config demo codec_lever "gin/codecs/${codec}.gin"
done
# The demo's 4 x 1,024 codec (no quantizer dropout), the first 4 x 1,024 codec and its two
# other variants also heard by the tiny log-mel AMT (amt_mel, minutes where the d256 judge
# takes hours on some hosts of these 2 cores), and 16 x 1,024, which the d256 judge heard
# keep 0.77: the two judges side by side.
CODEC_JUDGE=amt_mel in_config demo own_codec_lever
for codec in audio_demo_spectral_linear_4x1024 audio_demo_spectral_linear_4x1024_restarts \
  audio_demo_spectral_linear_4x1024_restarts_nodrop_ema99 audio_demo_spectral_linear_16x1024; do
  CODEC_JUDGE=amt_mel in_config demo codec_lever "gin/codecs/${codec}.gin"
done
in_config demo codec_curve gin/codecs/audio_demo_curve.gin 1000 2000 4000 8000
in_config demo codec_spectra codec_spectra.png \
  "conv, 4 x 32 codes, 400 steps (the demo's first)=gin/codecs/audio_demo.gin" \
  "conv, 4 x 32 codes, 8,000 steps=gin/codecs/audio_demo_curve.gin" \
  "conv, 16 x 1024 codes, 2,000 steps=gin/codecs/audio_demo_long_16x1024.gin" \
  "spectral, 4 x 32 codes, 2,000 steps=gin/codecs/audio_demo_spectral.gin" \
  "spectral, 16 x 1024 codes, 2,000 steps=gin/codecs/audio_demo_spectral_16x1024.gin" \
  "spectral with linear maps, 16 x 1024 codes, 2,000 steps=gin/codecs/audio_demo_spectral_linear_16x1024.gin"
in_config demo judged_synthesis amt_mel_256 synthesis_judged
# ... and sampled as the demo samples audio.
in_config demo with_audio_decoding judged_synthesis amt_mel_256 synthesis_judged_sampled
# MIDI -> audio by a cheaper judge (the tiny log-mel AMT, 0.33 onset F1 on the original
# audio): the all-task model against the task trained alone at the same budget.
in_config demo judged_synthesis amt_mel synthesis_judged_tiny
in_config demo with_audio_decoding judged_synthesis amt_mel synthesis_judged_tiny_sampled
in_config demo audio_alone synthesis gin/demo.gin midi_to_audio amt_mel
# Image -> audio alone with the image grid's rows (which let OMR alone read the pitches), heard
# by the same judge on three seeds: whether the task at this budget beats its random pairing.
in_config demo audio_alone image_to_audio_rows gin/demo_rows.gin image_to_audio amt_mel 1 2
# ... trained on to twice and four times the steps, and its rows against the steps.
in_config demo audio_resumed image_to_audio_rows_9k image_to_audio_rows 9000 gin/demo_rows.gin \
  image_to_audio amt_mel 0 1 2
in_config demo audio_resumed image_to_audio_rows_18k image_to_audio_rows_9k 18000 \
  gin/demo_rows.gin image_to_audio amt_mel 0 1 2
in_config demo step_curve image_to_audio_rows_steps.png image_to_audio "onset F1 @200ms" \
  image_to_audio_rows_sampled image_to_audio_rows_sampled_seed1 \
  image_to_audio_rows_sampled_seed2 image_to_audio_rows_9k_sampled_seed{0,1,2} \
  image_to_audio_rows_18k_sampled_seed{0,1,2}
# The paper's image -> audio mixtures with the rows: OMR and image -> audio, and those with
# MIDI -> audio, at the demo's budget.
in_config demo image_to_audio_mixture omr_i2a_rows gin/demo_rows.gin omr_i2a amt_mel 0 1 2
in_config demo image_to_audio_mixture omr_i2a_synth_rows gin/demo_rows.gin omr_i2a_synth \
  amt_mel 0 1 2
# ... and the audio -> image direction's: AMT beside audio -> image, and those with
# engraving, on log-mel at 50 frames a second (against AMT alone so, lever amt_mel_50).
in_config demo lever amt_a2i_mel gin/demo_mel.gin amt_a2i audio_to_midi
in_config demo lever amt_a2i_engrave_mel gin/demo_mel.gin amt_a2i_engrave audio_to_midi
# ... each beside its tasks alone, one table a pair: OMR alone with the rows read on every
# system as the mixtures' OMR is, image -> audio alone on the same seeds, AMT alone.
in_config demo every_system omr_rows image_to_lmx
in_config demo mixtures_table paper_mixtures_image_to_audio.md "OMR alone=omr_rows_test*_all" \
  "image -> audio alone=image_to_audio_rows_sampled" \
  "image -> audio alone=image_to_audio_rows_sampled_seed[12]" \
  "OMR, image -> audio=omr_i2a_rows*" "OMR, image -> audio, MIDI -> audio=omr_i2a_synth_rows*"
in_config demo mixtures_table paper_mixtures_audio_to_image.md "AMT alone=amt_mel_50*" \
  "AMT, audio -> image=amt_a2i_mel*" "AMT, audio -> image, engraving=amt_a2i_engrave_mel*"
# The demo's all-task run with a model twice as wide for half the steps, evaluated as
# the demo evaluates.
in_config demo with_audio_decoding lever all_d128 gin/demo_128.gin all ""
# The demo's all-task run with the image grid's rows embedded (gin/demo_rows.gin).
in_config demo with_audio_decoding lever all_rows gin/demo_rows.gin all ""
# ... and with OMR's share of the batches tripled (gin/demo_rows_omr3.gin).
in_config demo with_audio_decoding lever all_rows_omr3 gin/demo_rows_omr3.gin all ""
# The demo's all-task run reading audio as log-mel frames (gin/demo_mel.gin).
in_config demo with_audio_decoding lever all_mel gin/demo_mel.gin all ""
# ... and with AMT's share of the batches tripled (gin/demo_mel_amt3.gin).
in_config demo with_audio_decoding lever all_mel_amt3 gin/demo_mel_amt3.gin all ""
# ... and at three times the peak learning rate (gin/demo_lr3e3.gin).
in_config demo with_audio_decoding lever all_lr3e3 gin/demo_lr3e3.gin all ""
# ... its generated audio heard by the tiny log-mel AMT, sampled as the demo samples audio.
in_config demo with_audio_decoding judged_lever_synthesis all_lr3e3 amt_mel \
  all_lr3e3_synthesis_judged_tiny_sampled
# Audio -> image by a judge that reads pitches (OMR alone with the rows): the all-task
# model's images, then the task trained alone at the same budget.
in_config demo judged_images omr_rows images_judged_rows
in_config demo judged_images omr_rows images_judged_rows_sampled "${IMAGE_SAMPLING[@]}"
in_config demo images_alone audio_to_image omr_rows
RUNS="${RUN_ROOT:-runs}"
curves amt_curves.png audio_to_midi "tiny, log-mel=${RUNS}/demo/compare/amt_mel/model" \
  "d256, log-mel=${RUNS}/demo/compare/amt_mel_256/model"
curves omr_curves.png image_to_lmx "demo (136 chorales)=${RUNS}/demo/compare/omr/model" \
  "chorales (408)=${RUNS}/chorales/compare/omr/model" \
  "chorales, d256 on patches=${RUNS}/chorales/compare/omr_patch_256/model" \
  "music21, d256 on patches=${RUNS}/music21/compare/omr_patch_256/model"
curves chorales_omr_rows_curves.png image_to_lmx \
  "tiny=${RUNS}/chorales/compare/omr_rows_18k/model" \
  "d128=${RUNS}/chorales/compare/omr_rows_128_9k/model" \
  "d128, dropout 0.1=${RUNS}/chorales/compare/omr_rows_128_dropout_22k/model" \
  "d256, dropout 0.1=${RUNS}/chorales/compare/omr_rows_256_dropout_18k/model"
[[ $DRY_RUN == 1 ]] || cat "${CURVES}/amt_curves.md" "${CURVES}/omr_curves.md" \
  "${CURVES}/chorales_omr_rows_curves.md" \
  "${CURVES}/image_to_audio_rows_steps.md"
