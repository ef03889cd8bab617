"""Property-based fuzzing of every command (Hypothesis, seeded: the same inputs every run): malformed files, flag
values and combinations of inputs, all GENERATED from small valid ones, each with the one outcome it must have:
ACCEPTED (a clean run) or REFUSED (exit code 2 and one line on stderr, naming the file or flag). Never a traceback
(any other exception fails the test with its own), never a changed input file.

Commands run in-process (``main(argv)``), so a case takes milliseconds. export.py's ONNX tracing (about 20 s for
any model) is replaced by a stand-in graph with the same inputs and output: what is fuzzed here is what export.py
checks and reads (tests/test_export.py exports real graphs). serve.py binds its port but does not serve.

Every kind of input runs every time (the tests are parametrized by kind, or by flag), each on up to a few seeded
draws. Runs of each command (measured): preprocess.py about 160 (CSV, .npz and landmark files, .pose, flags),
evaluate.py 110 (the same CSVs, flags, several files), train.py 45, search.py 55, export.py 30, serve.py 20,
cross_validate.py 30: some 450, in about 25 s on 2 cores.
"""
import contextlib
import csv
import gzip
import hashlib
import io
import json
import shutil
import socket
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cross_validate
import evaluate
import export
import preprocess
import search
import serve
import train
from datasets.formats.landmarks import write_landmarks
from datasets.formats.spoter_csv import write_spoter_csv
from deploy import onnx_export
from models import build_model
from models.checkpoint import save_checkpoint
from tests.conftest import SHARED_DATA, TINY_MODEL_CONFIG, generated_sign_data, requires
from utils import layout
from web import server

POSE = SHARED_DATA / "pose-fixtures" / "mediapipe.pose"
ACCEPTED, REFUSED = "accepted", "refused"


def fuzz(examples):
    """Seeded (the same inputs every run), no deadline, nothing stored between runs."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@dataclass
class Case:
    """One run of a command and the outcome it must have; a refusal's line must contain ``names`` (the file or
    flag at fault); ``inputs`` must come out unchanged."""

    expected: str
    argv: list
    names: str = ""
    inputs: tuple = ()
    absent: tuple = ()  # paths that must not exist after the run (a refusal writes nothing)


def digest(path):
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def outcome(main, argv, inputs=()):
    """``(ACCEPTED or REFUSED, stderr lines)`` of ``main(argv)``: a clean return, or exit 2 with one error line,
    the last. Anything else fails here; an exception propagates with its traceback (a bug)."""
    before = {str(path): digest(path) for path in inputs}
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as stop:
            code = stop.code
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert "Traceback" not in stderr.getvalue()
    assert {str(path): digest(path) for path in inputs} == before, "an input file changed"
    if code in (0, None):
        assert not errors, lines
        return ACCEPTED, lines
    assert code == 2 and len(errors) == 1 and errors == lines[-1:], (code, lines)
    return REFUSED, lines


def check(main, case):
    got, lines = outcome(main, case.argv, case.inputs)
    assert got == case.expected, f"{case.argv}: expected {case.expected}, got {got}: {lines[-2:]}"
    if got == REFUSED:
        assert str(case.names) in lines[-1], f"{case.argv}: the error line does not name {case.names}: {lines[-1]}"
    assert not [path for path in case.absent if Path(path).exists()], f"{case.argv}: wrote {case.absent}"


def each(kinds):
    """Parametrize a test over ``kinds`` (generators of cases, or flags): every kind runs each time, however
    Hypothesis would have drawn among them."""
    return pytest.mark.parametrize("kind", kinds, ids=lambda kind: getattr(kind, "__name__", str(kind)))


def fuzzed(examples, run):
    """Run ``run(draw)`` on up to ``examples`` seeded draws (fewer when its inputs run out sooner)."""
    fuzz(examples)(given(st.data())(lambda data: run(data.draw)))()


def fresh(folder, name):
    """A path ``name`` in a new empty folder under ``folder``."""
    return Path(tempfile.mkdtemp(dir=folder)) / name


def parsed(kind, text):
    """``kind(text)`` as argparse parses a flag, or None when it does not parse."""
    try:
        return kind(text)
    except ValueError:
        return None


# ---- the valid inputs every case starts from (GENERATED) ----

def generated(classes=3, per_class=4, signers=2, seed=0):
    return generated_sign_data(np.random.default_rng(seed), classes=classes, per_class=per_class, signers=signers,
                               frames=(3, 6))


def csv_text(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "signs.csv"
        write_spoter_csv(data, path, decimals=3)
        return path.read_text()


VALID_CSV = csv_text(generated())  # 3 glosses (sign0-2) of 4 clips, 2 signers (signer0-1)
GLOSSES = ("sign0", "sign1", "sign2")


def without_hands(data, clips=None):
    """``data`` with no hand detected in the given clips (all by default)."""
    keypoints = data.keypoints.copy()
    for clip in range(len(data)) if clips is None else clips:
        keypoints[data.offsets[clip]:data.offsets[clip + 1], layout.LEFT_HAND.start:] = np.nan
    return replace(data, keypoints=keypoints)


def archive(clips=6, frames=4):
    """A MediaPipe archive of 6 clips, 3 glosses (a, b, c), 2 signers."""
    rng = np.random.default_rng(0)
    return dict(keypoints=rng.uniform(0.2, 0.8, (clips * frames, 75, 2)).astype(np.float16),
                offsets=np.arange(0, clips * frames + 1, frames), label=np.array(["a", "b", "c"] * (clips // 3)),
                signer=np.array(["s1", "s2"] * (clips // 2)), clip=np.array([f"c{i}" for i in range(clips)]))


def landmark_parts(frames=6, seed=0):
    rng = np.random.default_rng(seed)
    return {"pose": rng.uniform(0.3, 0.7, (frames, 33, 4)), "left_hand": rng.uniform(0.3, 0.7, (frames, 21, 3)),
            "right_hand": rng.uniform(0.3, 0.7, (frames, 21, 3))}


def write_checkpoint(path, seed=0, **config):
    torch.manual_seed(seed)
    config = dict(TINY_MODEL_CONFIG, **config)
    save_checkpoint(path, config=config, model=build_model(config).state_dict(), class_names=list(GLOSSES))
    return path


def write_stand_in_graph(model, path):
    """For export.py, in place of tracing ``model``: an ONNX graph of the export's inputs and output (the mean
    keypoints over the frames, missing points as 0), written in milliseconds."""
    from onnx import TensorProto, helper, save

    nodes = [helper.make_node("IsNaN", ["keypoints"], ["missing"]),
             helper.make_node("Where", ["missing", "zero", "keypoints"], ["filled"]),
             helper.make_node("ReduceMean", ["filled"], ["mean"], axes=[1], keepdims=0),
             helper.make_node("Reshape", ["mean", "shape"], ["embeddings"])]
    graph = helper.make_graph(
        nodes, "stand_in",
        [helper.make_tensor_value_info("keypoints", TensorProto.FLOAT, ["batch", "frames", layout.NUM_KEYPOINTS, 2]),
         helper.make_tensor_value_info("padding_mask", TensorProto.BOOL, ["batch", "frames"])],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 2 * layout.NUM_KEYPOINTS])],
        initializer=[helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
                     helper.make_tensor("shape", TensorProto.INT64, [2], [0, -1])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Valid inputs of every command, written once: data files, two tiny models, an index, an export."""
    folder = tmp_path_factory.mktemp("fuzz")
    f = SimpleNamespace(folder=folder, cache=folder / "cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPOTER_CACHE_DIR", str(f.cache))  # the tests' own cache is set per test, after this
        write_inputs(f)
    return f


