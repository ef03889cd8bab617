"""preprocess.py extract and create: labels (WLASL metadata, LSA64 names, class folders), splits, CSVs, and
the real path from WLASL videos through extraction and CSV creation to train.py."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from datasets.formats.spoter_csv import read_spoter_csv
from datasets.formats.landmarks import read_landmark_clip, write_landmarks
from preprocessing.create import SplitOptions, create
from preprocessing.extract import extract_video, pending, plan
from preprocessing.labels import folder_labeller, lsa64_labeller, parse_lsa64_name, read_sign_names, wlasl_labeller
from utils import layout
from utils.errors import DataError

from tests.conftest import ASL_NPZ as ASL
from tests.conftest import REPOSITORY, SHARED_DATA, requires, skip_without

WLASL_META = SHARED_DATA / "meta" / "wlasl100_splits.json"
VIDEOS = SHARED_DATA / "videos" / "wlasl"
LSA64_SIGNS = SHARED_DATA / "meta" / "lsa64_signs.md"


@pytest.fixture(scope="module")
def asl_clips():
    """Real MediaPipe Holistic clips ([F, 75, 2]) of asl.npz: {label: [clips]} for a few glosses."""
    skip_without(ASL)
    with np.load(ASL, allow_pickle=False) as archive:
        offsets, labels, keypoints = archive["offsets"], archive["label"], archive["keypoints"]
        chosen = {}
        for gloss in ("book", "hello", "thanks"):
            rows = np.flatnonzero(labels == gloss)[:6]
            chosen[gloss] = [keypoints[offsets[i]:offsets[i + 1]].astype(np.float32) for i in rows]
        return chosen


def write_clip(path, points):
    """A landmark file holding real keypoints (z and visibility unknown: NaN)."""
    full = np.concatenate([points, np.full_like(points, np.nan)], axis=2)
    parts = {"pose": full[:, :33, :4], "left_hand": full[:, 33:54, :3], "right_hand": full[:, 54:, :3]}
    write_landmarks(path, parts, width=640, height=480, fps=30.0)


def run_cli(*args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, *map(str, args)], cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


# Labels ---------------------------------------------------------------------------------------------------

@requires(WLASL_META)
def test_wlasl_labels_come_from_the_official_metadata():
    labeller = wlasl_labeller(WLASL_META, num_classes=100)
    assert labeller.name == "wlasl100" and labeller.classes[:3] == ["book", "drink", "computer"]
    book = labeller.label(Path("/x"), Path("/x/68011.npz"))
    assert (book.gloss, book.signer, book.split) == ("book", "110", "train")
    assert labeller.label(Path("/x"), Path("/x/sub/70212.npz")).split == "val"
    assert labeller.label(Path("/x"), Path("/x/12306.npz")).gloss == "computer"
    assert labeller.label(Path("/x"), Path("/x/99999999.npz")) is None


@requires(WLASL_META)
def test_wlasl_num_classes_keeps_the_first_glosses():
    labeller = wlasl_labeller(WLASL_META, num_classes=2)
    assert labeller.classes == ["book", "drink"]
    assert labeller.label(Path("/x"), Path("/x/12306.npz")) is None  # computer is class 2
    with pytest.raises(DataError, match="--num_classes 500: the metadata has 100 glosses"):
        wlasl_labeller(WLASL_META, num_classes=500)


def test_bad_wlasl_metadata_is_reported(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"book": []}))
    with pytest.raises(DataError, match="meta.json: expected WLASL metadata"):
        wlasl_labeller(tmp_path / "meta.json")


def test_lsa64_names_on_generated_file_names():
    assert parse_lsa64_name("lsa64/001_003_005.npz") == (1, "003")
    assert parse_lsa64_name("064_010_001.pose") == (64, "010")
    with pytest.raises(DataError, match="1_3_5.npz: expected an LSA64 name SSS_PPP_RRR"):
        parse_lsa64_name("1_3_5.npz")


@requires(LSA64_SIGNS)
def test_lsa64_sign_names_from_the_real_table():
    names = read_sign_names(LSA64_SIGNS)
    assert names[1] == "Opaque" and len(names) == 64
    labeller = lsa64_labeller(LSA64_SIGNS)
    label = labeller.label(Path("/x"), Path("/x/002_007_001.npz"))
    assert (label.gloss, label.signer) == ("Red", "007")
    assert labeller.classes[:2] == ["Opaque", "Red"]


# create ---------------------------------------------------------------------------------------------------

@pytest.fixture()
def lsa64_named(tmp_path, asl_clips):
    """Generated LSA64 file names (3 signs x 5 signers) over real ASL keypoints."""
    folder = tmp_path / "lsa64"
    for sign, gloss in enumerate(asl_clips, 1):
        for signer, points in enumerate(asl_clips[gloss][:5], 1):
            write_clip(folder / f"{sign:03d}_{signer:03d}_001.npz", points)
    return folder


def read_outputs(folder, name):
    # the file's own integer ids (read_signs would name them by the id-to-gloss JSON beside the CSVs)
    splits = {p.stem.rsplit("_", 1)[1]: read_spoter_csv(p) for p in sorted(folder.glob(f"{name}_*.csv"))}
    return splits, json.loads((folder / f"{name}_id_to_gloss.json").read_text())


def test_lsa64_fresh_split_is_signer_disjoint(tmp_path, lsa64_named):
    options = SplitOptions(test_size=2, val_size=1, seed=3)
    create(lsa64_named, tmp_path / "out", lsa64_labeller(), options)
    splits, id_to_gloss = read_outputs(tmp_path / "out", "lsa64")
    signers = {split: set(data.signers) for split, data in splits.items()}
    assert [len(signers[s]) for s in ("train", "val", "test")] == [2, 1, 2]
    assert not (signers["train"] & signers["val"]) and not (signers["train"] & signers["test"])
    assert id_to_gloss == {"0": "001", "1": "002", "2": "003"}
    assert sum(len(data) for data in splits.values()) == 15
    train = splits["train"]
    assert set(train.labels) == {"0", "1", "2"}
    # Each CSV row holds its clip's keypoints, rounded to 5 decimals.
    clip_id = train.clip_ids[0]
    source = read_landmark_clip(lsa64_named / f"{clip_id}.npz")
    np.testing.assert_allclose(train.clip(0), source, atol=1e-5)


def test_named_signers_are_held_out(tmp_path, lsa64_named):
    options = SplitOptions(test_signers=["005"], val_signers=["001", "002"])
    create(lsa64_named, tmp_path / "out", lsa64_labeller(), options, name="named")
    splits, _ = read_outputs(tmp_path / "out", "named")
    assert set(splits["test"].signers) == {"005"} and set(splits["val"].signers) == {"001", "002"}
    with pytest.raises(DataError, match="--test_signers: no clips of signer\\(s\\) 042"):
        create(lsa64_named, tmp_path / "out", lsa64_labeller(), SplitOptions(test_signers=["042"]))


def test_fresh_split_without_signers_is_stratified(tmp_path, asl_clips):
    for gloss, clips in asl_clips.items():
        for number, points in enumerate(clips):
            write_clip(tmp_path / "clips" / gloss / f"{number}.npz", points)
    create(tmp_path / "clips", tmp_path / "out", folder_labeller(), SplitOptions(test_size=0.2, val_size=0.2))
    splits, id_to_gloss = read_outputs(tmp_path / "out", "signs")
    assert id_to_gloss == {"0": "book", "1": "hello", "2": "thanks"}
    for split in ("train", "val", "test"):
        assert sorted(set(splits[split].labels)) == ["0", "1", "2"]
        assert splits[split].signers is None
    ids = [clip for data in splits.values() for clip in data.clip_ids]
    assert sorted(ids) == sorted(f"{g}/{n}" for g, clips in asl_clips.items() for n in range(len(clips)))
    with pytest.raises(DataError, match="--test_size 2 counts signers, but fewer than two are known"):
        create(tmp_path / "clips", tmp_path / "out", folder_labeller(), SplitOptions(test_size=2))


@requires(WLASL_META)
def test_wlasl_official_split_on_the_real_video_ids(tmp_path, asl_clips):
    """The eight real WLASL video ids (their keypoints here are generated stand-ins from asl.npz)."""
    for number, video in enumerate(sorted(p.stem for p in VIDEOS.glob("*.mp4"))):
        write_clip(tmp_path / "landmarks" / f"{video}.npz", asl_clips["hello"][number % 6])
    write_clip(tmp_path / "landmarks" / "00001.npz", asl_clips["book"][0])  # not in WLASL100: skipped
    labeller = wlasl_labeller(WLASL_META, num_classes=100)
    written = create(tmp_path / "landmarks", tmp_path / "out", labeller, SplitOptions(official=True))
    assert sorted(written) == ["test", "train", "val"]
    splits, id_to_gloss = read_outputs(tmp_path / "out", "wlasl100")
    assert sorted(splits["train"].clip_ids) == ["68011", "68012"]
    assert sorted(splits["val"].clip_ids) == ["19257", "32156", "70212"]
    assert sorted(splits["test"].clip_ids) == ["12306", "19255", "32157"]
    assert len(id_to_gloss) == 100
    assert {id_to_gloss[label] for label in splits["test"].labels} == {"computer", "enjoy", "language"}


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    result = run_cli("preprocess.py", "create", tmp_path, tmp_path / "out", "--labels", "wlasl", check=False)
    assert result.returncode == 2
    assert "--labels wlasl needs --metadata" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("preprocess.py", "extract", tmp_path, tmp_path / "out", check=False)
    assert result.returncode == 2 and "no videos" in result.stderr


# extract --------------------------------------------------------------------------------------------------

def test_unreadable_video_is_reported_and_nothing_written(tmp_path):
    broken = tmp_path / "videos" / "broken.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"generated: not a video" * 100)
    [task] = plan(tmp_path / "videos", tmp_path / "landmarks")
    assert task.output == tmp_path / "landmarks" / "broken.npz"
    result = extract_video(task)
    assert result.error and result.frames == 0
    assert not (tmp_path / "landmarks").exists() or not any((tmp_path / "landmarks").iterdir())


def test_plan_mirrors_folders_and_resume_skips_finished(tmp_path, asl_clips):
    for name in ("book/a.mp4", "book/b.mp4", "hello/c.mov", "notes.txt"):
        (tmp_path / "videos" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "videos" / name).write_bytes(b"")
    tasks = plan(tmp_path / "videos", tmp_path / "landmarks")
    assert [t.output.relative_to(tmp_path / "landmarks").as_posix() for t in tasks] == [
        "book/a.npz", "book/b.npz", "hello/c.npz"]
    write_clip(tmp_path / "landmarks" / "book" / "a.npz", asl_clips["book"][0])
    assert [t.video.name for t in pending(tasks)] == ["b.mp4", "c.mov"]
    (tmp_path / "videos" / "book" / "a.avi").write_bytes(b"")
    with pytest.raises(DataError, match="a.npz would also be written for"):
        plan(tmp_path / "videos", tmp_path / "landmarks")


def wait_for(path, process, seconds):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{path} did not appear within {seconds} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Three real WLASL videos, one folder per gloss; an extraction interrupted during the second video (the
    longest, 112 frames of 1280x720, so that it cannot finish before the signal lands on a loaded machine), then
    resumed. Returns (video folder, landmark folder, log of the interrupted run, of the resumed run, mtime
    of the first file after the interrupted run)."""
    skip_without(VIDEOS)
    pytest.importorskip("mediapipe", reason="pip install -r requirements-preprocess.txt")
    root = tmp_path_factory.mktemp("extract")
    videos, output = root / "videos", root / "landmarks"
    for gloss, video in (("book", "68011"), ("book", "68012"), ("enjoy", "19257")):
        (videos / gloss).mkdir(parents=True, exist_ok=True)
        (videos / gloss / f"{video}.mp4").symlink_to(VIDEOS / f"{video}.mp4")
    command = ["preprocess.py", "extract", videos, output, "--workers", "1", "--no_progress"]
    process = subprocess.Popen(
        [sys.executable, *map(str, command)], cwd=REPOSITORY, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        # A shell ignores SIGINT in the jobs it starts in the background, and children inherit that: the
        # extraction must see the signal as a Ctrl-C would deliver it, however the tests were started.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(output / "book" / "68011.npz", process, 240)
    process.send_signal(signal.SIGINT)  # the worker is now on the second video
    _, interrupted_log = process.communicate(timeout=60)
    first_mtime = (output / "book" / "68011.npz").stat().st_mtime_ns
    left = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    resumed = run_cli(*command)
    return videos, output, interrupted_log, left, resumed.stderr, first_mtime


@pytest.mark.slow
def test_interrupted_extraction_leaves_only_finished_files_and_resumes(extracted):
    _, output, interrupted_log, left, resumed_log, first_mtime = extracted
    assert left == ["book/68011.npz"], interrupted_log[-2000:]  # no half file, no temporary file
    assert "interrupted: every file written so far is complete" in interrupted_log
    assert "Traceback" not in interrupted_log
    assert "1 already done (skipped), 2 to extract" in resumed_log
    assert (output / "book" / "68011.npz").stat().st_mtime_ns == first_mtime  # not redone
    assert sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()) == [
        "book/68011.npz", "book/68012.npz", "enjoy/19257.npz"]
    assert "frames/s" in resumed_log and "worker 1" in resumed_log


