#!/usr/bin/env bash
# Train on a Cloud TPU VM pod: one command on every worker through
# `gcloud compute tpus tpu-vm ssh --worker=all`; each worker's process joins the run with a
# bare jax.distributed.initialize() (--multihost), which finds the pod's workers itself.
#   launch/tpu_pod.sh [--dry-run] --tpu NAME --zone ZONE [--project P] [--repo-dir DIR] \
#     [--] TRAIN_FLAGS...
# Each worker needs the repo in DIR (default mt3-unified, under the login's home) with its
# .venv (jax[tpu]); MODEL_DIR should be a gs:// bucket all workers write. --dry-run prints
# the command instead of running it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/launch/common.sh"

DRY_RUN=0 TPU="" ZONE="" PROJECT="" REPO_DIR=mt3-unified
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --tpu) TPU=${2:?--tpu needs a name}; shift 2 ;;
    --zone) ZONE=${2:?--zone needs a zone}; shift 2 ;;
    --project) PROJECT=${2:?--project needs a project}; shift 2 ;;
    --repo-dir) REPO_DIR=${2:?--repo-dir needs a folder}; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ -n $TPU && -n $ZONE ]] || usage_error "--tpu NAME and --zone ZONE are required"
(($#)) || usage_error "give the training flags (--gin_file=... --gin.MODEL_DIR=...)"

# The workers' shell reads this string: each word quoted once for it.
remote="cd $(quote_word "$REPO_DIR") && $(quote_command .venv/bin/python -m \
  mt3_unified.train.train --multihost "$@")"
gcloud=(gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE")
[[ -z $PROJECT ]] || gcloud+=(--project "$PROJECT")
run_or_print "${gcloud[@]}" --worker=all --command "$remote"
