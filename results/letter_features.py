"""Which fixed features of a clip find a held-out source's fingerspelled letters, with no training: the
raw-keypoint baseline, the same after canonical handedness, the right hand's resampled frame sequence, and
each hand's points averaged over the frames that see it (``models.spoter.pooled_hands``, what
``--pooled_hands`` adds to the model). Backs the choice of ``--pooled_hands`` in README.

    python results/letter_features.py --fold 3
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datasets import class_names, filter_signs, label_ids, layout, read_signs  # noqa: E402
from datasets.splits import signer_folds  # noqa: E402
from models.raw_keypoints import RawKeypointEmbedding  # noqa: E402
from models.spoter import pooled_hands, right_handed  # noqa: E402
from retrieval.embedding import embed_signs  # noqa: E402
from retrieval.metrics import rank_classes  # noqa: E402
from utils.settings import BSL_FINGERSPELLERS  # noqa: E402


class FixedFeatures(nn.Module):
    """A clip -> one of the fixed descriptions compared here (the model's forward signature)."""

    def __init__(self, kind):
        super().__init__()
        self.kind, self.baseline = kind, RawKeypointEmbedding()

    def forward(self, keypoints, padding_mask):
        if self.kind == "baseline":
            return self.baseline(keypoints, padding_mask)
        keypoints = right_handed(keypoints, padding_mask)
        if self.kind == "right-handed baseline":
            return self.baseline(keypoints, padding_mask)
        if self.kind == "right hand, frame sequence":
            hand_only = torch.full_like(keypoints, float("nan"))
            hand_only[:, :, layout.RIGHT_HAND] = keypoints[:, :, layout.RIGHT_HAND]
            return self.baseline(hand_only, padding_mask)
        return pooled_hands(keypoints, padding_mask)


KINDS = ("baseline", "right-handed baseline", "right hand, frame sequence", "pooled hands")


def top1(query, query_ids, reference, reference_ids):
    return float(np.mean(rank_classes(query, reference, reference_ids, 1)[:, 0].numpy() == query_ids))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fold", type=int, required=True, help="held-out fold (1-based, of --folds)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=379)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/signs/asl.npz"))
    args = parser.parse_args()
    data = filter_signs(read_signs(args.data), exclude_labels=["_idle"], bsl_letters=BSL_FINGERSPELLERS)
    ids = label_ids(data.labels, class_names(data.labels))
    held_out = np.isin(data.signers, signer_folds(data.signers, args.folds, args.seed)[args.fold - 1])
    reference = np.flatnonzero(~held_out)
    letters = np.char.startswith(data.labels.astype(str), "letter_")
    query = np.flatnonzero(held_out & letters & np.isin(ids, ids[reference]))
    reference_letters = reference[letters[reference]]
    print(f"fold {args.fold}: {len(query)} held-out letter clips; top-1 among every class / among letters")
    for kind in KINDS:
        features = FixedFeatures(kind)
        queries = embed_signs(features, data.subset(query), "cpu")
        every = top1(queries, ids[query], embed_signs(features, data.subset(reference), "cpu"), ids[reference])
        among = top1(queries, ids[query], embed_signs(features, data.subset(reference_letters), "cpu"),
                     ids[reference_letters])
        print(f"  {kind:28s} {every:.3f} / {among:.3f}")


if __name__ == "__main__":
    main()
