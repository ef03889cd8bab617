"""Readers validate what they read: damaged files, broken archive structure, values float32 cannot hold,
clips with nothing in them, repeated columns, truncated .pose files; and say what they know (gloss names,
unknown signers). The commands end bad input in one line, before any work, and say when their figures mean
little. Inputs are GENERATED, except the real .pose fixtures."""
import gc
import gzip
import json
import logging
import warnings

import numpy as np
import pandas as pd
import pytest

import evaluate
import preprocess
import train
from datasets import build_dataset, read_signs
from datasets.formats.spoter_csv import write_spoter_csv
from tests.conftest import SHARED_DATA, generated_sign_data, requires
from training.recipe import RecipeConfig
from utils import layout
from utils.cli import run_command
from utils.errors import DataError

POSE = SHARED_DATA / "pose-fixtures" / "mediapipe.pose"


def archive_arrays(clips=4, frames=5):
    rng = np.random.default_rng(0)
    return dict(keypoints=rng.uniform(0.2, 0.8, (clips * frames, 75, 2)).astype(np.float16),
                offsets=np.arange(0, clips * frames + 1, frames), label=np.array(["a", "b"] * (clips // 2)),
                signer=np.array(["s1", "s2"] * (clips // 2)), clip=np.array([f"c{i}" for i in range(clips)]))


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "signs.csv"
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=2, per_class=3), path)
    return path


def test_truncated_compressed_csv_is_one_error(tmp_path, csv_file):
    packed = gzip.compress(csv_file.read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: cannot be decompressed: truncated or damaged"):
        read_signs(tmp_path / "cut.csv.gz")
    (tmp_path / "plain.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"plain\.csv\.gz: cannot be decompressed"):
        read_signs(tmp_path / "plain.csv.gz")


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(offsets=np.array([0, 5, 10, 15, 99])), "offsets must run from 0 to the 20 frames"),
    (lambda a: a.update(offsets=np.array([0, 10, 5, 15, 20])), r"offsets must increase .* clip 1 \(c1\)"),
    (lambda a: a.update(offsets=np.array([0.0, 5, 10, 15, 20])), "array offsets: expected integers"),
    (lambda a: a.update(keypoints=a["keypoints"].astype(str)), "array keypoints: expected floating-point"),
    (lambda a: a.update(label=np.array([{"a": 1}] * 4, dtype=object)), "array label cannot be read"),
    (lambda a: a.update(keypoints=np.full((20, 75, 2), 1e39)), r"clip c0: infinite value or one beyond float32"),
    (lambda a: a.pop("signer"), "missing array"),
])
def test_npz_structure_is_checked(tmp_path, change, message):
    arrays = archive_arrays()
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        read_signs(tmp_path / "bad.npz")


def test_truncated_npz_is_one_error(tmp_path):
    np.savez(tmp_path / "whole.npz", **archive_arrays(clips=40))
    data = (tmp_path / "whole.npz").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(DataError, match=r"cut\.npz: (not a readable|array \w+ cannot be read)"):
            read_signs(tmp_path / "cut.npz", cache_dir=False)


def test_a_csv_value_beyond_float32_names_line_and_column(tmp_path, csv_file):
    table = pd.read_csv(csv_file)
    table.loc[1, "nose_X"] = "[" + ", ".join(["1e39"] * len(eval(table.loc[1, "nose_X"]))) + "]"  # noqa: S307
    table.to_csv(tmp_path / "huge.csv", index=False)
    with pytest.raises(DataError, match=r"huge\.csv: line 3, column nose_X: value beyond float32's range"):
        read_signs(tmp_path / "huge.csv")


def test_clips_with_nothing_detected_or_one_repeated_value_are_dropped_and_counted(tmp_path, caplog):
    data = generated_sign_data(np.random.default_rng(0), classes=2, per_class=3)
    data.keypoints[data.offsets[0]:data.offsets[1]] = np.nan      # clip 0: nothing detected
    data.keypoints[data.offsets[1]:data.offsets[2]] = 0.25        # clip 1: every value the same
    write_spoter_csv(data, tmp_path / "some.csv")
    with caplog.at_level(logging.WARNING):
        kept = read_signs(tmp_path / "some.csv")
    assert len(kept) == len(data) - 2 and list(kept.clip_ids) == list(data.clip_ids[2:])
    assert "dropped 2 of 6 clips: nothing detected in 1, every value the same in 1" in caplog.text
    data.keypoints[:] = np.nan
    write_spoter_csv(data, tmp_path / "none.csv")
    with pytest.raises(DataError, match=r"none\.csv: no usable clip among its 6: nothing detected in 6$"):
        read_signs(tmp_path / "none.csv")


def test_an_unusable_clip_count_names_only_the_reasons_that_occur(tmp_path, caplog):
    data = generated_sign_data(np.random.default_rng(0), classes=2, per_class=3)
    data.keypoints[data.offsets[1]:data.offsets[2]] = 0.25  # every value the same, and nothing undetected
    write_spoter_csv(data, tmp_path / "flat.csv")
    with caplog.at_level(logging.WARNING):
        read_signs(tmp_path / "flat.csv")
    assert "dropped 1 of 6 clips: every value the same in 1" in caplog.text and " in 0" not in caplog.text


def test_a_repeated_column_must_repeat_its_values(tmp_path, csv_file):
    table = pd.read_csv(csv_file)
    table.insert(len(table.columns), "labels_again", table["labels"])
    table.columns = list(table.columns[:-1]) + ["labels"]
    table.to_csv(tmp_path / "same.csv", index=False)
    assert (tmp_path / "same.csv").read_text().splitlines()[0].split(",").count("labels") == 2
    assert len(read_signs(tmp_path / "same.csv")) == len(table)
    table.iloc[1, -1] = "other"
    table.to_csv(tmp_path / "differ.csv", index=False)
    with pytest.raises(DataError, match=r"differ\.csv: column labels appears twice with different values \(first at "
                                        r"line 3\)"):
        read_signs(tmp_path / "differ.csv")


@requires(POSE)
@pytest.mark.parametrize("cut", [7, 1000, 50_000])
def test_a_truncated_pose_file_is_refused_not_read_short(tmp_path, cut):
    (tmp_path / "sign").mkdir()
    damaged = tmp_path / "sign" / "cut.pose"
    damaged.write_bytes(POSE.read_bytes()[:-cut])
    with pytest.raises(DataError, match=r"cut\.pose: (its header states 170 frames|not a readable \.pose file)"):
        read_signs(damaged)


def test_integer_labels_get_gloss_names_from_the_json_beside_the_csv(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), classes=2, per_class=3)
    numbered = data.subset(np.arange(len(data)))
    numbered.labels = np.where(data.labels == "sign0", "19", "7")
    write_spoter_csv(numbered, tmp_path / "wlasl.csv")
    assert sorted(set(read_signs(tmp_path / "wlasl.csv").labels)) == ["19", "7"]
    (tmp_path / "id_to_label.json").write_text(json.dumps({"7": "book", "19": "black", "3": "go"}))
    assert sorted(set(read_signs(tmp_path / "wlasl.csv").labels)) == ["black", "book"]
    (tmp_path / "id_to_label.json").write_text(json.dumps({"7": "book"}))
    with pytest.raises(DataError, match=r"wlasl\.csv: label\(s\) 19 are not in id_to_label\.json"):
        read_signs(tmp_path / "wlasl.csv")


def test_a_file_without_signers_is_reported_as_signers_unknown(tmp_path, capsys):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6)
    write_spoter_csv(data, tmp_path / "anonymous.csv")
    results = evaluate.run(evaluate.get_args_parser().parse_args(
        ["--baseline_only", "--data", str(tmp_path / "anonymous.csv"), "--k_shot", ""]))
    assert results[0]["protocol"]["signers"] == "unknown" and not results[0]["protocol"]["cross_signer"]
    printed = capsys.readouterr().out
    assert "signers unknown" in printed and "same signer" not in printed
    assert layout.NUM_KEYPOINTS == 54


