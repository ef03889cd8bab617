import gzip

import numpy as np
import pandas as pd
import pytest

from datasets import read_signs
from datasets.formats.spoter_csv import read_spoter_csv, write_spoter_csv
from tests.conftest import SPOTER_CSV_SAMPLE, generated_sign_data, requires
from utils import layout
from utils.errors import DataError


def _literal_lists(path):
    """The sample file read the slow, obvious way, to check the bulk parser against."""
    table = pd.read_csv(path)
    return table, {
        column: [np.array(eval(cell), dtype=np.float64) for cell in table[column]]  # noqa: S307 - test oracle
        for column in table.columns if column.endswith(("_X", "_Y"))
    }


@requires(SPOTER_CSV_SAMPLE)
def test_reads_spoter_sample_exactly():
    data = read_spoter_csv(SPOTER_CSV_SAMPLE)
    table, lists = _literal_lists(SPOTER_CSV_SAMPLE)
    assert len(data) == len(table)
    assert list(data.labels) == [str(v) for v in table["labels"]]
    for row in range(len(table)):
        clip = data.clip(row)
        for point, name in enumerate(layout.KEYPOINT_NAMES):
            if f"{name}_X" not in lists:
                continue
            x, y = lists[f"{name}_X"][row], lists[f"{name}_Y"][row]
            detected = ~((x == 0) & (y == 0))
            np.testing.assert_allclose(clip[detected, point, 0], x[detected], rtol=1e-6)
            np.testing.assert_allclose(clip[detected, point, 1], y[detected], rtol=1e-6)
            assert np.isnan(clip[~detected, point]).all()


@requires(SPOTER_CSV_SAMPLE)
def test_missing_neck_becomes_shoulder_midpoint(tmp_path):
    table = pd.read_csv(SPOTER_CSV_SAMPLE).drop(columns=["neck_X", "neck_Y"])
    path = tmp_path / "no_neck.csv"
    table.to_csv(path, index=False)
    clip = read_spoter_csv(path).clip(0)
    expected = (clip[:, layout.LEFT_SHOULDER] + clip[:, layout.RIGHT_SHOULDER]) / 2
    np.testing.assert_allclose(clip[:, layout.NECK], expected)


def test_write_then_read_round_trip_keeps_values_signers_and_missing_points(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), signers=3)
    data.keypoints[3, layout.LEFT_HAND] = np.nan
    for name in ("clips.csv", "clips.csv.gz"):
        write_spoter_csv(data, tmp_path / name, decimals=6)
        back = read_signs(tmp_path / name)
        np.testing.assert_allclose(back.keypoints, data.keypoints, atol=1e-6)
        assert list(back.labels) == list(data.labels)
        assert list(back.signers) == list(data.signers)
        assert list(back.clip_ids) == list(data.clip_ids)
    with gzip.open(tmp_path / "clips.csv.gz", "rt") as f:
        assert f.readline().startswith("labels,")


def test_second_load_comes_from_cache_and_edits_invalidate_it(tmp_path, monkeypatch):
    data = generated_sign_data(np.random.default_rng(1))
    path = tmp_path / "clips.csv"
    write_spoter_csv(data, path)
    first = read_signs(path)
    import datasets.formats.spoter_csv as module

    monkeypatch.setattr(module, "read_spoter_csv", lambda p: pytest.fail("cache missed"))
    import datasets.reading

    monkeypatch.setitem(datasets.reading.READERS, ".csv", (module.read_spoter_csv, module.READER_VERSION))
    np.testing.assert_array_equal(read_signs(path).keypoints, first.keypoints)
    path.write_text(path.read_text().replace("sign0", "sign9"))
    with pytest.raises(pytest.fail.Exception, match="cache missed"):
        read_signs(path)


def _write_sample_variant(tmp_path, edit):
    table = pd.read_csv(SPOTER_CSV_SAMPLE, dtype=str)
    edit(table)
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    return path


def _set(column, row, value):
    def edit(table):
        table.loc[row, column] = value
    return edit


def _first_value(column, row, value):
    """Replace the first number of one list cell."""
    def edit(table):
        numbers = table.loc[row, column].strip("[]").split(",")
        table.loc[row, column] = "[" + ",".join([value] + numbers[1:]) + "]"
    return edit


def _empty_row(row):
    def edit(table):
        for column in table.columns:
            if column.endswith(("_X", "_Y")):
                table.loc[row, column] = "[]"
    return edit


def _drop(*columns):
    return lambda table: table.drop(columns=list(columns), inplace=True)


BAD_INPUTS = [
    ("not a list", _set("nose_X", 2, "0.5"), r"line 4, column nose_X: expected a list"),
    ("different lengths", _set("leftWrist_Y", 1, "[0.1, 0.2]"), r"line 3, column leftWrist_Y: 2 frames"),
    ("empty sequence", _empty_row(0), r"line 2, column nose_X: empty sequence"),
    ("nan", _first_value("nose_Y", 5, "nan"), r"line 7, column nose_Y: NaN or infinite"),
    ("inf", _first_value("nose_X", 0, "inf"), r"line 2, column nose_X: NaN or infinite"),
    ("not a number", _first_value("nose_X", 3, "abc"), r"line 5, column nose_X: not a list of numbers"),
    ("missing columns", _drop("thumbTip_left_X", "labels"), r"missing column\(s\) labels, thumbTip_left_X"),
    ("empty label", _set("labels", 0, ""), r"line 2, column labels: empty label"),
]


@requires(SPOTER_CSV_SAMPLE)
@pytest.mark.parametrize("case, edit, message", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_names_file_line_and_column(tmp_path, case, edit, message):
    path = _write_sample_variant(tmp_path, edit)
    with pytest.raises(DataError, match=message) as error:
        read_signs(path)
    assert str(path) in str(error.value)


def test_stray_text_after_the_last_number_of_a_column_is_refused(tmp_path):
    """Found by tests/test_fuzz.py: numpy stops parsing at "0.5.5", and when that is the column's very last cell
    the count of numbers still came out right, so the clip silently read 0.5."""
    path = tmp_path / "signs.csv"
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=2, per_class=2, frames=(3, 4)), path)
    table = pd.read_csv(path, dtype=str)
    last = table["nose_X"].iloc[-1]
    table.loc[len(table) - 1, "nose_X"] = last[:-1] + ".5]"  # "[..., 0.512]" -> "[..., 0.512.5]"
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"line {len(table) + 1}, column nose_X: not a list of numbers"):
        read_spoter_csv(path)


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(DataError, match=r"nothing\.csv: file not found"):
        read_signs(tmp_path / "nothing.csv")
    (tmp_path / "clips.txt").write_text("x")
    with pytest.raises(DataError, match=r"clips\.txt: unsupported file type \.txt"):
        read_signs(tmp_path / "clips.txt")


def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    data = generated_sign_data(np.random.default_rng(2))
    path = tmp_path / "clips.csv"
    write_spoter_csv(data, path)
    before = path.read_bytes()

    def killed_mid_write(self, target, **options):
        with open(target, "w") as f:
            f.write("labels,nose_X\n1,[0.1")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        write_spoter_csv(data, path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp")), "a temporary file was left behind"