def write_inputs(f):
    folder = f.folder
    f.csv = folder / "signs.csv"
    f.csv.write_text(VALID_CSV)
    f.three = folder / "three.csv"  # 3 glosses of 6 clips, 3 signers: what cross-validation folds
    three = generated(per_class=6, signers=3, seed=1)
    write_spoter_csv(three, f.three, decimals=3)
    f.numbers = folder / "numbers.csv"  # the same clips with class numbers for labels
    write_spoter_csv(replace(three, labels=np.array([str(i // 6) for i in range(len(three))])), f.numbers, decimals=3)
    f.unsigned = folder / "unsigned.csv"  # nobody named: no folds to deal
    write_spoter_csv(generated(signers=None), f.unsigned, decimals=3)
    f.no_hands = folder / "no_hands.csv"
    write_spoter_csv(without_hands(generated()), f.no_hands, decimals=3)
    f.first_without_hands = folder / "first_without_hands.csv"  # clip gen-0 has no hand
    write_spoter_csv(without_hands(generated(), [0]), f.first_without_hands, decimals=3)
    f.archive = folder / "archive.npz"
    np.savez(f.archive, **archive())
    f.landmarks = folder / "sign0" / "attempt.npz"  # one clip of preprocess.py extract, in a folder named as a gloss
    f.landmarks.parent.mkdir()
    write_landmarks(f.landmarks, landmark_parts(), 640, 480, 30.0)
    f.checkpoint = write_checkpoint(folder / "model.pt")
    f.other = write_checkpoint(folder / "other.pt", seed=1)
    f.classifier = write_checkpoint(folder / "classifier.pt", classification_model=True, num_classes=3)
    f.index = folder / "index.npz"
    search.main(["index", str(f.csv), "-o", str(f.index), "--checkpoint", str(f.checkpoint), "--cache-dir",
                 str(f.cache)])
    f.other_index = folder / "other_index.npz"
    search.main(["index", str(f.csv), "-o", str(f.other_index), "--checkpoint", str(f.other), "--cache-dir",
                 str(f.cache)])
    with np.load(f.index) as index:
        f.index_arrays = {key: index[key] for key in index.files}
    f.onnx = folder / "export" / "model.onnx"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onnx_export, "export_graph", write_stand_in_graph)
        export.main(["--checkpoint", str(f.checkpoint), "--output", str(f.onnx)])
    f.study = folder / "cv"  # a finished baseline study of three.csv, 3 folds, named "done"
    cross_validate.main(["--data", str(f.three), "--folds", "3", "--baseline_only", "--output", str(f.study),
                         "--name", "done"])


# ---- preprocess.py convert and evaluate.py: malformed SPOTER CSVs ----

def csv_rows():
    return list(csv.reader(io.StringIO(VALID_CSV)))


def csv_bytes(rows):
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode()


HEADER = csv_rows()[0]
COORDINATES = [i for i, name in enumerate(HEADER) if name.endswith(("_X", "_Y"))]
NECK = [HEADER.index("neck_X"), HEADER.index("neck_Y")]
# One number of a coordinate list replaced: what each token must give. 0 is "not detected".
NUMBER_TOKENS = {ACCEPTED: ["0", "0.0", "-0.25", "1e-320", "0.999", "12.5", "3.0e38", " 0.5"],
                 REFUSED: ["nan", "inf", "-inf", "1e39", "-1e39", "x", "", "0.5.5", "'0.5'", "[0.5]", "None"]}
CELL_TOKENS = ["", "[]", "x", "[1, 2", "1, 2]", "[[1]]", "['a']", "[1,,2]", "nan", "0.5"]
LABEL_TOKENS = {ACCEPTED: ["_idle", "7", "é", " sign0 ", "sign1", "hello world", "a,b", "sign-0"],
                REFUSED: ["", "   "]}


def row_and_column(draw, columns):
    return draw(st.integers(1, len(csv_rows()) - 1)), draw(st.sampled_from(columns))


def csv_number(draw):
    expected = draw(st.sampled_from([ACCEPTED, REFUSED]))
    rows = csv_rows()
    row, column = row_and_column(draw, COORDINATES)
    numbers = rows[row][column].strip("[]").split(", ")
    numbers[draw(st.integers(0, len(numbers) - 1))] = draw(st.sampled_from(NUMBER_TOKENS[expected]))
    rows[row][column] = "[" + ", ".join(numbers) + "]"
    return "csv", csv_bytes(rows), expected, expected


def csv_list_length(draw):
    rows = csv_rows()
    row, column = row_and_column(draw, COORDINATES)
    numbers = rows[row][column].strip("[]").split(", ")
    numbers = numbers[1:] if draw(st.booleans()) else numbers + ["0.5"]
    rows[row][column] = "[" + ", ".join(numbers) + "]"
    return "csv", csv_bytes(rows), REFUSED, REFUSED


def csv_cell(draw):
    rows = csv_rows()
    row, column = row_and_column(draw, COORDINATES)
    # No text without "[" can be a list of numbers.
    rows[row][column] = draw(st.one_of(st.sampled_from(CELL_TOKENS),
                                       st.text(max_size=12).filter(lambda text: "[" not in text)))
    return "csv", csv_bytes(rows), REFUSED, REFUSED


def csv_label(draw):
    expected = draw(st.sampled_from([ACCEPTED, REFUSED]))
    rows = csv_rows()
    rows[draw(st.integers(1, len(rows) - 1))][0] = draw(st.sampled_from(LABEL_TOKENS[expected]))
    return "csv", csv_bytes(rows), expected, expected


def csv_names(draw):
    """Another signer or clip id: any text names one (three signers still split)."""
    rows = csv_rows()
    rows[draw(st.integers(1, len(rows) - 1))][draw(st.sampled_from([-2, -1]))] = draw(
        st.sampled_from(["signer9", "é", "a b", "0", "gen-0"]))
    return "csv", csv_bytes(rows), ACCEPTED, ACCEPTED


def csv_drop_column(draw):
    name = draw(st.sampled_from(["labels", "nose_X", "wrist_right_Y", "thumbTip_left_X", "neck_X", "neck", "signer",
                                 "clip_id"]))
    columns = NECK if name == "neck" else [HEADER.index(name)]
    rows = [[cell for i, cell in enumerate(row) if i not in columns] for row in csv_rows()]
    # The neck may be absent (the shoulders' midpoint stands in), the signer and clip columns are optional.
    expected = ACCEPTED if name in ("neck", "signer", "clip_id") else REFUSED
    return "csv", csv_bytes(rows), expected, expected


def csv_repeat_column(draw):
    column = draw(st.sampled_from([0] + COORDINATES))
    same = draw(st.booleans())
    other = draw(st.integers(1, len(csv_rows()) - 1))
    rows = [row + [row[column] if same or i != other else "[0.5]"] for i, row in enumerate(csv_rows())]
    expected = ACCEPTED if same else REFUSED
    return "csv", csv_bytes(rows), expected, expected


def csv_header(draw):
    text = draw(st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t))
    return "csv", (text + "\n" + VALID_CSV.split("\n", 1)[1]).encode(), REFUSED, REFUSED


def csv_rows_kept(draw):
    """The header and the first ``kept`` clips (4 of each gloss in turn, the two signers alternating):
    evaluate.py needs references of two glosses. 1-4 clips are all sign0; from 5 on, the references (signer0's
    clips: the default seed holds signer1 out) hold sign0 and sign1."""
    kept = draw(st.integers(0, 12))
    text = "\n".join(VALID_CSV.split("\n")[: kept + 1]) + "\n"
    return "csv", text.encode(), ACCEPTED if kept else REFUSED, ACCEPTED if kept >= 5 else REFUSED


def csv_cut_row(draw):
    """A row cut before its last coordinate is complete (an empty line would just be one row fewer)."""
    lines = VALID_CSV.split("\n")
    row = draw(st.integers(1, len(lines) - 2))
    last = lines[row].rindex("]")
    text = "\n".join(lines[:row] + [lines[row][: draw(st.integers(1, last))]]) + "\n"
    return "csv", text.encode(), REFUSED, REFUSED


def csv_gzip_cut(draw):
    packed = gzip.compress(VALID_CSV.encode())
    return "csv.gz", packed[: draw(st.integers(0, len(packed) - 1))], REFUSED, REFUSED


def csv_not_utf8(draw):
    data = bytearray(VALID_CSV.encode())
    data.insert(draw(st.integers(0, len(data))), draw(st.sampled_from([0xFF, 0xC3, 0x80])))
    return "csv", bytes(data), REFUSED, REFUSED


CSV_KINDS = [csv_number, csv_list_length, csv_cell, csv_label, csv_names, csv_drop_column, csv_repeat_column,
             csv_header, csv_rows_kept, csv_cut_row, csv_gzip_cut, csv_not_utf8]


@each(CSV_KINDS)
def test_malformed_csv_through_preprocess_and_evaluate(kind):
    fuzzed(5, lambda draw: convert_and_evaluate(*kind(draw)))


def convert_and_evaluate(suffix, content, converted, evaluated):
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / f"signs.{suffix}"
        source.write_bytes(content)
        output = Path(folder) / "out.csv"
        check(preprocess.main, Case(converted, ["convert", source, output], source, [source],
                                    [output] if converted == REFUSED else []))
        check(evaluate.main, Case(evaluated, ["--baseline_only", "--data", source, "--k_shot", "1"], source.name,
                                  [source]))


# ---- preprocess.py convert: MediaPipe archives and landmark files ----

def valid_offsets(offsets, frames=24, clips=6):
    return (len(offsets) == clips + 1 and offsets[0] == 0 and offsets[-1] == frames
            and all(b > a for a, b in zip(offsets, offsets[1:])))


def npz_offsets(draw, arrays):
    arrays["offsets"] = np.array(draw(st.lists(st.integers(-5, 30), min_size=0, max_size=9)), dtype=np.int64)
    return ACCEPTED if valid_offsets(arrays["offsets"].tolist()) else REFUSED


def npz_increasing_offsets(draw, arrays):
    """Offsets from 0 to the last frame, increasing: any such split of the frames into clips is accepted."""
    inner = sorted(draw(st.sets(st.integers(1, 23), min_size=5, max_size=5)))
    arrays["offsets"] = np.array([0] + inner + [24])
    return ACCEPTED


def npz_filled(draw, arrays):
    """Every value the same (or not detected, or beyond float32): no clip is usable."""
    arrays["keypoints"] = np.full(arrays["keypoints"].shape, draw(st.sampled_from([1e39, -1e39, np.inf, np.nan,
                                                                                    0.0, 0.5])))
    return REFUSED


def npz_one_value(draw, arrays):
    """One value replaced: NaN is "not detected", a value beyond float32 is refused."""
    value = draw(st.sampled_from([np.nan, 0.0, 2.5, -1.0, 1e39, np.inf]))
    keypoints = arrays["keypoints"].astype(np.float64)
    # A hand point: every one is kept in the layout (some of MediaPipe's pose points are not).
    keypoints[draw(st.integers(0, 23)), draw(st.integers(33, 74)), draw(st.integers(0, 1))] = value
    arrays["keypoints"] = keypoints
    return REFUSED if np.isinf(np.float32(value)) else ACCEPTED


def npz_drop(draw, arrays):
    arrays.pop(draw(st.sampled_from(sorted(arrays))))
    return REFUSED


# (array, dtype) -> outcome: keypoints must be floating-point, offsets integers; per-clip text may be numbers.
DTYPES = {("keypoints", "float64"): ACCEPTED, ("keypoints", "U3"): REFUSED, ("keypoints", "int8"): REFUSED,
          ("keypoints", "bool"): REFUSED, ("offsets", "int8"): ACCEPTED, ("offsets", "float64"): REFUSED,
          ("offsets", "U3"): REFUSED, ("offsets", "bool"): REFUSED, ("label", "int8"): ACCEPTED,
          ("signer", "float64"): ACCEPTED, ("clip", "bool"): ACCEPTED}


def npz_dtype(draw, arrays):
    name, dtype = draw(st.sampled_from(sorted(DTYPES)))
    try:
        arrays[name] = arrays[name].astype(dtype)
    except ValueError:  # text that is no number: a zero array of that type instead
        arrays[name] = np.zeros(arrays[name].shape, dtype=dtype)
    return DTYPES[name, dtype]


def npz_objects(draw, arrays):
    arrays[draw(st.sampled_from(sorted(arrays)))] = np.array([{"a": 1}] * 6, dtype=object)
    return REFUSED


def npz_cut_array(draw, arrays):
    name = draw(st.sampled_from(sorted(arrays)))
    before = arrays[name]
    arrays[name] = before.reshape(-1)[: draw(st.integers(0, 12))]
    return ACCEPTED if arrays[name].shape == before.shape else REFUSED


def npz_languages(draw, arrays):
    clips = draw(st.integers(0, 8))
    arrays["language"] = np.array(["ASL", "LSM"] * 4)[:clips]
    return ACCEPTED if clips == 6 else REFUSED


def landmark_file(draw, arrays):
    """Not an archive: one clip of preprocess.py extract, whole or with a part missing, misshapen or not numbers."""
    arrays.clear()
    arrays.update(landmark_parts(frames=draw(st.integers(0, 5))), width=640, height=480, fps=30.0)
    change = draw(st.sampled_from(["none", "drop", "frames", "points", "text", "scalar"]))
    part = draw(st.sampled_from(["pose", "left_hand", "right_hand"]))
    if change == "drop":
        arrays.pop(draw(st.sampled_from([part, "width", "fps"])))
    elif change == "frames":
        arrays[part] = arrays[part][:-1] if len(arrays[part]) else np.zeros((1,) + arrays[part].shape[1:])
    elif change == "points":
        arrays[part] = arrays[part][:, :-1]
    elif change == "text":
        arrays[part] = arrays[part].astype(str)
    elif change == "scalar":
        arrays[part] = np.float32(0.5)
    return ACCEPTED if change == "none" and len(arrays["pose"]) else REFUSED


def npz_cut_short(draw, arrays):
    """The archive is written whole, then cut (below)."""
    return REFUSED


NPZ_KINDS = [npz_offsets, npz_increasing_offsets, npz_filled, npz_one_value, npz_drop, npz_dtype, npz_objects,
             npz_cut_array, npz_languages, landmark_file, npz_cut_short]


@each(NPZ_KINDS)
def test_malformed_npz_through_preprocess(kind):
    fuzzed(5, lambda draw: convert_npz(draw, kind))


def convert_npz(draw, kind):
    arrays = archive()
    expected = kind(draw, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    content = buffer.getvalue()
    if kind is npz_cut_short:
        content = content[: draw(st.integers(0, len(content) - 1))]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "class_a" / "input.npz"
        source.parent.mkdir()
        source.write_bytes(content)
        check(preprocess.main, Case(expected, ["convert", source, Path(folder) / "out.csv"], source, [source]))


# ---- preprocess.py convert: .pose files ----

@requires(POSE)
@fuzz(20)
@given(st.data())
def test_malformed_pose_through_preprocess(data):
    content = POSE.read_bytes()
    kind = data.draw(st.sampled_from(["truncate", "append", "value"]))
    if kind == "truncate":  # the header's frame count no longer matches
        content, expected = content[: data.draw(st.integers(0, len(content) - 1))], REFUSED
    elif kind == "append":
        content, expected = content + data.draw(st.binary(min_size=1, max_size=64)), REFUSED
    else:  # one x, y or z value of a detected point replaced through pose-format: infinite x or y is refused,
        # NaN is "not detected", z is unused
        from pose_format import Pose

        pose = Pose.read(content)
        value = data.draw(st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -5.0, 1e30]))
        dimension = data.draw(st.integers(0, 2))
        components = pose.header.components
        starts = np.cumsum([0] + [len(component.points) for component in components])
        hands = [start + i for component, start in zip(components, starts) if "HAND" in component.name
                 for i in range(len(component.points))]  # every hand point is one of the layout's
        detected = np.argwhere(pose.body.confidence[:, 0, hands] > 0)
        frame, point = detected[data.draw(st.integers(0, len(detected) - 1))]
        pose.body.data[frame, 0, hands[point], dimension] = value
        buffer = io.BytesIO()
        pose.write(buffer)
        content, expected = buffer.getvalue(), REFUSED if np.isinf(value) and dimension < 2 else ACCEPTED
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "class_a" / "input.pose"
        source.parent.mkdir()
        source.write_bytes(content)
        check(preprocess.main, Case(expected, ["convert", source, Path(folder) / "out.csv"], source, [source]))


# ---- flag values of evaluate.py, preprocess.py convert and train.py, one flag a case ----

NUMBER_TEXT = st.one_of(st.sampled_from(["0", "-1", "1", "2", "0.5", "0.75", "1.5", "nan", "inf", "-inf", "1e39",
                                         "x", "", "3/2", "0/5", "1/2", "2/2", "2/5", "-0"]),
                        st.integers(-3, 300).map(str), st.floats(allow_nan=True).map(str))
SIGNERS = 2  # of VALID_CSV


def integer_in(low, high=None):
    return lambda text: (value := parsed(int, text)) is not None and value >= low and (high is None or value <= high)


def number_in(low, high, low_open=False, high_open=False):
    def accepts(text):
        value = parsed(float, text)
        return (value is not None and np.isfinite(value) and (value > low if low_open else value >= low)
                and (value < high if high_open else value <= high))
    return accepts


def signers_held_out(text):
    """A whole count >= 1 or a fraction in (0, 1) of the signers, leaving one of them at least."""
    value = parsed(float, text)
    if value is None or not np.isfinite(value) or value <= 0 or (value >= 1 and value != int(value)):
        return False
    count = int(value) if value >= 1 else max(1, round(value * SIGNERS))
    return count < SIGNERS


def signer_fold(text):
    parts = text.split("/")
    numbers = [parsed(int, part) for part in parts]
    return len(parts) == 2 and None not in numbers and 1 <= numbers[0] <= numbers[1] == SIGNERS


def integer_list(low):
    def accepts(text):
        items = [parsed(int, item) for item in text.split(",") if item]
        return all(item is not None and item >= low for item in items)
    return accepts


def leaves_glosses(count):
    return lambda text: len(set(GLOSSES) - set(text.split(","))) >= count


SEED = integer_in(0, 2 ** 31 - 1)
DEVICES = st.sampled_from(["cpu", "auto", "gpu", "cuda:x"])
GLOSS_LISTS = st.sampled_from(["sign0", "sign1,sign2", "sign0,sign1,sign2", "_idle", ""])
EVALUATE_FLAGS = {
    "--batch_size": (NUMBER_TEXT, integer_in(1)),
    "--seed": (NUMBER_TEXT, SEED),
    "--k_shot": (st.one_of(NUMBER_TEXT, st.sampled_from(["1,2", "1,,5", "2,0"])), integer_list(1)),
    "--held_out_signers": (NUMBER_TEXT, signers_held_out),
    "--query_fraction": (NUMBER_TEXT, number_in(0, 1, low_open=True, high_open=True)),
    "--min_signers": (NUMBER_TEXT, integer_in(0, SIGNERS)),  # every gloss has both signers
    "--plot_max_clips": (NUMBER_TEXT, integer_in(4)),
    "--baseline_frames": (NUMBER_TEXT, integer_in(1)),
    "--held_out_fold": (NUMBER_TEXT, signer_fold),
    "--device": (st.one_of(DEVICES, NUMBER_TEXT), lambda text: text in ("cpu", "auto")),
    "--exclude_labels": (st.one_of(GLOSS_LISTS, NUMBER_TEXT), leaves_glosses(2)),
    "--language": (st.one_of(st.just("ASL"), NUMBER_TEXT), lambda text: not text.strip(",")),  # none in the file
}
PREPROCESS_FLAGS = {
    "--max_per_class": (NUMBER_TEXT, integer_in(0)),
    "--decimals": (NUMBER_TEXT, integer_in(1, 12)),
    "--seed": (NUMBER_TEXT, SEED),
    "--signers": (st.one_of(st.sampled_from(["signer0", "signer1,signer0", "signer0,x", ","]), NUMBER_TEXT),
                  lambda text: all(name in ("signer0", "signer1") for name in text.split(",") if name)),
    "--exclude_labels": (st.one_of(GLOSS_LISTS, NUMBER_TEXT), leaves_glosses(1)),
    "--language": (st.one_of(st.just("ASL"), NUMBER_TEXT), lambda text: not text.strip(",")),
}
SMALL_INTEGERS = st.one_of(st.sampled_from(["0", "-1", "-0", "1.5", "x", "", "nan"]), st.integers(-3, 40).map(str))
TRAIN_FLAGS = {  # of a run on VALID_CSV, one signer held out (6 training clips), --hidden_dim 8 --heads 2
    "--lr": (st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "1e39", "2e6", "x"]),
                       st.floats(1e-6, 1.0).map(str)), number_in(0, 1e6, low_open=True)),
    "--dropout": (NUMBER_TEXT, number_in(0, 1, high_open=True)),
    "--heads": (SMALL_INTEGERS, lambda text: parsed(int, text) in (1, 2, 4, 8)),
    "--hidden_dim": (SMALL_INTEGERS, lambda text: integer_in(1)(text) and int(text) % 2 == 0),
    "--batch_size": (SMALL_INTEGERS, integer_in(3, 6)),
    "--seed": (NUMBER_TEXT, SEED),
    "--device": (st.one_of(DEVICES, NUMBER_TEXT), lambda text: text in ("cpu", "auto")),
    "--vector_length": (SMALL_INTEGERS, integer_in(1)),
    "--epochs": (st.sampled_from(["0", "-1", "1", "2", "x", "1.5"]), integer_in(1)),
    "--mirror_prob": (NUMBER_TEXT, number_in(0, 1)),
    "--triplet_loss_margin": (NUMBER_TEXT, number_in(0, np.inf)),
    "--validation_signers": (NUMBER_TEXT, signers_held_out),
    "--temperature": (st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "x"]), st.floats(1e-3, 1e6).map(str)),
                      number_in(0, np.inf, low_open=True)),
    "--clips_per_class": (SMALL_INTEGERS, integer_in(0)),
    "--conv_kernel": (SMALL_INTEGERS, lambda text: integer_in(1)(text) and int(text) % 2 == 1),
    "--num_classes": (SMALL_INTEGERS, integer_in(len(GLOSSES))),
    "--epoch_iters": (SMALL_INTEGERS, lambda text: integer_in(1)(text) or parsed(int, text) == -1),
    "--validation_fold": (NUMBER_TEXT, signer_fold),
    "--warmup_fraction": (NUMBER_TEXT, number_in(0, 1, high_open=True)),
}


