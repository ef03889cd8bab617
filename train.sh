#!/usr/bin/env bash
# The published spoter-embeddings hyperparameters (WLASL100), every one pinned here because train.py's own
# defaults are this project's recommended settings. Any flag given to this script is appended and
# overrides the one here, e.g.:
#   bash train.sh --training_set_path ../shared/data/signs/asl.npz --validation_set_path "" --validation_signers 5 --epochs 10
set -euo pipefail
cd "$(dirname "$0")"
exec python train.py \
  --experiment_name "wlasl100" \
  --dataset_name "WLASL100" \
  --training_set_path "WLASL100_train_25fps.csv" \
  --validation_set_path "WLASL100_val_25fps.csv" \
  --epochs 300 \
  --optimizer SGD \
  --lr 0.001 \
  --batch_size 32 \
  --vector_length 32 \
  --no-normalize_embeddings \
  --triplet_loss_margin 1 \
  --dropout 0.2 \
  --hidden_dim 108 \
  --feedforward_dim 2048 \
  --no-norm_first \
  --hard_triplet_mining in_batch \
  --filter_easy_triplets \
  --clips_per_class 0 \
  --start_mining_hard 200 \
  --hard_mining_pre_batch_multipler 16 \
  --hard_mining_pre_batch_mining_count 5 \
  --hard_mining_scheduler_triplets_threshold 0 \
  --augmentations_prob 0.75 \
  --mirror_prob 0 \
  --time_stretch_prob 0 \
  --scheduler_factor 0.2 \
  --scheduler_patience 10 \
  --scheduler_warmup 400 \
  --save_checkpoints_every 10 \
  "$@"
