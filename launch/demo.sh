#!/usr/bin/env bash
# The main job: on a fresh machine, set up, build a paired corpus from music21's
# scores, train the image and audio codecs, bake the corpus into codes, train the
# unified model on every task in both directions, evaluate it with the paper's
# metrics on the test split (and on the held-out rendering style), and write the
# HTML report. Each stage shows progress; a rerun skips the stages that finished
# (their markers are under runs/<config>/stages/), and a stage killed midway resumes
# from its own checkpoints or caches. Nothing finished is ever deleted.
#
#   bash launch/demo.sh                 # the default: the `demo` corpus, 46-50 min on 2 cores
#   SCALE=paper bash launch/demo.sh     # the same stages at the paper's scale (a GPU host)
#   TRAIN_STEPS=N CODEC_STEPS=N ...     # shorter or longer budgets
#   bash launch/demo.sh --dry-run       # print the commands of the stages not done yet
# The stages and their settings (RUN_ROOT, OUTPUT_ROOT, ...) are in launch/demo_stages.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/common.sh
parse_dry_run "$@"
source launch/demo_stages.sh

setup
demo_stages
stage report $MT3U report eval "$EVAL" --screenshot "${EVAL}/report.png"
dry_run && exit 0

echo
echo "The demo is done. Look at:"
echo "  ${OUTPUT_ROOT}/corpus_${CONFIG}.html   the corpus"
echo "  ${OUTPUT_ROOT}/codecs_${CONFIG}.html   the codecs' reconstructions"
echo "  ${RUN}/model/loss_curves.png    each task's training loss"
echo "  ${EVAL}/metric_curves.png       each task's eval metric against training time"
echo "  ${EVAL}/results.md              the paper's tables"
echo "  ${EVAL}/report.html             the report (screenshot: ${EVAL}/report.png)"
if [ -d "${EVAL}_heldout" ]; then
  echo "  ${EVAL}_heldout/results.md      the same on the held-out rendering style"
fi