def flag_case(draw, flags, flag, argv, data):
    """``argv`` and ``flag`` with a drawn value, and the outcome that value must have."""
    values, accepts = flags[flag]
    value = draw(values)
    return value, Case(ACCEPTED if accepts(value) else REFUSED, argv + [flag, value], flag, [data])


@each(sorted(EVALUATE_FLAGS))
def test_evaluate_flag_values(files, kind):
    def run(draw):
        value, case = flag_case(draw, EVALUATE_FLAGS, kind, ["--baseline_only", "--data", files.csv], files.csv)
        if kind == "--exclude_labels" or kind == "--min_signers" and (parsed(int, value) or 0) > SIGNERS:
            case.names = files.csv.name  # a value that leaves too little of the file to evaluate
        check(evaluate.main, case)
    fuzzed(4, run)


@each(sorted(PREPROCESS_FLAGS))
def test_preprocess_flag_values(files, kind):
    def run(draw):
        with tempfile.TemporaryDirectory() as folder:
            argv = ["convert", files.csv, Path(folder) / "out.csv.gz"]
            check(preprocess.main, flag_case(draw, PREPROCESS_FLAGS, kind, argv, files.csv)[1])
    fuzzed(4, run)


def train_main(argv):
    return train.run_command(train.main, train.get_args_parser(), argv)