@pytest.mark.slow
def test_extracted_landmarks_match_the_video(extracted):
    cv2 = pytest.importorskip("cv2")
    _, output, *_ = extracted
    capture = cv2.VideoCapture(str(VIDEOS / "19257.mp4"))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    with np.load(output / "enjoy" / "19257.npz", allow_pickle=False) as archive:
        assert archive["pose"].shape == (frames, 33, 4) and archive["left_hand"].shape == (frames, 21, 3)
        assert (int(archive["width"]), int(archive["height"])) == (320, 240)
        assert float(archive["fps"]) == pytest.approx(fps)
    clip = read_landmark_clip(output / "enjoy" / "19257.npz")
    body = clip[:, [layout.NOSE, layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER]]
    assert np.isfinite(body).all() and ((body > 0) & (body < 1)).all()  # a signer facing the camera
    hands = clip[:, layout.LEFT_HAND.start:layout.RIGHT_HAND.stop, 0]
    assert np.isfinite(hands).any(axis=1).mean() > 0.5  # hands found in most frames


@pytest.mark.slow
def test_videos_to_csv_that_train_py_accepts(extracted, tmp_path, asl_clips):
    _, output, *_ = extracted
    # The extracted real videos plus real MediaPipe clips of asl.npz (converted to landmark files) give two
    # trainable classes; 'enjoy' has a single clip and is dropped by --min_clips_per_class.
    for gloss in ("book", "hello"):
        for number, points in enumerate(asl_clips[gloss][:4]):
            write_clip(output / gloss / f"asl{number}.npz", points)
    csv = tmp_path / "csv"
    run_cli("preprocess.py", "create", output, csv, "--labels", "folder", "--test_size", "0", "--val_size", "0.4")
    splits, id_to_gloss = read_outputs(csv, "signs")
    assert id_to_gloss == {"0": "book", "1": "enjoy", "2": "hello"}
    assert "book/68011" in np.concatenate([data.clip_ids for data in splits.values()])
    result = run_cli(
        "train.py", "--training_set_path", csv / "signs_train.csv", "--validation_set_path", csv / "signs_val.csv",
        "--batch_size", "4", "--min_clips_per_class", "2", "--epochs", "1", "--epoch_iters", "2",
        "--experiment_name", "videos", "--output_dir", tmp_path / "runs", "--cache_dir", tmp_path / "cache",
        "--no_progress",
    )
    assert "training on 6 clips, validating on 4 clips" in result.stderr
    assert (tmp_path / "runs" / "videos" / "best.pt").is_file(), result.stderr[-2000:]
