"""Top-1 of the fingerspelled letters and of the words apart, per fold, from cross_validate.py's fold JSONs:
each gloss's top-1 (``per_class_top1``) weighted by its number of scored queries on that fold's held-out
signers, with the labels that fold was scored with (``--bsl_letters``; folds scored before that flag
existed counted F1zzy's two-handed letters as ASL's). Also counts the letter queries that no one-handed
source can answer: letters whose only training clips are two-handed, and two-handed letters themselves.
Backs "What limits these figures" in README.

    python -m results.words_and_letters results/cv_recommended [results/cv_file_labels ...]
"""
import argparse
import json
from pathlib import Path

import numpy as np

from datasets import filter_signs, read_signs
from utils.settings import BSL_FINGERSPELLERS


def fold_queries(labels, signers, held_out):
    """Glosses and signers of a fold's scored queries (those whose gloss has a training clip), and the
    glosses that one-handed training sources sign."""
    query = np.isin(signers, held_out)
    known = np.isin(labels, labels[~query])
    one_handed = set(labels[~query & ~np.isin(signers, BSL_FINGERSPELLERS)])
    return labels[query & known], signers[query & known], one_handed


def weighted_top1(per_class, labels):
    return float(np.mean([per_class[label] for label in labels])) if len(labels) else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="cross_validate.py result folders (with fold_K.json)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/signs/asl.npz"))
    args = parser.parse_args()
    data = read_signs(args.data)
    print(f"{'results':28s} fold  queries  letters  unanswerable  method    top-1  words  letters")
    for folder in map(Path, args.folders):
        for path in sorted(folder.glob("fold_[0-9].json")):
            scored = json.loads(path.read_text())
            labelled = filter_signs(data, exclude_labels=["_idle"], bsl_letters=scored["settings"].get("bsl_letters", []))
            result = scored["sets"][0]
            labels, signers, one_handed_glosses = fold_queries(labelled.labels.astype(str), labelled.signers.astype(str),
                                                               result["protocol"]["held_out_signers"])
            letters = np.char.find(labels, "letter_") >= 0
            two_handed = np.isin(signers, BSL_FINGERSPELLERS)
            unanswerable = letters & (two_handed | ~np.isin(labels, list(one_handed_glosses)))
            for method, figures in result["methods"].items():
                per_class = figures["per_class_top1"]
                print(f"{folder.name[:28]:28s} {path.stem[5:]:>4s}  {len(labels):7d}  {letters.sum():7d}  "
                      f"{unanswerable.sum():12d}  {method:8s}  {weighted_top1(per_class, labels):.3f}  "
                      f"{weighted_top1(per_class, labels[~letters]):.3f}  {weighted_top1(per_class, labels[letters]):.3f}")


if __name__ == "__main__":
    main()
