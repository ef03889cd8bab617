"""Path resolution, conversion to SPOTER CSV, and training sets whose validation classes training never saw
(GENERATED data)."""
import numpy as np
import pytest
import torch

import preprocess
from datasets import build_dataset, read_signs, resolve_path
from datasets.clip_dataset import ClipDataset
from datasets.formats.spoter_csv import write_spoter_csv
from models import build_model
from tests.conftest import ASL_NPZ, TINY_MODEL_CONFIG, generated_sign_data
from tests.test_bad_inputs import archive_arrays
from training.engine import evaluate
from train import get_args_parser
from training.recipe import RecipeConfig
from utils.errors import DataError


def test_base_data_folder_resolution(tmp_path, monkeypatch):
    (tmp_path / "base" / "WLASL100").mkdir(parents=True)
    (tmp_path / "base" / "WLASL100" / "train.csv").write_text("x")
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "train.csv").write_text("y")
    monkeypatch.setenv("BASE_DATA_FOLDER", str(tmp_path / "base"))
    monkeypatch.chdir(tmp_path)
    assert resolve_path("train.csv", "WLASL100") == tmp_path / "base" / "WLASL100" / "train.csv"
    assert resolve_path("here/train.csv", "WLASL100") == tmp_path.joinpath("here", "train.csv").relative_to(tmp_path)
    assert resolve_path("train.csv", "WLASL100", data_folder=tmp_path / "here") == tmp_path / "here" / "train.csv"
    with pytest.raises(DataError, match=r"val\.csv: file not found \(also looked for .*base/WLASL100/val\.csv\)"):
        resolve_path("val.csv", "WLASL100")
    monkeypatch.delenv("BASE_DATA_FOLDER")
    with pytest.raises(DataError, match=r"also looked for data/WLASL100/val\.csv"):
        resolve_path("val.csv", "WLASL100")


def test_convert_keeps_values_labels_signers_and_applies_its_filters(tmp_path):
    arrays = archive_arrays(clips=12)
    arrays["label"] = np.array(["a", "b", "_idle"] * 4)
    arrays["signer"] = np.array(["s1", "s2", "s3"] * 2 + ["s1", "s1", "s1", "s2", "s2", "s2"])
    np.savez(tmp_path / "signs.npz", **arrays)
    source = read_signs(tmp_path / "signs.npz")
    preprocess.main(["convert", str(tmp_path / "signs.npz"), str(tmp_path / "all.csv.gz"), "--decimals", "6"])
    converted = read_signs(tmp_path / "all.csv.gz")
    kept = source.labels != "_idle"  # dropped by default (--exclude_labels _idle)
    assert list(converted.labels) == list(source.labels[kept]) and list(converted.signers) == list(source.signers[kept])
    assert list(converted.clip_ids) == list(source.clip_ids[kept])
    np.testing.assert_allclose(converted.keypoints, source.subset(np.flatnonzero(kept)).keypoints, atol=1e-6)

    preprocess.main(["convert", str(tmp_path / "signs.npz"), str(tmp_path / "some.csv"), "--signers", "s1",
                     "--max_per_class", "1", "--exclude_labels", ""])
    some = read_signs(tmp_path / "some.csv")
    assert set(some.signers) == {"s1"} and sorted(some.labels) == ["_idle", "a", "b"]  # one clip per class
    with pytest.raises(SystemExit):
        preprocess.main(["convert", str(tmp_path / "signs.npz"), str(tmp_path / "x.csv"), "--signers", "nobody"])


def test_validation_classes_unseen_in_training_get_their_own_ids_and_do_not_count(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), classes=4, per_class=6)
    seen = np.flatnonzero(data.labels != "sign3")
    write_spoter_csv(data.subset(seen[::2]), tmp_path / "train.csv")
    write_spoter_csv(data.subset(np.concatenate([seen[1::2], np.flatnonzero(data.labels == "sign3")])),
                     tmp_path / "val.csv")
    args = get_args_parser().parse_args(["--training_set_path", str(tmp_path / "train.csv"), "--validation_set_path",
                                         str(tmp_path / "val.csv"), "--batch_size", "4"])
    sets = build_dataset(RecipeConfig.from_args(args))
    assert sets.class_names == ["sign0", "sign1", "sign2", "sign3"]  # the unseen class comes after the seen ones
    validation_ids = sets.class_ids(sets.validation.labels)
    assert set(validation_ids[sets.validation.labels == "sign3"]) == {3}
    torch.manual_seed(0)
    model = build_model(TINY_MODEL_CONFIG)
    train_set = ClipDataset(sets.train, sets.class_ids(sets.train.labels))
    with_unseen = evaluate(model, train_set, ClipDataset(sets.validation, validation_ids), "cpu")
    seen_only = np.flatnonzero(validation_ids != 3)
    without = evaluate(model, train_set, ClipDataset(sets.validation.subset(seen_only), validation_ids[seen_only]),
                       "cpu")
    assert with_unseen["val_top1"] == without["val_top1"] and with_unseen["val_top5"] == without["val_top5"]
    assert with_unseen["silhouette_val"] != without["silhouette_val"]  # the silhouette does see every clip


def test_british_letters_become_their_own_classes_and_nothing_else_changes():
    from datasets.filters import filter_signs

    data = generated_sign_data(np.random.default_rng(0), classes=2, per_class=4, signers=2)
    data.labels = np.array(["letter_a"] * 4 + ["hello"] * 4)
    british = filter_signs(data, bsl_letters=["signer1"])
    expected = np.where((data.signers == "signer1") & (data.labels == "letter_a"), "bsl_letter_a", data.labels)
    assert british.labels.tolist() == expected.tolist() and (british.labels == "bsl_letter_a").sum() == 2
    np.testing.assert_array_equal(british.keypoints, data.keypoints)
    assert filter_signs(data, bsl_letters=[]).labels.tolist() == data.labels.tolist()
    assert filter_signs(data, exclude_labels=["bsl_letter_a"], bsl_letters=["signer1"]).labels.tolist().count(
        "letter_a") == 2


@pytest.mark.skipif(not ASL_NPZ.exists(), reason="needs ../shared/data")
def test_the_default_british_fingerspeller_spells_with_two_hands():
    """The default of --bsl_letters is a fact about asl.npz: its letters, unlike the others', show both hands."""
    from utils import layout
    from utils.settings import BSL_FINGERSPELLERS

    data = read_signs(ASL_NPZ)
    letters = np.char.startswith(data.labels.astype(str), "letter_")
    for signer in np.unique(data.signers[letters]):
        frames = np.concatenate([data.clip(i) for i in np.flatnonzero(letters & (data.signers == signer))])
        seen = [~np.isnan(frames[:, hand, 0]).all(axis=1) for hand in (layout.LEFT_HAND, layout.RIGHT_HAND)]
        both = float((seen[0] & seen[1]).mean())
        assert (both > 0.5) == (signer in BSL_FINGERSPELLERS), (signer, both)