TINY_RUN = ["--epoch_iters", "1", "--epochs", "1", "--hidden_dim", "8", "--heads", "2", "--feedforward_dim", "8",
            "--encoder_layers", "1", "--conv_layers", "0", "--vector_length", "4", "--batch_size", "6", "--no_progress",
            "--validation_signers", "1"]


@each(sorted(TRAIN_FLAGS))
def test_train_flag_values(files, kind):
    def run(draw):
        with tempfile.TemporaryDirectory() as folder:
            argv = ["--training_set_path", files.csv, "--output_dir", folder] + TINY_RUN
            check(train_main, flag_case(draw, TRAIN_FLAGS, kind, argv, files.csv)[1])
    fuzzed(2, run)


# ---- several files as one input: train.py, evaluate.py ----

SEVERAL_FILES = ["both valid", "an empty name", "the second missing", "class numbers and glosses"]


def several_files(kind, f):
    """Two files as one set, ``(paths, outcome, what a refusal names)``."""
    absent = f.folder / "absent.npz"
    return {"both valid": (f"{f.csv},{f.three}", ACCEPTED, ""), "an empty name": (f"{f.csv},", ACCEPTED, ""),
            "the second missing": (f"{f.csv},{absent}", REFUSED, absent),
            "class numbers and glosses": (f"{f.csv},{f.numbers}", REFUSED, f.numbers)}[kind]