def one_line_error(capsys, main, argv):
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1 and "Traceback" not in error, error
    return error


@pytest.mark.parametrize("filters", [["--exclude_labels", "sign0,sign1,sign2"],
                                     ["--signers", "signer0", "--exclude_labels", "sign0,sign1,sign2"]])
def test_convert_with_filters_that_leave_no_clip_names_the_filters(tmp_path, capsys, filters):
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=3, per_class=4, signers=2),
                     tmp_path / "signs.csv")
    error = one_line_error(capsys, preprocess.main, ["convert", tmp_path / "signs.csv", tmp_path / "out.csv"] + filters)
    assert f"signs.csv: no clip is left after {' '.join(filters)}; nothing to convert" in error
    assert not (tmp_path / "out.csv").exists()


def test_a_single_query_clip_and_k_shot_beyond_a_class_are_said_in_the_output_and_the_json(tmp_path, capsys):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=4)
    write_spoter_csv(data, tmp_path / "reference.csv")
    write_spoter_csv(data.subset([5]), tmp_path / "one.csv")
    evaluate.main(["--baseline_only", "--reference", str(tmp_path / "reference.csv"), "--query",
                   str(tmp_path / "one.csv"), "--k_shot", "2,9", "--json", str(tmp_path / "out.json")])
    printed = capsys.readouterr().out
    assert "warning: one.csv: only 1 scored query clip(s), each moving top-1 by 100 points" in printed
    assert "mean little" in printed
    assert "warning: one.csv: --k_shot 9: 3 of the 3 reference classes have fewer than 9 clips" in printed
    assert "--k_shot 2" not in printed  # 4 clips a class: 2-shot is what it says
    (result,) = json.loads((tmp_path / "out.json").read_text())["sets"]
    assert result["protocol"]["k_shot_short_classes"] == {"2": 0, "9": 3}
    assert len(result["warnings"]) == 2 and "only 1 scored query clip" in result["warnings"][0]


