"""Property-based fuzzing of the entry points (Hypothesis): malformed SPOTER CSVs, MediaPipe archives and .pose
files, and flag values, all GENERATED from small valid inputs. Every run must end cleanly, or with exit code 2
and one line naming the problem: never a traceback (any other exception fails the test with its own), and
never a changed input file. The entry points run in-process, so each example takes milliseconds.

Inputs tried per run (``derandomize``: the same ones every time): CSV 60, npz 40, .pose 25, evaluate.py
flags 40, preprocess.py flags 20, train.py flags 15 = 200.
"""
import contextlib
import gzip
import hashlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evaluate
import preprocess
import train
from datasets.formats.spoter_csv import write_spoter_csv
from tests.conftest import SHARED_DATA, generated_sign_data, requires

POSE = SHARED_DATA / "pose-fixtures" / "mediapipe.pose"
def fuzz(examples):
    """Seeded (the same inputs every run), no deadline, nothing stored between runs."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def clean_run_or_one_line(main, argv, inputs):
    """Run ``main(argv)``; the outcome must be a clean return or exit 2 with one error line on stderr, and the
    files in ``inputs`` must be unchanged. Any other exception propagates (with its traceback: a bug)."""
    before = {path: digest(path) for path in inputs}
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as stop:
            code = stop.code
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert code in (0, None) or (code == 2 and len(errors) == 1 and errors == lines[-1:]), (code, lines)
    assert "Traceback" not in stderr.getvalue()
    assert {path: digest(path) for path in inputs} == before, "an input file changed"
    return code


def valid_csv_text():
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "signs.csv"
        data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=4, signers=2, frames=(3, 6))
        write_spoter_csv(data, path, decimals=3)
        return path.read_text()


VALID_CSV = valid_csv_text()
CELL_TEXT = st.one_of(st.sampled_from(["", "[]", "[1e39, 1]", "[nan]", "[inf, -inf]", "[0, 0, 0]", "x", "[1,,2]",
                                       "[[1]]", "[1e-320]", "['a']", "[1, 2", "1, 2]"]),
                      st.text(max_size=12))


@st.composite
def malformed_csv(draw):
    lines = VALID_CSV.splitlines()
    kind = draw(st.sampled_from(["cell", "truncate", "drop_column", "repeat_column", "header", "gzip_truncate",
                                 "label", "bytes"]))
    header = lines[0].split(",")
    if kind == "cell":
        row = draw(st.integers(1, len(lines) - 1))
        cells = _cells(lines[row])
        cells[draw(st.integers(0, len(cells) - 1))] = draw(CELL_TEXT)
        lines[row] = ",".join(f'"{c}"' if "," in c else c for c in cells)
    elif kind == "truncate":
        return "csv", VALID_CSV[: draw(st.integers(0, len(VALID_CSV)))].encode()
    elif kind == "drop_column":
        column = draw(st.integers(0, len(header) - 1))
        lines = [",".join(cells[:column] + cells[column + 1:]) for cells in map(_quoted_cells, lines)]
    elif kind == "repeat_column":
        column = draw(st.integers(0, len(header) - 1))
        other = draw(st.integers(1, len(lines) - 1))
        rows = [_quoted_cells(line) for line in lines]
        rows = [cells + [cells[column] if i != other else '"[0.5]"'] for i, cells in enumerate(rows)]
        lines = [",".join(cells) for cells in rows]
    elif kind == "header":
        lines[0] = draw(st.text(max_size=40))
    elif kind == "gzip_truncate":
        packed = gzip.compress(VALID_CSV.encode())
        return "csv.gz", packed[: draw(st.integers(0, len(packed) - 1))]
    elif kind == "label":
        row = draw(st.integers(1, len(lines) - 1))
        cells = _quoted_cells(lines[row])
        cells[0] = draw(st.sampled_from(['""', "_idle", "7", "-1", "é"]))
        lines[row] = ",".join(cells)
    else:
        data = bytearray(VALID_CSV.encode())
        for _ in range(draw(st.integers(1, 5))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return "csv", bytes(data)
    return "csv", ("\n".join(lines) + "\n").encode()


def _quoted_cells(line):
    """A CSV line's cells, keeping their quotes (the generated file quotes every list cell)."""
    cells, current, quoted = [], "", False
    for char in line:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            cells.append(current)
            current = ""
        else:
            current += char
    return cells + [current]


def _cells(line):
    return [cell.strip('"') for cell in _quoted_cells(line)]


