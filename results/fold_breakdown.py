"""Where a fold's model and the raw-keypoint baseline find the held-out signers' glosses, and where neither
does: per held-out signer and gloss, the queries, how many training sources sign the gloss, both methods'
top-1 and the model's commonest wrong answers; then the share of queries that neither method finds, and the
share in (signer, gloss) pairs of which neither finds even ``UNFOUND`` of the queries: a model that found every
query of every other pair would score one minus that share, so a higher top-1 needs pairs that no method
here finds at all. Backs "What limits these figures" in README.

``--checks`` adds three changes of the evaluation, tried on the trained model and not adopted: the model's
embedding with the baseline's appended (scaled, so each distance weighs as given), embeddings centred on
their signer's mean (which needs many unlabelled clips of the query's signer), and every clip resampled to
``--fixed_length`` frames before embedding (length marks the recording source).

    python -m results.fold_breakdown --checkpoint out-cv/recommended/fold_5/last.pt --fold 5 --checks
"""
import collections

import numpy as np

from augmentations import resample
from datasets import class_names
from datasets.sign_data import SignData
from results.letter_confusions import fold_arguments, held_out_split, top1
from models.checkpoint import load_model
from models.raw_keypoints import RawKeypointEmbedding
from retrieval.embedding import embed_signs
from retrieval.metrics import rank_classes
from utils.cli import int_list

APPENDED_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
UNFOUND = 0.1  # a (signer, gloss) pair of which a method finds fewer of the queries is one it does not find


def embed_both(model, data):
    return np.asarray(embed_signs(model, data, "cpu")), np.asarray(embed_signs(RawKeypointEmbedding(), data, "cpu"))


def held_out_top1(vectors, ids, reference, query):
    return top1(vectors[query], ids[query], vectors[reference], ids[reference])


def answers(vectors, ids, reference, query):
    return rank_classes(vectors[query], vectors[reference], ids[reference], 1)[:, 0].numpy()


def breakdown(data, ids, reference, query, model_vectors, baseline_vectors):
    names = class_names(data.labels)
    model_answer = answers(model_vectors, ids, reference, query)
    baseline_answer = answers(baseline_vectors, ids, reference, query)
    signers, truth = np.asarray(data.signers)[query], ids[query]
    print(f"{'held-out signer':40s} {'gloss':14s} {'queries':>7s} {'sources':>7s} {'model':>6s} {'raw':>6s}  "
          "model's commonest wrong answers")
    unfound = np.zeros(len(truth), dtype=bool)
    for signer in np.unique(signers):
        for gloss in np.unique(truth[signers == signer]):
            rows = (signers == signer) & (truth == gloss)
            unfound[rows] = max((model_answer[rows] == gloss).mean(), (baseline_answer[rows] == gloss).mean()) < UNFOUND
            sources = len(np.unique(np.asarray(data.signers)[reference][ids[reference] == gloss]))
            wrong = collections.Counter(names[a] for a in model_answer[rows] if a != gloss).most_common(2)
            print(f"{signer[:40]:40s} {names[gloss][:14]:14s} {rows.sum():7d} {sources:7d} "
                  f"{(model_answer[rows] == gloss).mean():6.2f} {(baseline_answer[rows] == gloss).mean():6.2f}  "
                  + ", ".join(f"{name} {count}" for name, count in wrong))
    neither = (model_answer != truth) & (baseline_answer != truth)
    print(f"\n{len(query)} queries; model top-1 {(model_answer == truth).mean():.3f}, baseline "
          f"{(baseline_answer == truth).mean():.3f}; found by neither: {neither.mean():.3f}; in (signer, gloss) "
          f"pairs of which neither finds {UNFOUND:.0%}: {unfound.mean():.3f}, so finding all of every other pair "
          f"scores {1 - unfound.mean():.3f}")


def centred_on_signer(vectors, signers, normalize):
    centred = vectors.copy()
    for signer in np.unique(signers):
        centred[signers == signer] -= centred[signers == signer].mean(axis=0)
    return centred / np.linalg.norm(centred, axis=1, keepdims=True) if normalize else centred


def median_distance(vectors, reference, query, pairs=20000, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.choice(query, pairs), rng.choice(reference, pairs)
    return float(np.median(np.linalg.norm(vectors[a] - vectors[b], axis=1)))


def checks(model, data, ids, reference, query, model_vectors, baseline_vectors, fixed_lengths):
    print(f"\nmodel {held_out_top1(model_vectors, ids, reference, query):.3f}, "
          f"baseline {held_out_top1(baseline_vectors, ids, reference, query):.3f}")
    scale = median_distance(model_vectors, reference, query) / median_distance(baseline_vectors, reference, query)
    for weight in APPENDED_WEIGHTS:
        appended = np.concatenate([model_vectors, weight * scale * baseline_vectors], axis=1)
        print(f"baseline appended at weight {weight}: {held_out_top1(appended, ids, reference, query):.3f}")
    signers = np.asarray(data.signers)
    centred_model = centred_on_signer(model_vectors, signers, True)
    centred_baseline = centred_on_signer(baseline_vectors, signers, False)
    print(f"centred per signer: model {held_out_top1(centred_model, ids, reference, query):.3f}, "
          f"baseline {held_out_top1(centred_baseline, ids, reference, query):.3f}")
    for length in fixed_lengths:
        clips = [resample(data.clip(i), length) for i in range(len(data.labels))]
        fixed = SignData.from_clips(clips, data.labels, data.clip_ids, data.signers, data.languages)
        model_fixed, baseline_fixed = embed_both(model, fixed)
        print(f"every clip resampled to {length} frames: "
              f"model {held_out_top1(model_fixed, ids, reference, query):.3f}, "
              f"baseline {held_out_top1(baseline_fixed, ids, reference, query):.3f}")


def main():
    parser = fold_arguments(__doc__)
    parser.add_argument("--checkpoint", required=True, help="a fold's last.pt (cross_validate.py)")
    parser.add_argument("--checks", action="store_true", help="also score the three evaluation changes")
    parser.add_argument("--fixed_length", type=int_list, default=[20, 30], help="with --checks: frame counts")
    args = parser.parse_args()
    data, ids, reference, query = held_out_split(args)
    model, _ = load_model(args.checkpoint)
    model_vectors, baseline_vectors = embed_both(model, data)
    breakdown(data, ids, reference, query, model_vectors, baseline_vectors)
    if args.checks:
        checks(model, data, ids, reference, query, model_vectors, baseline_vectors, args.fixed_length)


if __name__ == "__main__":
    main()
