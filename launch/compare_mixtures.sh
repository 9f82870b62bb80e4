#!/usr/bin/env bash
# Does training on the far-modal tasks help the near-modal ones (the paper's claim)?
# Trains the OMR-only and the AMT-only mixtures with the demo's gin and budget, each
# evaluated on its own pair, and writes one table of them against the demo's all-task
# model: OMR SER and AMT onset F1 @50 ms on the test split (and, at demo scale, on the
# held-out rendering style).
#
#   bash launch/compare_mixtures.sh             # after (or including) the demo's stages
#   bash launch/compare_mixtures.sh --dry-run   # print the commands of the stages not done
#   TRAIN_STEPS=N EVAL_EXAMPLES=N SCALE=paper ...   as for launch/demo.sh
#   RUN_ROOT=/tmp/cmp TRAIN_STEPS=20 EVAL_EXAMPLES=2 bash launch/compare_mixtures.sh
#       # a scratch comparison: its own all-task run too, reusing runs/<config>'s corpus,
#       # codecs and bake (PREP_RUN), outputs under RUN_ROOT/outputs
#
# It runs the demo's stages first (launch/demo_stages.sh: corpus, codecs, bake, the
# all-task train and eval; each skipped when done, the report left to demo.sh), then
# for each single-task mixture <m> (omr, amt) its own stages, markers under
# RUN/compare/<m>/stages: <m>_train (model RUN/compare/<m>/model) and <m>_eval,
# <m>_eval_heldout (into OUTPUT_ROOT/compare_<config>/eval_<m>[_heldout]); then the table:
# OUTPUT_ROOT/compare_<config>/comparison.md and comparison.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/common.sh
parse_dry_run "$@"
source launch/demo_stages.sh

# Each single-task mixture (the suffix of <prefix>_<m>, tasks/mixtures.py) and its pair.
SINGLE_TASK=(omr:image_to_lmx amt:audio_to_midi)

setup
demo_stages

all_dirs=("$EVAL")
[ "$HELDOUT" = 1 ] && all_dirs+=("${EVAL}_heldout")
for entry in "${SINGLE_TASK[@]}"; do
  recipe="${entry%%:*}"
  single_run "$recipe" "${MIXTURE_PREFIX}_${recipe}" "${entry#*:}"
done

# The table is cheap and always rewritten, so it shows the latest evaluations.
table=($MT3U report compare -o "${TABLE_DIR}/comparison.md")
for dir in "${SINGLE_DIRS[@]}"; do table+=(--single-task "$dir"); done
for dir in "${all_dirs[@]}"; do table+=(--all-task "$dir"); done
run "${table[@]}"
dry_run || cat "${TABLE_DIR}/comparison.md"