def archive(clips=6, frames=4):
    rng = np.random.default_rng(0)
    return dict(keypoints=rng.uniform(0.2, 0.8, (clips * frames, 75, 2)).astype(np.float16),
                offsets=np.arange(0, clips * frames + 1, frames), label=np.array(["a", "b", "c"] * (clips // 3)),
                signer=np.array(["s1", "s2"] * (clips // 2)), clip=np.array([f"c{i}" for i in range(clips)]))


@st.composite
def malformed_npz(draw):
    arrays = archive()
    kind = draw(st.sampled_from(["offsets", "keypoints", "drop", "dtype", "object", "truncate", "shape"]))
    if kind == "offsets":
        arrays["offsets"] = np.array(draw(st.lists(st.integers(-5, 40), min_size=0, max_size=9)), dtype=np.int64)
    elif kind == "keypoints":
        value = draw(st.sampled_from([1e39, -1e39, np.inf, np.nan, 0.0, 0.5]))
        arrays["keypoints"] = np.full(arrays["keypoints"].shape, value)
    elif kind == "drop":
        arrays.pop(draw(st.sampled_from(sorted(arrays))))
    elif kind == "dtype":
        name = draw(st.sampled_from(sorted(arrays)))
        dtype = draw(st.sampled_from(["U3", "int8", "float64", "bool"]))
        try:
            arrays[name] = arrays[name].astype(dtype)
        except ValueError:  # text that is no number: a zero array of that type instead
            arrays[name] = np.zeros(arrays[name].shape, dtype=dtype)
    elif kind == "object":
        arrays[draw(st.sampled_from(sorted(arrays)))] = np.array([{"a": 1}] * 6, dtype=object)
    elif kind == "shape":
        name = draw(st.sampled_from(sorted(arrays)))
        arrays[name] = arrays[name].reshape(-1)[: draw(st.integers(0, 12))]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    if kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    return data


def converts_cleanly_or_refuses(suffix, content):
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "class_a" / f"input.{suffix}"
        source.parent.mkdir()
        source.write_bytes(content)
        clean_run_or_one_line(preprocess.main, ["convert", source, Path(folder) / "out.csv"], [source])
        return source


@fuzz(60)
@given(malformed_csv())
def test_malformed_csv(case):
    suffix, content = case
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"signs.{suffix}"
        source.write_bytes(content)
        clean_run_or_one_line(preprocess.main, ["convert", source, Path(folder) / "out.csv"], [source])
        clean_run_or_one_line(evaluate.main, ["--baseline_only", "--data", source, "--k_shot", "1"], [source])


@fuzz(40)
@given(malformed_npz())
def test_malformed_npz(content):
    converts_cleanly_or_refuses("npz", content)


@requires(POSE)
@fuzz(25)
@given(st.data())
def test_malformed_pose(data):
    content = bytearray(POSE.read_bytes())
    kind = data.draw(st.sampled_from(["truncate", "append", "flip_body"]))
    if kind == "truncate":
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    elif kind == "append":
        content += bytes(data.draw(st.binary(min_size=1, max_size=64)))
    else:  # body values only: a damaged header could make pose-format allocate without bound
        for _ in range(data.draw(st.integers(1, 20))):
            content[data.draw(st.integers(len(content) // 2, len(content) - 1))] = data.draw(st.integers(0, 255))
    converts_cleanly_or_refuses("pose", bytes(content))


NUMBER_TEXT = st.one_of(st.sampled_from(["0", "-1", "1", "2", "0.5", "1.5", "nan", "inf", "-inf", "1e39", "x", "",
                                         "3/2", "0/5", "2/5", "-0"]),
                        st.integers(-3, 300).map(str), st.floats(allow_nan=True).map(str))


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "signs.csv"
    path.write_text(VALID_CSV)
    return path


@fuzz(40)
@given(flags=st.lists(st.tuples(st.sampled_from(["--batch_size", "--batch-size", "--seed", "--k_shot",
                                                 "--held_out_signers", "--query_fraction", "--min_signers",
                                                 "--plot_max_clips", "--baseline_frames", "--held_out_fold",
                                                 "--device", "--exclude_labels"]), NUMBER_TEXT),
                      min_size=1, max_size=3))
def test_evaluate_flag_values(small_csv, flags):
    argv = ["--baseline_only", "--data", small_csv] + [item for pair in flags for item in pair]
    clean_run_or_one_line(evaluate.main, argv, [small_csv])


@fuzz(20)
@given(flags=st.lists(st.tuples(st.sampled_from(["--max_per_class", "--decimals", "--seed", "--signers",
                                                 "--exclude_labels", "--language"]), NUMBER_TEXT),
                      min_size=1, max_size=3))
def test_preprocess_flag_values(small_csv, flags):
    with tempfile.TemporaryDirectory() as folder:
        argv = ["convert", small_csv, Path(folder) / "out.csv.gz"] + [item for pair in flags for item in pair]
        clean_run_or_one_line(preprocess.main, argv, [small_csv])


TRAIN_FLAGS = ["--lr", "--dropout", "--heads", "--hidden_dim", "--batch_size", "--seed", "--device",
               "--vector_length", "--epochs", "--mirror_prob", "--triplet_loss_margin", "--validation_fraction",
               "--validation_signers", "--temperature", "--clips_per_class", "--conv_kernel", "--num_classes",
               "--epoch_iters", "--validation_fold", "--warmup_fraction"]


@fuzz(15)
@given(flags=st.lists(st.tuples(st.sampled_from(TRAIN_FLAGS), NUMBER_TEXT), min_size=1, max_size=2))
def test_train_flag_values(small_csv, flags):
    with tempfile.TemporaryDirectory() as folder:
        argv = ["--training_set_path", small_csv, "--output_dir", folder, "--epoch_iters", "1", "--epochs", "1",
                "--hidden_dim", "8", "--heads", "2", "--feedforward_dim", "8", "--encoder_layers", "1",
                "--conv_layers", "0", "--vector_length", "4", "--batch_size", "6", "--no_progress",
                "--validation_signers", "1"]
        argv += [item for pair in flags for item in pair]
        clean_run_or_one_line(lambda a: train.run_command(train.main, train.get_args_parser(), a), argv, [small_csv])
