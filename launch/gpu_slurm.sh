#!/usr/bin/env bash
# Train on a SLURM GPU cluster: `srun` starts one process per GPU, and each joins the run
# with a bare jax.distributed.initialize() (--multihost), which reads SLURM's variables.
#   launch/gpu_slurm.sh [--dry-run] [--nodes N] [--gpus-per-node G] [--] TRAIN_FLAGS...
# Run it inside an allocation (sbatch, salloc) or on a login node; srun reads the rest of
# its settings (partition, time limit, account) from SLURM_* variables as usual. The repo
# and its .venv must be on a file system every node sees; MODEL_DIR too (all processes
# write one checkpoint). --dry-run prints the command instead of running it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/launch/common.sh"

DRY_RUN=0 NODES=1 GPUS=8
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --nodes) NODES=${2:?--nodes needs a number}; shift 2 ;;
    --gpus-per-node) GPUS=${2:?--gpus-per-node needs a number}; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
(($#)) || usage_error "give the training flags (--gin_file=... --gin.MODEL_DIR=...)"

# Every task sees all of its node's GPUs (--gpus-per-node, not --gpus-per-task): JAX picks
# the task's own GPU by SLURM_LOCALID. One failed task ends the others, which would wait.
run_or_print srun --nodes="$NODES" --ntasks-per-node="$GPUS" --gpus-per-node="$GPUS" \
  --kill-on-bad-exit=1 "${PYTHON:-$ROOT/.venv/bin/python}" -m mt3_unified.train.train \
  --multihost "$@"
