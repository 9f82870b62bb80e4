#!/usr/bin/env bash
# Train on this machine: one process on every local device (CPU cores, or each GPU).
#   launch/local.sh [--dry-run] [--] TRAIN_FLAGS...
# TRAIN_FLAGS go to `python -m mt3_unified.train.train` as they are, e.g.
#   launch/local.sh --gin_file=gin/local_cpu.gin --gin.MODEL_DIR="'/tmp/mt3u_local'" \
#     --gin.MIXTURE_OR_TASK_NAME="'synthetic_full_all'"
# --dry-run prints the command instead of running it. PYTHON overrides the interpreter.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/launch/common.sh"

DRY_RUN=0
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
(($#)) || usage_error "give the training flags (--gin_file=... --gin.MODEL_DIR=...)"

run_or_print "${PYTHON:-$ROOT/.venv/bin/python}" -m mt3_unified.train.train "$@"
