"""Which fixed features of a clip find a held-out source's fingerspelled letters, with no training: the
raw-keypoint baseline, the same after canonical handedness, the right hand's resampled frame sequence, and
each hand's points averaged over the frames that see it (:func:`pooled_hands`, what the removed model
option ``--pooled_hands`` added to the decoder's output; docs/results.md).

    python -m results.letter_features --fold 3
"""
import torch
from torch import nn

from datasets.filters import is_letter
from models.raw_keypoints import RawKeypointEmbedding
from models.spoter import right_handed
from results.letter_confusions import fold_arguments, held_out_letters, top1
from retrieval.embedding import embed_signs
from utils import layout

_HANDS = (layout.LEFT_HAND, layout.RIGHT_HAND)


def pooled_hands(keypoints, padding_mask):
    """``[batch, 2 * 43]``: each hand's points averaged over the frames that see it, and the share of frames
    that see it. A fingerspelled letter is one held hand shape, so its average over frames may match across
    signers where the frame sequence does not."""
    frames = (~padding_mask).sum(dim=1, keepdim=True).clamp(min=1)
    pooled = []
    for hand in _HANDS:
        points = keypoints[:, :, hand]
        seen = ~torch.isnan(points).any(dim=-1).any(dim=-1) & ~padding_mask
        count = seen.sum(dim=1, keepdim=True)
        total = torch.where(seen[..., None, None], points, torch.zeros_like(points)).sum(dim=1).flatten(1)
        pooled += [total / count.clamp(min=1), count / frames]
    return torch.cat(pooled, dim=-1).to(keypoints.dtype)


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