def test_an_unwritable_cache_warns_once_and_no_command_stops(tmp_path, capsys, caplog):
    (tmp_path / "file").write_text("not a folder")
    cache = tmp_path / "file" / "cache"  # cannot be made, as for root a folder without write permission can
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=3, per_class=6), tmp_path / "signs.csv")
    with caplog.at_level(logging.WARNING):
        evaluate.main(["--baseline_only", "--data", str(tmp_path / "signs.csv"), "--k_shot", "",
                       "--cache_dir", str(cache)])
        preprocess.main(["convert", str(tmp_path / "signs.csv"), str(tmp_path / "copy.csv"), "--cache_dir", str(cache)])
        build_dataset(RecipeConfig.from_args(train.get_args_parser().parse_args(
            ["--training_set_path", str(tmp_path / "signs.csv"), "--batch_size", "4", "--cache_dir", str(cache)])))
    assert "signs.csv" in capsys.readouterr().out and len(read_signs(tmp_path / "copy.csv")) == 18
    warned = [r.getMessage() for r in caplog.records if "cache cannot be used" in r.getMessage()]
    assert len(warned) == 1 and "is a file" not in warned[0] and "Not a directory" in warned[0], warned


@pytest.mark.parametrize("where", ["folder", "under a file"])
def test_evaluate_output_paths_are_checked_before_the_work(tmp_path, capsys, monkeypatch, where):
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=3, per_class=6), tmp_path / "signs.csv")
    (tmp_path / "file").write_text("not a folder")
    output = tmp_path if where == "folder" else tmp_path / "file" / "out.json"
    monkeypatch.setattr(evaluate, "build_embedders", lambda *args: pytest.fail("evaluated before checking --json"))
    for flag in ("--json", "--plot"):
        error = one_line_error(capsys, evaluate.main, ["--baseline_only", "--data", tmp_path / "signs.csv",
                                                       flag, output])
        assert error.startswith(f"evaluate.py: error: {flag} {output}: ")
        assert ("is a folder" if where == "folder" else "is a file, so nothing can be written under it") in error


def test_a_truncated_npz_or_damaged_cache_entry_leaves_no_file_open(tmp_path):
    np.savez(tmp_path / "whole.npz", **archive_arrays(clips=40))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:500])
    cache = tmp_path / "cache"
    read_signs(tmp_path / "whole.npz", cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:200])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(DataError, match="cut.npz"):
            read_signs(tmp_path / "cut.npz", cache_dir=False)
        assert len(read_signs(tmp_path / "whole.npz", cache)) == 40  # the damaged entry is parsed again
        gc.collect()  # an unclosed file warns when it is collected
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], [str(w.message) for w in caught]


def write_mp_data(folder, classes=2, per_class=3, frames=6):
    """GENERATED MP_Data sequences (pose and both hands, 258 values a frame), one folder per class."""
    rng = np.random.default_rng(0)
    for label in range(classes):
        for sequence in range(per_class):
            clip = folder / f"sign{label}" / str(sequence)
            clip.mkdir(parents=True)
            for frame in range(frames):
                np.save(clip / f"{frame}.npy", rng.uniform(0.2, 0.8, 258))
    return folder


def test_no_progress_hides_the_reading_bar_and_a_bar_never_holds_the_error_line(tmp_path, capsys):
    folder = write_mp_data(tmp_path / "MP_Data")
    flags = ["--training_set_path", str(folder), "--validation_set_path", str(folder), "--batch_size", "4"]
    build_dataset(RecipeConfig.from_args(train.get_args_parser().parse_args(flags)))
    assert "reading clips" in capsys.readouterr().err  # the bar is shown by default ...
    build_dataset(RecipeConfig.from_args(train.get_args_parser().parse_args(flags + ["--no_progress"])))
    assert "reading clips" not in capsys.readouterr().err  # ... and not with --no_progress
    np.save(folder / "sign1" / "0" / "2.npy", np.zeros(100))  # a frame of the wrong size
    error = one_line_error(capsys, lambda argv: run_command(train.main, train.get_args_parser(), argv),
                           flags + ["--output_dir", tmp_path / "runs"])
    # The message is printed while the error (and the reader's bar) is alive: the bar must be cleared by then.
    before = error[:error.index("train.py: error: ")]
    assert before == "" or before.endswith(("\r", "\n")), repr(error)
    assert "2.npy: 100 values" in error
