"""Metrics, splits and the raw-keypoint baseline on small hand-made inputs whose right answers are known."""
import numpy as np
import pytest
import torch

from datasets.splits import k_shot_selection, signer_folds, signer_or_stratified_split
from models.raw_keypoints import RawKeypointEmbedding
from retrieval import metrics
from retrieval.metrics import (mean_average_precision, nearest_class_accuracy, rank_classes, retrieval_scores,
                               silhouette)
from utils.errors import DataError

# References on a line: class 0 at x=0 and x=10, class 1 at x=3, class 2 at x=6.
REFERENCE = np.array([[0.0], [10.0], [3.0], [6.0]])
REFERENCE_IDS = np.array([0, 0, 1, 2])


def test_rank_classes_orders_classes_by_their_nearest_clip():
    ranked = rank_classes(np.array([[9.0], [4.0]]), REFERENCE, REFERENCE_IDS, 3).numpy()
    assert ranked.tolist() == [[0, 2, 1], [1, 2, 0]]


def test_rank_classes_pads_with_minus_one_past_the_known_classes():
    assert rank_classes(np.array([[2.0]]), REFERENCE, REFERENCE_IDS, 5).numpy().tolist() == [[1, 0, 2, -1, -1]]


def test_top_k_counts_distinct_classes_and_skips_queries_of_unknown_classes():
    # 9 -> [0, 2, 1] (hit); 4 -> [1, 2, 0] true 2 (top-2 only); 5.5 -> [2, 1, 0] true 0 (top-3 only);
    # the class-7 query has no reference, so it is not counted.
    query = np.array([[9.0], [4.0], [5.5], [1.0]])
    result = nearest_class_accuracy(query, np.array([0, 2, 0, 7]), REFERENCE, REFERENCE_IDS, ks=(1, 2, 3))
    assert result == pytest.approx({"top1": 1 / 3, "top2": 2 / 3, "top3": 1.0})


def test_accuracy_is_nan_when_no_query_class_has_references():
    result = nearest_class_accuracy(np.array([[1.0]]), np.array([7]), REFERENCE, REFERENCE_IDS)
    assert np.isnan(result["top1"]) and np.isnan(result["top5"])


def test_retrieval_scores_give_top1_within_each_query_class_and_their_mean():
    query = np.array([[9.0], [0.5], [2.9], [5.0]])  # class 0: both right; class 1: 2.9 right, 5.0 -> class 2
    scores = retrieval_scores(query, np.array([0, 0, 1, 1]), REFERENCE, REFERENCE_IDS)
    assert scores["per_class_top1"] == {0: 1.0, 1: 0.5} and scores["class_accuracy"] == 0.75
    assert scores["top1"] == 0.75


def test_mean_average_precision_by_hand():
    # From 0.1 the references rank 0(class 0), 3(1), 6(2), 10(0): class-0 hits at ranks 1 and 4 -> (1 + 2/4) / 2.
    # From 5.9 they rank 6(2), 3(1), 10(0), 0(0): the class-1 hit at rank 2 -> 1/2.
    query, query_ids = np.array([[0.1], [5.9]]), np.array([0, 1])
    assert mean_average_precision(query, query_ids, REFERENCE, REFERENCE_IDS) == pytest.approx((0.75 + 0.5) / 2)


def test_mean_average_precision_is_one_for_separated_classes_and_nan_without_known_queries():
    reference = np.array([[0.0], [0.1], [5.0], [5.1]])
    ids = np.array([0, 0, 1, 1])
    assert mean_average_precision(np.array([[0.05], [5.05]]), ids[[0, 2]], reference, ids) == pytest.approx(1.0)
    assert np.isnan(mean_average_precision(np.array([[0.0]]), np.array([3]), reference, ids))


def test_chunked_scoring_matches_one_chunk(monkeypatch):
    rng = np.random.default_rng(0)
    query, reference = rng.normal(size=(50, 4)), rng.normal(size=(40, 4))
    query_ids, reference_ids = rng.integers(0, 6, 50), rng.integers(0, 6, 40)

    def everything():
        return (rank_classes(query, reference, reference_ids, 3).numpy(),
                mean_average_precision(query, query_ids, reference, reference_ids))

    ranked, average_precision = everything()
    monkeypatch.setattr(metrics, "QUERY_CHUNK", 7)
    chunked_ranked, chunked_average_precision = everything()
    assert (ranked == chunked_ranked).all() and average_precision == pytest.approx(chunked_average_precision)


