"""How the practice score separates right from wrong attempts, on real clips of signers an index never saw.

Every clip of DATA whose gloss the index holds, by a signer the index does not hold, is scored as the gloss
it is (a correct attempt) and as every other gloss of the index (wrong attempts), with search.py's score.
Prints the mean and quartiles of both, and the share of (correct, wrong) pairs of one clip that the score
orders right. Backs the README's "Search and practice".

    python -m results.practice_calibration [--index pretrained/index.npz] [--checkpoint pretrained/model.pt]
        [--data ../shared/data/signs/asl.npz]
"""
import argparse
from pathlib import Path

import numpy as np

from datasets import read_signs
from models.checkpoint import load_model
from retrieval.embedding import embed_signs, hands_detected
from retrieval.index import load_index
from retrieval.practice import practice_score
from utils.files import file_sha256

REPOSITORY = Path(__file__).resolve().parent.parent


def open_pretrained(description):
    """``(args, index, model)`` of a calibration script: --index, --checkpoint (the bundled ones by default)
    and --data (asl.npz)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=str(REPOSITORY / "pretrained" / "index.npz"))
    parser.add_argument("--checkpoint", default=str(REPOSITORY / "pretrained" / "model.pt"))
    parser.add_argument("--data", default=str(REPOSITORY.parent / "shared" / "data" / "signs" / "asl.npz"))
    args = parser.parse_args()
    index = load_index(args.index, file_sha256(args.checkpoint), args.checkpoint)
    model, _ = load_model(args.checkpoint)
    return args, index, model


def main():
    args, index, model = open_pretrained(__doc__)
    data = read_signs(args.data)
    unseen = np.isin(data.labels, index.glosses)
    if index.signers is not None and data.signers is not None:
        unseen &= ~np.isin(data.signers, index.signers)
    attempts = data.subset(np.flatnonzero(unseen))
    attempts = attempts.subset(np.flatnonzero(hands_detected(attempts)))
    glosses, distances = index.nearest_glosses(embed_signs(model, attempts, "cpu"), len(index.glosses))
    scores = practice_score(distances, index.score_quantiles)
    intended = glosses == attempts.labels[:, None]
    right = scores[intended]
    wrong = np.where(intended, np.nan, scores)
    pairs = (right[:, None] > wrong)[~intended].mean()
    signers = "signers unknown" if attempts.signers is None else f"{len(np.unique(attempts.signers))} signers"
    glosses_seen = len(np.unique(attempts.labels))
    print(f"{len(attempts)} clips of {glosses_seen} glosses by {signers} not in {Path(args.index).name}")
    for name, values in (("correct gloss", right), ("other glosses", wrong[~intended])):
        quartiles = " / ".join(f"{q:.1f}" for q in np.percentile(values, [25, 50, 75]))
        print(f"  scored as {name}: mean {values.mean():.1f}, quartiles {quartiles}")
    print(f"  (correct, other) pairs of one clip ordered right: {100 * pairs:.1f}%")
    print(f"  clips whose correct gloss scores highest (nearest gloss): {100 * intended[:, 0].mean():.1f}%")


if __name__ == "__main__":
    main()