@each(SEVERAL_FILES)
def test_several_files_through_evaluate(files, kind):
    paths, expected, names = several_files(kind, files)
    check(evaluate.main, Case(expected, ["--baseline_only", "--data", paths], names, [files.csv]))


@each(SEVERAL_FILES)
def test_several_files_through_train(files, kind):
    paths, expected, names = several_files(kind, files)
    with tempfile.TemporaryDirectory() as folder:
        argv = ["--training_set_path", paths, "--output_dir", folder] + TINY_RUN
        check(train_main, Case(expected, argv, names, [files.csv]))


# ---- search.py index, query and practice ----

def index_changes(f):
    """Damaged index files, each with what spoils it."""
    arrays = f.index_arrays
    clips = len(arrays["labels"])
    return {
        "no embeddings": dict(embeddings=None), "no model_sha256": dict(model_sha256=None),
        "NaN embeddings": dict(embeddings=np.full_like(arrays["embeddings"], np.nan)),
        "integer embeddings": dict(embeddings=arrays["embeddings"].astype(np.int32)),
        "labels of other clips": dict(labels=arrays["labels"][:3]),
        "number labels": dict(labels=np.arange(clips)),
        "config not JSON": dict(config=np.array("{oops")),
        "decreasing quantiles": dict(score_quantiles=arrays["score_quantiles"][::-1].copy()),
        "short quantiles": dict(score_quantiles=arrays["score_quantiles"][:50]),
        "sha256 in a list": dict(model_sha256=np.array([str(arrays["model_sha256"])])),
        "no clips": dict(embeddings=arrays["embeddings"][:0], labels=arrays["labels"][:0],
                         clip_ids=arrays["clip_ids"][:0], signers=arrays["signers"][:0]),
        "objects": dict(labels=np.array([{}] * clips, dtype=object)),
    }


def damaged_index(draw, f):
    """A damaged index file: an array changed, or the file cut short, or not an index at all."""
    path = fresh(f.folder, "index.npz")
    kind = draw(st.sampled_from(sorted(index_changes(f)) + ["cut", "a CSV"]))
    if kind == "cut":
        content = f.index.read_bytes()
        path.write_bytes(content[: draw(st.integers(0, len(content) - 1))])
    elif kind == "a CSV":
        path.write_text(VALID_CSV)
    else:
        arrays = dict(f.index_arrays, **index_changes(f)[kind])
        np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def bad_checkpoint(draw, f):
    """Not a checkpoint of this project: missing, garbage, cut short, another kind of file, no config, a config
    of another shape, weights of another model."""
    kind = draw(st.sampled_from(["missing", "garbage", "cut", "csv", "index", "no config", "config list",
                                 "other weights"]))
    path = fresh(f.folder, "bad.pt")
    if kind == "garbage":
        path.write_bytes(draw(st.binary(max_size=64)))
    elif kind == "cut":
        content = f.checkpoint.read_bytes()
        path.write_bytes(content[: draw(st.integers(0, len(content) - 1))])
    elif kind == "csv":
        path.write_text(VALID_CSV)
    elif kind == "index":
        shutil.copy(f.index, path)
    elif kind == "no config":
        save_checkpoint(path, model={})
    elif kind == "config list":
        save_checkpoint(path, config=[1], model={})
    elif kind == "other weights":
        save_checkpoint(path, config=dict(TINY_MODEL_CONFIG, hidden_dim=32),
                        model=build_model(TINY_MODEL_CONFIG).state_dict())
    return path


def cased(draw, gloss):
    return draw(st.sampled_from([gloss, gloss.upper(), gloss.title(), gloss.swapcase()]))


def search_index_valid(draw, f):
    data = draw(st.sampled_from([f.csv, f.archive, f"{f.csv},{f.archive}", f.first_without_hands]))
    exclude = draw(st.sampled_from(["", "_idle", "sign0", "a"]))
    argv = ["index", data, "-o", fresh(f.folder, "index.npz"), "--checkpoint", f.checkpoint, "--exclude-labels",
            exclude, "--batch-size", draw(st.integers(1, 300))]
    return Case(ACCEPTED, argv, inputs=[f.csv, f.archive, f.checkpoint])


def search_index_existing_output(draw, f):
    output = fresh(f.folder, "index.npz")
    output.write_bytes(b"an earlier index")
    overwrite = draw(st.booleans())
    argv = ["index", f.csv, "-o", output, "--checkpoint", f.checkpoint] + (["--overwrite"] if overwrite else [])
    return Case(ACCEPTED if overwrite else REFUSED, argv, output, [f.csv] + ([] if overwrite else [output]))