def test_silhouette_of_tight_far_clusters_is_near_one_and_undefined_for_one_class():
    points = np.array([[0.0, 0.0], [0.0, 0.1], [9.0, 9.0], [9.0, 9.1]])
    assert silhouette(points, [0, 0, 1, 1]) > 0.95
    assert np.isnan(silhouette(points, [0, 0, 0, 0]))


def test_k_shot_selection_takes_k_per_class_or_all_of_a_small_class():
    labels = np.array(["a"] * 6 + ["b"] * 2 + ["c"] * 4)
    chosen = k_shot_selection(labels, 3, seed=1)
    assert sorted(np.unique(labels[chosen], return_counts=True)[1].tolist()) == [2, 3, 3]
    assert (chosen == k_shot_selection(labels, 3, seed=1)).all()
    draws = {tuple(k_shot_selection(labels, 1, seed=s)) for s in range(10)}
    assert len(draws) > 1


def test_split_holds_out_whole_signers_when_there_are_several():
    signers = np.repeat(["s1", "s2", "s3", "s4", "s5"], 4)
    labels = np.tile(["a", "b"], 10)
    kept, held_out, by_signer = signer_or_stratified_split(labels, signers, 2, 0.2, seed=3)
    assert by_signer and len(np.unique(signers[held_out])) == 2
    assert not set(signers[kept]) & set(signers[held_out])
    assert sorted(np.concatenate([kept, held_out]).tolist()) == list(range(20))


@pytest.mark.parametrize("signers", [None, np.repeat(["only"], 20)])
def test_split_is_stratified_without_two_signers(signers):
    labels = np.repeat(["a", "b"], 10)
    kept, held_out, by_signer = signer_or_stratified_split(labels, signers, 2, 0.2, seed=3)
    assert not by_signer
    assert np.unique(labels[held_out], return_counts=True)[1].tolist() == [2, 2]


def test_baseline_resamples_each_clip_over_its_own_length_ignoring_padding():
    ramp = torch.arange(5, dtype=torch.float32)[:, None, None].expand(5, 54, 2)  # frame t holds value t
    short = torch.stack([torch.zeros(54, 2), torch.ones(54, 2)])  # frames 0 and 1, then padding
    keypoints = torch.stack([ramp, torch.cat([short, torch.full((3, 54, 2), 99.0)])])
    padding_mask = torch.tensor([[False] * 5, [False, False, True, True, True]])
    output = RawKeypointEmbedding(output_frames=3)(keypoints, padding_mask).reshape(2, 3, 54, 2)
    assert output[0, :, 0, 0].tolist() == [0.0, 2.0, 4.0]
    assert output[1, :, 0, 0].tolist() == [0.0, 0.5, 1.0]


def test_baseline_rejects_zero_frames():
    with pytest.raises(ValueError, match="at least one output frame"):
        RawKeypointEmbedding(0)


def test_signer_folds_partition_the_signers_and_each_fold_split_holds_out_one_fold():
    signers = np.repeat([f"s{i}" for i in range(11)], 3)
    folds = signer_folds(signers, 4, seed=5)
    assert sorted(np.concatenate(folds).tolist()) == sorted(set(signers)) and [len(f) for f in folds] == [3, 3, 3, 2]
    assert [f.tolist() for f in signer_folds(signers, 4, seed=5)] == [f.tolist() for f in folds]
    held_out = []
    for fold in range(4):
        kept, held, by_signer = signer_or_stratified_split(None, signers, 0.2, 0.2, 5, fold=(fold, 4))
        assert by_signer and set(signers[held]) == set(folds[fold]) and not set(signers[kept]) & set(signers[held])
        held_out += held.tolist()
    assert sorted(held_out) == list(range(len(signers)))
    with pytest.raises(DataError, match="cannot make 12 signer folds from 11 signers"):
        signer_folds(signers, 12, seed=5)
