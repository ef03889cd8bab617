"""What search's verdict ("match", "uncertain", "no sign I know") is worth, on real clips of signers an index
never saw: signs the index holds against signs it does not.

Every clip of DATA by a signer the index does not hold is a query: "known" when the index holds its gloss,
"not in the index" otherwise (DATA's other glosses; _idle left out). Prints, for both, the share of each
verdict of retrieval/confidence.py, and the nearest gloss's top-1 among the known queries of each verdict.
Backs the README's "Search and practice".

    python -m results.unknown_calibration [--index pretrained/index.npz] [--checkpoint pretrained/model.pt]
        [--data ../shared/data/signs/asl.npz]
"""
from pathlib import Path

import numpy as np

from datasets import read_signs
from results.practice_calibration import open_pretrained
from retrieval.confidence import VERDICT_TEXT, VERDICTS, match_verdict, verdict_thresholds
from retrieval.embedding import embed_signs, hands_detected


def unseen_queries(data, index):
    """The clips of ``data`` with a hand, not _idle, by signers ``index`` does not hold."""
    keep = hands_detected(data) & (data.labels != "_idle")
    if index.signers is not None and data.signers is not None:
        keep &= ~np.isin(data.signers, index.signers)
    return data.subset(np.flatnonzero(keep))


def main():
    args, index, model = open_pretrained(__doc__)
    queries = unseen_queries(read_signs(args.data), index)
    glosses, distances = index.nearest_glosses(embed_signs(model, queries, "cpu"), 1)
    verdicts = np.array([match_verdict(d, index.score_quantiles) for d in distances[:, 0]])
    known = np.isin(queries.labels, index.glosses)
    right = glosses[:, 0] == queries.labels
    uncertain_from, unknown_from = verdict_thresholds(index.score_quantiles)
    print(f"verdicts of {Path(args.index).name}: uncertain from distance {uncertain_from:.3f}, "
          f"no sign I know from {unknown_from:.3f}")
    for name, chosen in (("known", known), ("not in the index", ~known)):
        signers = "signers unknown" if queries.signers is None else f"{len(np.unique(queries.signers[chosen]))} signers"
        shares = ", ".join(f"{VERDICT_TEXT[v]} {100 * (verdicts[chosen] == v).mean():.1f}%" for v in VERDICTS)
        glosses = len(np.unique(queries.labels[chosen]))
        print(f"  {chosen.sum()} clips of {glosses} glosses {name} ({signers}): {shares}")
    top1 = ", ".join(f"{VERDICT_TEXT[v]} {100 * right[known & (verdicts == v)].mean():.1f}%" for v in VERDICTS
                     if (known & (verdicts == v)).any())
    print(f"  top-1 of the known clips, by verdict: {top1} (all: {100 * right[known].mean():.1f}%)")


if __name__ == "__main__":
    main()