def search_index_output_onto_input(draw, f):
    """-o naming the data or the checkpoint (named .npz, as an index would be), with --overwrite."""
    checkpoint = fresh(f.folder, "model.npz")
    shutil.copy(f.checkpoint, checkpoint)
    output = draw(st.sampled_from([f.archive, checkpoint]))
    argv = ["index", f.archive, "-o", output, "--checkpoint", checkpoint, "--overwrite"]
    return Case(REFUSED, argv, output, [f.archive, checkpoint])


def search_index_output_not_npz(draw, f):
    output = fresh(f.folder, "index" + draw(st.sampled_from([".csv", ".pt", "", ".npz.part", ".json"])))
    return Case(REFUSED, ["index", f.csv, "-o", output, "--checkpoint", f.checkpoint], output, [f.csv])


def search_index_output_folder(draw, f):
    output = fresh(f.folder, "index.npz")
    output.mkdir()
    return Case(REFUSED, ["index", f.csv, "-o", output, "--checkpoint", f.checkpoint, "--overwrite"], output)


def search_index_bad_checkpoint(draw, f):
    checkpoint = bad_checkpoint(draw, f)
    output = fresh(f.folder, "index.npz")
    argv = ["index", f.csv, "-o", output, "--checkpoint", checkpoint]
    return Case(REFUSED, argv, checkpoint, [f.csv, checkpoint], [output])


def search_index_unusable_data(draw, f):
    """No clip with a hand, fewer than two glosses left, a second file missing, class numbers with glosses."""
    data, exclude, names = draw(st.sampled_from([
        (f.no_hands, "", f.no_hands), (f.csv, "sign0,sign1", f.csv), (f.csv, "sign0,sign1,sign2", f.csv),
        (f"{f.csv},{f.folder / 'absent.csv'}", "", f.folder / "absent.csv"), (f"{f.numbers},{f.csv}", "", f.numbers),
    ]))
    output = fresh(f.folder, "index.npz")
    argv = ["index", data, "-o", output, "--checkpoint", f.checkpoint, "--exclude-labels", exclude]
    return Case(REFUSED, argv, names, [f.csv], [output])


def search_batch_size(draw, f):
    size = draw(st.integers(-3, 0))
    return Case(REFUSED, ["query", f.csv, "--index", f.index, "--checkpoint", f.checkpoint, "--batch-size", size],
                "--batch_size")


def search_query_valid(draw, f):
    clips = draw(st.sampled_from([f.csv, f.first_without_hands, f.landmarks, f.archive]))
    json_flag = draw(st.sampled_from([[], ["--json"], ["--json", fresh(f.folder, "result.json")]]))
    argv = ["query", clips, "--index", f.index, "--checkpoint", f.checkpoint, "-k", draw(st.integers(1, 300))]
    return Case(ACCEPTED, argv + json_flag, inputs=[f.csv, f.index, f.checkpoint])


def search_damaged_index(draw, f):
    index = damaged_index(draw, f)
    command = draw(st.sampled_from([["query", f.csv], ["practice", f.landmarks, "--gloss", "sign0"]]))
    return Case(REFUSED, command + ["--index", index, "--checkpoint", f.checkpoint], index, [index])


def search_index_of_another_model(draw, f):
    command = draw(st.sampled_from([["query", f.csv], ["practice", f.landmarks, "--gloss", "sign0"]]))
    checkpoint, index = draw(st.sampled_from([(f.checkpoint, f.other_index), (f.other, f.index)]))
    return Case(REFUSED, command + ["--index", index, "--checkpoint", checkpoint], index, [index])


def search_query_without_hands(draw, f):
    return Case(REFUSED, ["query", f.no_hands, "--index", f.index, "--checkpoint", f.checkpoint], f.no_hands)


def search_json_onto_input(draw, f):
    target = draw(st.sampled_from([f.csv, f.index, f.checkpoint]))
    argv = ["query", f.csv, "--index", f.index, "--checkpoint", f.checkpoint, "--json", target]
    return Case(REFUSED, argv, "--json", [f.csv, f.index, f.checkpoint])


def search_json_folder(draw, f):
    folder = fresh(f.folder, "results")
    folder.mkdir()
    return Case(REFUSED, ["query", f.csv, "--index", f.index, "--checkpoint", f.checkpoint, "--json", folder], folder)


def search_k(draw, f):
    command = draw(st.sampled_from([["query", f.csv], ["practice", f.landmarks, "--gloss", "sign0"]]))
    k = draw(st.integers(-3, 0))
    return Case(REFUSED, command + ["--index", f.index, "--checkpoint", f.checkpoint, "-k", k], "-k")


def search_missing_clips(draw, f):
    clips = f.folder / draw(st.sampled_from(["absent.csv", "absent.npz", "absent.pose"]))
    command = draw(st.sampled_from([["query", clips], ["practice", clips, "--gloss", "sign0"]]))
    return Case(REFUSED, command + ["--index", f.index, "--checkpoint", f.checkpoint], clips)


