"""Several data files as one set, signer-balanced epochs and gloss groups (GENERATED data)."""
import json
from dataclasses import replace

import numpy as np
import pytest

import cross_validate
import evaluate
from datasets import build_dataset, read_sign_files
from datasets.clip_dataset import bucketed_epoch_order, epoch_clip_count, epoch_clips, epoch_order
from datasets.filters import gloss_groups
from datasets.formats.spoter_csv import write_spoter_csv
from tests.conftest import generated_sign_data
from tests.test_bad_inputs import archive_arrays
from tests.test_cross_validate import TINY
from train import get_args_parser
from training.recipe import RecipeConfig
from utils.errors import DataError


def write_archive(path, labels, signers, language="ASL"):
    arrays = archive_arrays(clips=len(labels))
    arrays.update(label=np.array(labels), signer=np.array(signers), language=np.array([language] * len(labels)),
                  clip=np.array([f"{path.stem}-{i}" for i in range(len(labels))]))
    np.savez(path, **arrays)
    return path


def test_files_join_in_one_label_space_with_signers_kept_apart_per_file(tmp_path):
    first = write_archive(tmp_path / "one.npz", ["a", "b", "a", "b"], ["ann", "bob", "ann", "bob"])
    second = write_archive(tmp_path / "two.npz", ["b", "c", "b", "c"], ["bob", "cy", "bob", "cy"])
    joined = read_sign_files(f"{first},{second}")
    assert len(joined) == 8 and joined.offsets[-1] == len(joined.keypoints)
    np.testing.assert_array_equal(joined.clip(5), read_sign_files(str(second)).clip(1))
    assert sorted(set(joined.labels)) == ["a", "b", "c"]
    # "bob" of one file is not "bob" of the other: each keeps his own name, prefixed by his file.
    assert sorted(set(joined.signers)) == ["ann", "cy", "one/bob", "two/bob"]


def test_class_numbers_do_not_join_glosses_and_the_file_is_named(tmp_path):
    numbered = tmp_path / "numbered.csv"
    data = generated_sign_data(np.random.default_rng(0), classes=2, per_class=2)
    write_spoter_csv(replace(data, labels=np.array(["0", "0", "1", "1"])), numbered)
    named = write_archive(tmp_path / "named.npz", ["a", "b"], ["s1", "s2"])
    with pytest.raises(DataError, match=r"numbered\.csv: labels are class numbers, which cannot be joined with the "
                                        r"glosses of .*named\.npz"):
        read_sign_files([named, numbered])


def test_the_same_gloss_in_two_languages_trains_as_two_classes(tmp_path):
    asl = write_archive(tmp_path / "asl.npz", ["hello", "bye"] * 4, ["s1", "s1", "s2", "s2"] * 2)
    lsm = write_archive(tmp_path / "lsm.npz", ["hello", "bye"] * 4, ["m1", "m1", "m2", "m2"] * 2, language="LSM")
    args = get_args_parser().parse_args(["--training_set_path", f"{asl},{lsm}", "--validation_signers", "1",
                                         "--batch_size", "4"])
    data = build_dataset(RecipeConfig.from_args(args))
    assert set(data.class_names) >= {"ASL: hello", "LSM: hello"}


def test_extra_training_files_are_trained_on_and_never_held_out(tmp_path):
    folded = write_archive(tmp_path / "folded.npz", ["a", "b"] * 6, [f"s{i % 3}" for i in range(12)])
    extra = write_archive(tmp_path / "extra.npz", ["a", "b", "c", "c"], ["x1", "x1", "x2", "x2"])
    plain = build_dataset(RecipeConfig.from_args(get_args_parser().parse_args(
        ["--training_set_path", str(folded), "--validation_fold", "2/3", "--batch_size", "4"])))
    more = build_dataset(RecipeConfig.from_args(get_args_parser().parse_args(
        ["--training_set_path", str(folded), "--extra_training_path", str(extra), "--validation_fold", "2/3",
         "--batch_size", "4"])))
    np.testing.assert_array_equal(more.validation.clip_ids, plain.validation.clip_ids)
    assert set(more.train.signers) == set(plain.train.signers) | {"x1", "x2"}
    assert "c" in more.class_names and len(more.train) == len(plain.train) + 4


