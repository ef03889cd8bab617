"""How well fingerspelled letters transfer between the three sources of asl.npz that sign them, with the
raw-keypoint baseline: top-1/top-5 of one source's letter clips against another's (a source against itself:
every other clip as reference). Backs the finding in README's "What limits these figures".

    python -m results.letters_by_source [--data ../shared/data/signs/asl.npz]
"""
import argparse
from pathlib import Path

import numpy as np

from datasets import filter_signs, label_ids, read_signs
from datasets.clip_dataset import ClipDataset
from datasets.filters import is_letter
from models.raw_keypoints import RawKeypointEmbedding
from retrieval.embedding import embed
from retrieval.metrics import nearest_class_accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/signs/asl.npz"))
    data = filter_signs(read_signs(parser.parse_args().data), exclude_labels=["_idle"])
    data = data.subset(np.flatnonzero(is_letter(data.labels)))
    ids = label_ids(data.labels, sorted(set(data.labels)))
    vectors = embed(RawKeypointEmbedding(), ClipDataset(data, ids), "cpu")
    sources = np.unique(data.signers)
    print(f"{'queries':32s} {'references':32s} top-1  top-5  reference letters")
    for query_source in sources:
        for reference_source in sources:
            query = np.flatnonzero(data.signers == query_source)
            reference = np.flatnonzero(data.signers == reference_source)
            if query_source == reference_source:
                query, reference = query[1::2], query[::2]
            accuracy = nearest_class_accuracy(vectors[query], ids[query], vectors[reference], ids[reference])
            print(f"{query_source[:32]:32s} {reference_source[:32]:32s} {accuracy['top1']:.2f}   "
                  f"{accuracy['top5']:.2f}   {len(np.unique(ids[reference]))}")


if __name__ == "__main__":
    main()