def search_practice_valid(draw, f):
    """A landmark file (one clip), or a clip of a file chosen by --clip-id; the gloss in any case."""
    if draw(st.booleans()):
        clip = [f.landmarks]
        gloss = cased(draw, draw(st.sampled_from(GLOSSES)))
    else:
        number = draw(st.integers(0, 11))
        clip = [f.csv, "--clip-id", f"gen-{number}"]
        gloss = cased(draw, GLOSSES[number // 4])
    argv = ["practice", *clip, "--gloss", gloss, "--index", f.index, "--checkpoint", f.checkpoint, "--references",
            draw(st.integers(0, 20))]
    return Case(ACCEPTED, argv, inputs=[f.csv, f.landmarks, f.index])


def search_unknown_gloss(draw, f):
    gloss = draw(st.one_of(st.sampled_from(["", "sign", "sign00", "hello", "sign 0"]), st.text(max_size=10)).filter(
        lambda text: text.casefold() not in GLOSSES))
    argv = ["practice", f.landmarks, "--gloss", gloss, "--index", f.index, "--checkpoint", f.checkpoint]
    return Case(REFUSED, argv, "--gloss")


def search_practice_which_clip(draw, f):
    """A file of several clips without --clip-id, an id it does not hold, or the chosen clip has no hand."""
    clip, names = draw(st.sampled_from([([f.csv], f.csv), ([f.csv, "--clip-id", "gen-99"], "--clip_id"),
                                        ([f.csv, "--clip-id", "attempt"], "--clip_id"),
                                        ([f.first_without_hands, "--clip-id", "gen-0"], f.first_without_hands)]))
    argv = ["practice", *clip, "--gloss", "sign0", "--index", f.index, "--checkpoint", f.checkpoint]
    return Case(REFUSED, argv, names)


def search_references(draw, f):
    references = draw(st.integers(-5, -1))
    argv = ["practice", f.landmarks, "--gloss", "sign0", "--index", f.index, "--checkpoint", f.checkpoint,
            "--references", references]
    return Case(REFUSED, argv, "--references")


SEARCH_KINDS = [search_index_valid, search_index_existing_output, search_index_output_onto_input,
                search_index_output_not_npz, search_index_output_folder, search_index_bad_checkpoint,
                search_index_unusable_data, search_batch_size, search_query_valid, search_damaged_index,
                search_index_of_another_model, search_query_without_hands, search_json_onto_input, search_json_folder,
                search_k, search_missing_clips, search_practice_valid, search_unknown_gloss,
                search_practice_which_clip, search_references]


@each(SEARCH_KINDS)
def test_search(files, kind):
    def run(draw):
        case = kind(draw, files)
        case.argv += ["--cache-dir", files.cache]
        check(search.main, case)
    fuzzed(3, run)


# ---- export.py (a stand-in graph for the ONNX tracing) ----

def export_valid(draw, f):
    output = fresh(f.folder, "model.onnx")
    argv = ["--checkpoint", f.checkpoint, "--output", output]
    argv += ["--int8"] if draw(st.booleans()) else []
    argv += draw(st.sampled_from([[], ["--evaluate", f.csv], ["--evaluate", f.csv, f.archive],
                                  ["--evaluate", f.three, "--exclude-labels", "sign0"]]))
    return Case(ACCEPTED, argv, inputs=[f.checkpoint, f.csv])


def export_existing_output(draw, f):
    output = fresh(f.folder, "model.onnx")
    existing = draw(st.sampled_from([output, output.with_suffix(".json")]))
    existing.write_text("an earlier export")
    force = draw(st.booleans())
    argv = ["--checkpoint", f.checkpoint, "--output", output] + (["--force"] if force else [])
    return Case(ACCEPTED if force else REFUSED, argv, "--force", [f.checkpoint] + ([] if force else [existing]),
                [] if force else [other for other in (output, output.with_suffix(".json")) if other != existing])


def export_output_not_onnx(draw, f):
    output = fresh(f.folder, "model" + draw(st.sampled_from([".json", ".pt", "", ".ONNX", ".onnx.part"])))
    return Case(REFUSED, ["--checkpoint", f.checkpoint, "--output", output], "--output", [f.checkpoint], [output])


def export_onto_checkpoint(draw, f):
    """The export, its sidecar or its int8 copy would replace the checkpoint."""
    folder = fresh(f.folder, "x").parent
    name, extra = draw(st.sampled_from([("model.onnx", []), ("model.json", []), ("model.int8.onnx", ["--int8"]),
                                        ("model.int8.json", ["--int8"])]))
    checkpoint = folder / name
    shutil.copy(f.checkpoint, checkpoint)
    argv = ["--checkpoint", checkpoint, "--output", folder / "model.onnx", "--force"] + extra
    written = [folder / name for name in ("model.onnx", "model.json", "model.int8.onnx", "model.int8.json")]
    return Case(REFUSED, argv, "--output", [checkpoint], [path for path in written if path != checkpoint])


def export_bad_checkpoint(draw, f):
    checkpoint = draw(st.sampled_from([f.classifier, bad_checkpoint(draw, f)]))
    output = fresh(f.folder, "model.onnx")
    return Case(REFUSED, ["--checkpoint", checkpoint, "--output", output], checkpoint, [checkpoint],
                [output, output.with_suffix(".json")])


def export_bad_evaluate(draw, f):
    """--evaluate of a file missing, damaged, of another type, an index, one clip, or nothing left to score."""
    damaged = fresh(f.folder, "damaged.csv")
    damaged.write_text(VALID_CSV[: len(VALID_CSV) // 2])
    file, extra = draw(st.sampled_from([(f.folder / "absent.csv", []), (damaged, []), (f.checkpoint, []), (f.index, []),
                                        (f.landmarks, []), (f.csv, ["--exclude-labels", ",".join(GLOSSES)])]))
    output = fresh(f.folder, "model.onnx")
    argv = ["--checkpoint", f.checkpoint, "--output", output, "--evaluate", file] + extra
    return Case(REFUSED, argv, file, [f.checkpoint, f.csv], [output, output.with_suffix(".json")])


EXPORT_KINDS = [export_valid, export_existing_output, export_output_not_onnx, export_onto_checkpoint,
                export_bad_checkpoint, export_bad_evaluate]


@each(EXPORT_KINDS)
def test_export(files, monkeypatch, kind):
    monkeypatch.setattr(onnx_export, "export_graph", write_stand_in_graph)
    fuzzed(5, lambda draw: check(export.main, kind(draw, files)))


# ---- serve.py: model and index, the port, the npm assets ----

def sidecar_of(f):
    return json.loads(f.onnx.with_suffix(".json").read_text())


def serve_valid(draw, f, env):
    return Case(ACCEPTED, ["--model", f.onnx, "--index", f.index, "--port", "0"])


def serve_other_model_index(draw, f, env):
    return Case(REFUSED, ["--model", f.onnx, "--index", f.other_index, "--port", "0"], f.other_index)


def serve_damaged_index(draw, f, env):
    index = damaged_index(draw, f)
    return Case(REFUSED, ["--model", f.onnx, "--index", index, "--port", "0"], index, [index])


def serve_index_of_other_width(draw, f, env):
    """An index by the same checkpoint (its sha256) whose vectors have another length than the model's."""
    index = fresh(f.folder, "index.npz")
    width = draw(st.sampled_from([1, 4, 16]))
    np.savez(index, **dict(f.index_arrays, embeddings=np.ones((len(f.index_arrays["labels"]), width), np.float32)))
    return Case(REFUSED, ["--model", f.onnx, "--index", index, "--port", "0"], index)


def serve_bad_sidecar(draw, f, env):
    model = fresh(f.folder, "model.onnx")
    shutil.copy(f.onnx, model)
    document = sidecar_of(f)
    kind = draw(st.sampled_from(["missing", "not JSON", "a list", "other format", "no sha256", "vector length text",
                                 "not UTF-8"]))
    text = {"not JSON": "{oops", "a list": "[1, 2]", "other format": json.dumps(dict(document, format="other")),
            "no sha256": json.dumps({k: v for k, v in document.items() if k != "checkpoint_sha256"}),
            "vector length text": json.dumps(dict(document, vector_length="8"))}.get(kind)
    if kind == "not UTF-8":
        model.with_suffix(".json").write_bytes(b"\xff\xfe\xfa{")
    elif text is not None:
        model.with_suffix(".json").write_text(text)
    return Case(REFUSED, ["--model", model, "--index", f.index, "--port", "0"], model.with_suffix(".json"))


def serve_model_missing(draw, f, env):
    model = f.folder / draw(st.sampled_from(["absent.onnx", "absent/model.onnx"]))
    return Case(REFUSED, ["--model", model, "--index", f.index, "--port", "0"], model)


def serve_port_in_use(draw, f, env):
    taken = socket.socket()
    env.sockets.append(taken)  # held until the case has run
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return Case(REFUSED, ["--model", f.onnx, "--index", f.index, "--port", taken.getsockname()[1]], "--port")


def serve_port_out_of_range(draw, f, env):
    port = draw(st.one_of(st.integers(max_value=-1).map(str), st.integers(min_value=65536).map(str),
                          st.sampled_from(["x", "", "80.5", "nan"])))
    return Case(REFUSED, ["--model", f.onnx, "--index", f.index, "--port", port], "--port")


def serve_missing_assets(draw, f, env):
    name = draw(st.sampled_from(sorted(env.assets)))
    env.assets[name] = f.folder / "absent" / name
    return Case(REFUSED, ["--model", f.onnx, "--index", f.index, "--port", "0"], env.assets[name])


SERVE_KINDS = [serve_valid, serve_other_model_index, serve_damaged_index, serve_index_of_other_width,
               serve_bad_sidecar, serve_model_missing, serve_port_in_use, serve_port_out_of_range,
               serve_missing_assets]


def no_serving(server_self, *args, **kwargs):
    raise KeyboardInterrupt  # a server that started is stopped at once, as by Ctrl-C


@each(SERVE_KINDS)
def test_serve(files, monkeypatch, kind):
    monkeypatch.setattr(server.Server, "serve_forever", no_serving)

    def run(draw):
        # Stand-ins for web/node_modules (npm ci), and the sockets a case holds while it runs.
        env = SimpleNamespace(assets={name: files.folder / "node_modules" / name for name in server.ASSET_FOLDERS},
                              sockets=[])
        for folder in env.assets.values():
            folder.mkdir(parents=True, exist_ok=True)
        case = kind(draw, files, env)
        monkeypatch.setattr(server, "ASSET_FOLDERS", env.assets)
        try:
            check(serve.main, case)
        finally:
            for taken in env.sockets:
                taken.close()
    fuzzed(3, run)


# ---- cross_validate.py: folds that cannot be formed, resumed studies, several files (baseline: no training) ----

def cv_argv(f, output, *flags):
    return ["--data", f.three, "--folds", "3", "--output", output, "--name", "study", "--baseline_only", *flags]


def cv_valid(draw, f):
    folds = draw(st.integers(2, 3))
    only = ",".join(map(str, sorted(draw(st.sets(st.integers(1, folds), max_size=folds)))))
    data = draw(st.sampled_from([f.three, f"{f.three},{f.csv}"]))
    argv = ["--data", data, "--folds", folds, "--only", only, "--output", fresh(f.folder, "cv"), "--baseline_only"]
    return Case(ACCEPTED, argv, inputs=[f.three])


def cv_folds_beyond_signers(draw, f):
    data, signers = draw(st.sampled_from([(f.three, 3), (f.csv, 2), (f.unsigned, 0)]))
    output = fresh(f.folder, "cv")
    argv = cv_argv(f, output)
    argv[1], argv[3] = data, draw(st.integers(max(signers + 1, 2), 40))
    return Case(REFUSED, argv, "--folds", absent=[output])


def cv_folds_below_two(draw, f):
    output = fresh(f.folder, "cv")
    argv = cv_argv(f, output)
    argv[3] = draw(st.one_of(st.integers(-3, 1).map(str), st.sampled_from(["x", "2.5", ""])))
    return Case(REFUSED, argv, "--folds", absent=[output])


def cv_only_outside(draw, f):
    outside = draw(st.one_of(st.integers(max_value=0), st.integers(min_value=4)))
    only = ",".join(map(str, draw(st.lists(st.integers(1, 3), max_size=2)) + [outside]))
    output = fresh(f.folder, "cv")
    return Case(REFUSED, cv_argv(f, output, "--only", only), "--only", absent=[output])


def study_copy(f):
    output = fresh(f.folder, "cv")
    shutil.copytree(f.study / "done", output / "study")
    return output


def cv_resumed_with_other_flags(draw, f):
    """The finished study again with one flag that changes its figures: refused, its fold files untouched."""
    output = study_copy(f)
    flags = draw(st.sampled_from([["--seed", "5"], ["--by_group"], ["--bsl_letters", "signer0"]]))
    argv = cv_argv(f, output, *flags)
    if draw(st.booleans()):  # the same signers dealt into 2 folds would reuse fold files of 3
        argv[argv.index("--folds") + 1] = "2"
    return Case(REFUSED, argv, output / "study", list((output / "study").glob("fold_*.json")))


def cv_resumed_with_the_same_flags(draw, f):
    """The finished study again, maybe for some folds only or with flags a baseline does not depend on."""
    output = study_copy(f)
    extra = draw(st.sampled_from([[], ["--only", "2"], ["--train_also", f.csv], ["--", "--epochs", "3"]]))
    return Case(ACCEPTED, cv_argv(f, output, *extra), inputs=list((output / "study").glob("fold_*.json")))


def cv_unreadable_files(draw, f):
    """A second --data file or a --train_also or --zero_shot file missing, or class numbers joined with glosses:
    refused before any folder or fold."""
    absent = f.folder / "absent.npz"
    flag, value, names = draw(st.sampled_from([
        ("--data", f"{f.three},{absent}", absent), ("--train_also", absent, absent), ("--zero_shot", absent, absent),
        ("--data", f"{f.three},{f.numbers}", f.numbers), ("--train_also", f.numbers, f.numbers),
    ]))
    output = fresh(f.folder, "cv")
    argv = cv_argv(f, output)
    if flag == "--data":
        argv[1] = value
    else:
        argv += [flag, value]
    return Case(REFUSED, argv, names, absent=[output])


CV_KINDS = [cv_valid, cv_folds_beyond_signers, cv_folds_below_two, cv_only_outside, cv_resumed_with_other_flags,
            cv_resumed_with_the_same_flags, cv_unreadable_files]


@each(CV_KINDS)
def test_cross_validate(files, kind):
    fuzzed(4, lambda draw: check(cross_validate.main, kind(draw, files)))


# ---- found by fuzzing, and what the commands' help promises: run every time ----

@pytest.mark.parametrize("flag, value, expected, names", [
    ("--lr", "1e39", REFUSED, "--lr"),  # overflowed the optimizer's float32 steps: a RuntimeError
    ("--lr", "1e4", REFUSED, "diverged"),  # NaN embeddings failed in sklearn's silhouette: a ValueError
    ("--weight_decay", "1e10", REFUSED, "diverged"),
    ("--vector_length", "1", ACCEPTED, ""),  # t-SNE's PCA start needs two dimensions: a ValueError
    ("--num_classes", "2", REFUSED, "--num_classes"),  # a class id beyond the proxies: a RuntimeError
], ids=["lr beyond float32", "lr that diverges", "weight decay that diverges", "one dimension", "too few classes"])
def test_train_values_that_ended_in_tracebacks(files, flag, value, expected, names):
    with tempfile.TemporaryDirectory() as folder:
        argv = ["--training_set_path", files.csv, "--output_dir", folder] + TINY_RUN + ["--epochs", "2", flag, value]
        check(train_main, Case(expected, argv, names, [files.csv]))


def test_practice_and_evaluate_take_a_landmark_file_of_preprocess_extract(files):
    """Their help lists such files; they were refused as archives lacking keypoints, offsets, label, ..."""
    result = fresh(files.folder, "practice.json")
    check(search.main, Case(ACCEPTED, ["practice", files.landmarks, "--gloss", "SIGN0", "--index", files.index,
                                       "--checkpoint", files.checkpoint, "--json", result, "--cache-dir", files.cache]))
    practice = json.loads(result.read_text())
    assert practice["clip_id"] == "attempt" and practice["gloss"] == "sign0" and 0 <= practice["score"] <= 100
    # Labelled by its folder (sign0), as a .pose file is: a query evaluate.py can score against references.
    result = fresh(files.folder, "evaluate.json")
    check(evaluate.main, Case(ACCEPTED, ["--baseline_only", "--reference", files.csv, "--query", files.landmarks,
                                         "--k_shot", "", "--json", result]))
    (evaluation,) = json.loads(result.read_text())["sets"]
    assert evaluation["protocol"]["query_clips"] == evaluation["protocol"]["scored_queries"] == 1


# ---- found by fuzzing in search.py ----

def test_an_index_of_another_vector_length_is_refused_by_search(files):
    index = fresh(files.folder, "index.npz")
    np.savez(index, **dict(files.index_arrays, embeddings=files.index_arrays["embeddings"][:, :4].copy()))
    check(search.main, Case(REFUSED, ["query", files.csv, "--index", index, "--checkpoint", files.checkpoint], index))


def test_search_refuses_a_classifier_checkpoint(files):
    argv = ["index", files.csv, "-o", fresh(files.folder, "index.npz"), "--checkpoint", files.classifier]
    check(search.main, Case(REFUSED, argv, files.classifier))
