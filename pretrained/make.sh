#!/usr/bin/env bash
# Rebuild the bundled pretrained model from scratch: train the recommended recipe (train.py's defaults) on
# the bundled MIT-licensed data/asl_mit and data/asl_crowd_permissive (nine signers; one, Prakhar-1401, held out
# for validation), keep its last checkpoint as float16 weights (pretrained/model.pt), index the eight
# signers it trained on (pretrained/index.npz), export it to int8 ONNX for the page
# (pretrained/model.int8.onnx and .json), and write the model card's figures
# (pretrained/evaluation/*.json, printed as tables). About 5 minutes on 2 CPU cores.
#
#   bash pretrained/make.sh [train.py flags]        (from anywhere; flags change the recipe)
#
# The training run goes to $PRETRAINED_RUN/pretrained (default /tmp/pt/pretrained) and is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${PRETRAINED_RUN:-/tmp/pt}
MIT=data/asl_mit/asl_mit.csv.gz
PERMISSIVE=data/asl_crowd_permissive/asl_crowd_permissive.csv.gz
DATA=$MIT,$PERMISSIVE
# One signer held out for validation: a small one (60 clips) whose three glosses occur in the others' clips, so training
# keeps every gloss and nearly every clip: split seed 9 picks it (checked below). It stays out of the index too,
# a stranger to model and index alike (the README's quick start practises its clips).
SPLIT="--validation_signers 1 --split_seed 9"
VALIDATION=Prakhar-1401/Sign_detection_project
TRAINED_CROWD=akashcodes23/Realtime-Sign-LanguageDetection,IlkerDEMIR-s/SignLanguageDetectionFromWebcam,dmohazab/FYDPASL,Parsa-Baniamerian/Sign_Language_Detection
SIGNS=../shared/data/signs

mkdir -p "$RUN"
python train.py --training_set_path "$DATA" $SPLIT --experiment_name pretrained --output_dir "$RUN" --overwrite --no_progress "$@" \
    2>&1 | tee "$RUN/train.log"
if ! grep -q "validation signers: $VALIDATION\$" "$RUN/train.log"; then
    echo "make.sh: train.py held out other signers than $VALIDATION (see $RUN/train.log); update VALIDATION" >&2
    exit 1
fi
python -m models.checkpoint "$RUN/pretrained/last.pt" pretrained/model.pt
# The index holds what the model trained on, so the held-out signer is a stranger to both (the quick start's example).
python preprocess.py convert "$PERMISSIVE" "$RUN/trained_crowd.csv.gz" --signers "$TRAINED_CROWD"
python search.py index "$MIT,$RUN/trained_crowd.csv.gz" -o pretrained/index.npz --overwrite
# The page's model: the int8 ONNX export (and its sidecar); the fp32 export is only a step on the way.
python export.py --checkpoint pretrained/model.pt --output "$RUN/model.onnx" --int8 --force
mv "$RUN/model.int8.onnx" "$RUN/model.int8.json" pretrained/

# Figures: the held-out signer (the split train.py made), then zero-shot on other languages;
# the float16 model and the raw-keypoint baseline, and the float32 checkpoint to show what float16 costs.
mkdir -p pretrained/evaluation
evaluate() {  # NAME, then evaluate.py's data flags
    local name=$1; shift
    python evaluate.py --checkpoint pretrained/model.pt --baseline "$@" --json "pretrained/evaluation/$name.json"
    python evaluate.py --checkpoint "$RUN/pretrained/last.pt" "$@" --json "pretrained/evaluation/${name}_fp32.json"
}
evaluate held_out_signer --data "$DATA" --held_out_signers 1 --seed 9
if [ -d "$SIGNS" ]; then
    evaluate ksl --data "$SIGNS/ksl.npz"
    evaluate other --data "$SIGNS/other.npz" --per_language
    # ASL signers the model never saw: asl.npz without the four MIT sources, only glosses of data/asl_mit, which
    # is the reference set, so that the figures compare with earlier models' (the same scored queries).
    unseen=$(mktemp -d)/asl_unseen_signers.npz
    python - "$SIGNS/asl.npz" "$MIT" "$unseen" <<'PY'
import sys
import numpy as np
from datasets import read_signs
source, references, output = sys.argv[1:]
known = read_signs(references)
with np.load(source) as file:
    arrays = {key: file[key] for key in file.files}
keep = np.flatnonzero(~np.isin(arrays["signer"], known.signers) & np.isin(arrays["label"], known.labels))
offsets, keypoints = arrays.pop("offsets"), arrays.pop("keypoints")
starts, ends = offsets[keep], offsets[keep + 1]
frames = [keypoints[start:end] for start, end in zip(starts, ends)]
np.savez(output, keypoints=np.concatenate(frames), offsets=np.concatenate([[0], np.cumsum(ends - starts)]),
         **{key: value[keep] for key, value in arrays.items()})
PY
    python evaluate.py --checkpoint pretrained/model.pt --baseline --reference "$MIT" --query "$unseen" --k_shot "" \
        --json pretrained/evaluation/asl_unseen_signers.json
    python -m results.practice_calibration --data "$SIGNS/asl.npz" | tee pretrained/evaluation/practice_calibration.txt
else
    echo "$SIGNS not found: zero-shot figures skipped" >&2
fi