def test_a_signer_balanced_epoch_draws_at_most_n_clips_of_each_signer_and_gloss_anew_each_epoch():
    class_ids = np.array([0] * 10 + [1] * 3 + [0] * 2)
    signers = np.array(["a"] * 13 + ["b"] * 2)
    assert epoch_clip_count(class_ids, signers, 2) == 6
    draws = [epoch_clips(class_ids, signers, 2, np.random.default_rng(seed)) for seed in range(20)]
    for clips in draws:
        pairs = list(zip(signers[clips], class_ids[clips]))
        assert sorted({pair: pairs.count(pair) for pair in pairs}.values()) == [2, 2, 2]
    assert len({tuple(clips) for clips in draws}) > 1  # other clips take their turn
    assert set(np.concatenate(draws)) == set(range(15))
    for order in (epoch_order(class_ids, 0, 3, 2, signers, per_pair=2),
                  bucketed_epoch_order(np.full(15, 10), class_ids, 0, 3, 4, 2, signers, per_pair=2)):
        assert len(order) == 6 and len(set(order)) == 6
    # Without a cap (or without signers) every clip comes, in the order of before.
    np.testing.assert_array_equal(np.sort(epoch_order(class_ids, 0, 3, 2, signers)), np.arange(15))
    np.testing.assert_array_equal(np.sort(epoch_order(class_ids, 0, 3, 2, None, per_pair=2)), np.arange(15))


def test_gloss_groups_tell_the_greetings_the_letters_and_the_other_words_apart():
    np.testing.assert_array_equal(gloss_groups(["hello", "letter_a", "bsl_letter_b", "thanks", "book", "iloveyou"]),
                                  ["greetings", "letters", "letters", "greetings", "words", "greetings"])


def test_evaluation_and_cross_validation_report_each_gloss_group_beside_the_whole(tmp_path):
    labels = ["hello", "letter_a", "book", "thanks"] * 6
    signers = [f"s{i // 4 % 3}" for i in range(24)]
    first = write_archive(tmp_path / "one.npz", labels[:12], signers[:12])
    second = write_archive(tmp_path / "two.npz", labels[12:], [f"t{i % 3}" for i in range(12)])
    data = f"{first},{second}"
    results = evaluate.run(evaluate.get_args_parser().parse_args(
        ["--data", data, "--baseline_only", "--by_group", "--k_shot", "", "--held_out_signers", "2"]))
    (result,) = results
    groups = result["methods"]["baseline"]["groups"]
    assert set(groups) == {"greetings", "letters", "words"}
    assert sum(group["queries"] for group in groups.values()) == result["protocol"]["scored_queries"]
    assert result["name"] == "one.npz+two.npz"

    summary = cross_validate.main(["--data", data, "--folds", "2", "--by_group", "--output", str(tmp_path / "cv"),
                                   "--name", "groups", "--"] + TINY + ["--batch_size", "4"])
    assert {"model letters", "baseline letters", "model greetings"} <= set(summary)
    lead = summary["margins"]["model words"]["top1"]
    folds = [m - b for m, b in zip(summary["model words"]["top1"]["folds"], summary["baseline words"]["top1"]["folds"])]
    assert lead["folds"] == folds and lead["min"] == min(folds)
    stored = json.loads((tmp_path / "cv" / "groups" / "fold_1.json").read_text())
    assert "groups" in stored["sets"][0]["methods"]["model"]
    curves = json.loads((tmp_path / "cv" / "groups" / "summary.json").read_text())["validation_curves"]
    for fold in ("1", "2"):
        metrics = (tmp_path / "cv" / "groups" / f"fold_{fold}" / "metrics.jsonl").read_text().splitlines()
        assert curves[fold]["top1"] == [json.loads(line)["val_top1"] for line in metrics]


def test_a_gloss_group_that_a_fold_lacks_is_left_out_of_that_folds_figures():
    def fold(model, baseline, letters=None):
        rows = {"model": dict(top1=model, top5=model, mAP=model), "baseline": dict(top1=baseline, top5=baseline,
                                                                                    mAP=baseline)}
        if letters is not None:
            rows["model letters"] = dict(top1=letters[0], top5=letters[0], mAP=float("nan"))
            rows["baseline letters"] = dict(top1=letters[1], top5=letters[1], mAP=float("nan"))
        return rows

    summary = cross_validate.summarize([fold(0.5, 0.4, (0.3, 0.2)), fold(0.7, 0.5), fold(0.6, 0.6, (0.5, 0.1))])
    assert summary["model letters"]["top1"]["folds"] == [0.3, None, 0.5]
    assert summary["model letters"]["top1"]["mean"] == pytest.approx(0.4)
    lead = summary["margins"]["model letters"]["top1"]["folds"]
    assert lead[1] is None and lead[0] == pytest.approx(0.1) and lead[2] == pytest.approx(0.4)
    assert summary["margins"]["model letters"]["top1"]["min"] == pytest.approx(0.1)
    assert summary["top1_margin"]["min"] == pytest.approx(0.0)
    (row,) = [line for line in cross_validate.table(summary, "t").splitlines() if line.startswith("model letters ") and "±" in line]
    assert row.endswith("0.300 - 0.500")
