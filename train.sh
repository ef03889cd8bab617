#!/usr/bin/env bash
# The published spoter-embeddings recipe (WLASL100): its hyperparameters and SPOTER architecture live in
# recipes/published.txt, one flag a line, because train.py's own defaults are this project's recommended
# recipe. Any flag given to this script comes after them and overrides them, e.g.:
#   bash train.sh --training_set_path ../shared/data/signs/asl.npz --validation_set_path "" --validation_signers 5
set -euo pipefail
cd "$(dirname "$0")"
exec python train.py \
  --experiment_name "wlasl100" \
  --dataset_name "WLASL100" \
  --training_set_path "WLASL100_train_25fps.csv" \
  --validation_set_path "WLASL100_val_25fps.csv" \
  --epochs 10 \
  --save_checkpoints_every 10 \
  @recipes/published.txt \
  "$@"
