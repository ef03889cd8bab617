#!/usr/bin/env bash
# Rebuild the bundled pretrained model from scratch: train the recommended recipe (train.py's defaults) on
# the bundled MIT-licensed data/asl_mit, keep its best checkpoint as float16 weights (pretrained/model.pt),
# index data/asl_mit with it (pretrained/index.npz), export it to int8 ONNX for the page
# (pretrained/model.int8.onnx and .json), and write the model card's figures
# (pretrained/evaluation/*.json, printed as tables). About 5 minutes on 2 CPU cores.
#
#   bash pretrained/make.sh [train.py flags]        (from anywhere; flags change the recipe)
#
# The training run goes to $PRETRAINED_RUN/pretrained (default /tmp/pt/pretrained) and is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${PRETRAINED_RUN:-/tmp/pt}
DATA=data/asl_mit/asl_mit.csv.gz
SIGNS=../shared/data/signs

python train.py --experiment_name pretrained --output_dir "$RUN" --overwrite --no_progress "$@"
python -m training.checkpoint "$RUN/pretrained/best.pt" pretrained/model.pt
python search.py index "$DATA" -o pretrained/index.npz --overwrite
# The page's model: the int8 ONNX export (and its sidecar); the fp32 export is only a step on the way.
python export.py --checkpoint pretrained/model.pt --output "$RUN/model.onnx" --int8 --force
mv "$RUN/model.int8.onnx" "$RUN/model.int8.json" pretrained/

# Figures: the held-out signer of data/asl_mit (the split train.py made), then zero-shot on other languages;
# the float16 model and the raw-keypoint baseline, and the float32 checkpoint to show what float16 costs.
mkdir -p pretrained/evaluation
evaluate() {  # NAME, then evaluate.py's data flags
    local name=$1; shift
    python evaluate.py --checkpoint pretrained/model.pt --baseline "$@" --json "pretrained/evaluation/$name.json"
    python evaluate.py --checkpoint "$RUN/pretrained/best.pt" "$@" --json "pretrained/evaluation/${name}_fp32.json"
}
evaluate asl_mit_held_out --data "$DATA"
if [ -d "$SIGNS" ]; then
    evaluate ksl --data "$SIGNS/ksl.npz"
    evaluate other --data "$SIGNS/other.npz" --per-language
    # ASL signers the model never saw: asl.npz without the four MIT sources, only glosses the index holds.
    unseen=$(mktemp -d)/asl_unseen_signers.npz
    python - "$SIGNS/asl.npz" pretrained/index.npz "$unseen" <<'PY'
import sys
import numpy as np
source, index, output = sys.argv[1:]
with np.load(source) as file, np.load(index) as known:
    arrays = {key: file[key] for key in file.files}
    keep = np.flatnonzero(~np.isin(arrays["signer"], known["signers"]) & np.isin(arrays["label"], known["labels"]))
offsets, keypoints = arrays.pop("offsets"), arrays.pop("keypoints")
starts, ends = offsets[keep], offsets[keep + 1]
frames = [keypoints[start:end] for start, end in zip(starts, ends)]
np.savez(output, keypoints=np.concatenate(frames), offsets=np.concatenate([[0], np.cumsum(ends - starts)]),
         **{key: value[keep] for key, value in arrays.items()})
PY
    python evaluate.py --checkpoint pretrained/model.pt --baseline --reference "$DATA" --query "$unseen" --k-shot "" \
        --json pretrained/evaluation/asl_unseen_signers.json
    python results/practice_calibration.py --data "$SIGNS/asl.npz" | tee pretrained/evaluation/practice_calibration.txt
else
    echo "$SIGNS not found: zero-shot figures skipped" >&2
fi
