"""Where a fold's model puts the held-out fingerspelled letters: top-1 when every training class may
answer, top-1 among the letter classes alone, and the classes they go to. Backs "What limits these
figures" in README.

    python -m results.letter_confusions --checkpoint out-cv/recommended/fold_3/last.pt --fold 3
"""
import argparse
import collections
from pathlib import Path

import numpy as np

from datasets import class_names, filter_signs, label_ids, read_signs
from datasets.filters import is_letter
from datasets.splits import signer_folds
from models.checkpoint import load_model
from retrieval.embedding import embed_signs
from retrieval.metrics import nearest_class_accuracy, rank_classes
from utils.settings import BSL_FINGERSPELLERS


def top1(query, query_ids, reference, reference_ids):
    return nearest_class_accuracy(query, query_ids, reference, reference_ids, ks=(1,))["top1"]


def fold_arguments(description):
    """The flags both letter scripts take: which fold of asl.npz holds its signers out."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fold", type=int, required=True, help="its fold (1-based, of --folds)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=379)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/signs/asl.npz"))
    return parser


def held_out_split(args):
    """``(data, class ids, training clips, held-out clips of a gloss some training source signs)``, with the
    labels cross_validate.py trains and scores (``_idle`` dropped, the two alphabets apart)."""
    data = filter_signs(read_signs(args.data), exclude_labels=["_idle"], bsl_letters=BSL_FINGERSPELLERS)
    ids = label_ids(data.labels, class_names(data.labels))
    held_out = np.isin(data.signers, signer_folds(data.signers, args.folds, args.seed)[args.fold - 1])
    reference = np.flatnonzero(~held_out)
    query = np.flatnonzero(held_out & np.isin(ids, ids[reference]))
    return data, ids, reference, query


def held_out_letters(args):
    """:func:`held_out_split` with only the held-out fingerspelled letters as queries."""
    data, ids, reference, query = held_out_split(args)
    return data, ids, reference, query[is_letter(data.labels[query])]


def main():
    parser = fold_arguments(__doc__)
    parser.add_argument("--checkpoint", required=True, help="a fold's last.pt (cross_validate.py)")
    args = parser.parse_args()
    data, ids, reference, query = held_out_letters(args)
    names = class_names(data.labels)
    model, _ = load_model(args.checkpoint)
    query_vectors = embed_signs(model, data.subset(query), "cpu")
    reference_vectors = embed_signs(model, data.subset(reference), "cpu")
    reference_letters = is_letter(data.labels[reference])
    print(f"{len(query)} held-out letter clips of a letter some training source signs one-handed")
    print(f"top-1, every training class:  {top1(query_vectors, ids[query], reference_vectors, ids[reference]):.3f}")
    print(f"top-1, letter classes only:   "
          f"{top1(query_vectors, ids[query], reference_vectors[reference_letters], ids[reference][reference_letters]):.3f}")
    answers = rank_classes(query_vectors, reference_vectors, ids[reference], 1)[:, 0].numpy()
    counts = collections.Counter(names[answer] for answer in answers)
    print("answered as: " + ", ".join(f"{name} {count / len(query):.0%}" for name, count in counts.most_common(8)))


if __name__ == "__main__":
    main()
