"""Which fixed features of a clip find a held-out source's fingerspelled letters, with no training: the
raw-keypoint baseline, the same after canonical handedness, the right hand's resampled frame sequence, and
each hand's points averaged over the frames that see it (``models.spoter.pooled_hands``, what
``--pooled_hands`` adds to the model). Backs the trial of ``--pooled_hands`` in README.

    python results/letter_features.py --fold 3
"""
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datasets import layout  # noqa: E402
from datasets.filters import is_letter  # noqa: E402
from letter_confusions import fold_arguments, held_out_letters, top1  # noqa: E402
from models.raw_keypoints import RawKeypointEmbedding  # noqa: E402
from models.spoter import pooled_hands, right_handed  # noqa: E402
from retrieval.embedding import embed_signs  # noqa: E402


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


def main():
    args = fold_arguments(__doc__).parse_args()
    data, ids, reference, query = held_out_letters(args)
    reference_letters = reference[is_letter(data.labels[reference])]
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
