"""Readers of what users already have, mapped into the 54-point layout: pose-format ``.pose`` files (real
fixtures), MP_Data folders and landmark files (built from real MediaPipe keypoints of ../shared/data/signs)."""

import numpy as np
import pytest

from datasets import read_signs
from datasets.formats.clip_files import find_clips, read_class_folders
from datasets.formats.landmarks import read_landmark_clip, write_landmarks
from datasets.formats.mp_data import read_sequence
from datasets.formats.pose_file import read_pose_clip
from tests.conftest import SHARED_DATA, requires, skip_without
from utils import layout
from utils.errors import DataError

pose_format = pytest.importorskip("pose_format", reason="pip install -r requirements-preprocess.txt")

FIXTURES = SHARED_DATA / "pose-fixtures"
KSL = SHARED_DATA / "signs" / "ksl.npz"


def load_pose(path):
    return pose_format.Pose.read(path.read_bytes())


def file_point(pose, component, point):
    """A point of the file's first person, straight from pose-format, divided by the frame size."""
    index = pose.header.get_point_index(component, point)
    size = np.array([pose.header.dimensions.width, pose.header.dimensions.height])
    values = np.ma.filled(pose.body.data[:, 0, index, :2].astype(np.float64), np.nan)
    values[pose.body.confidence[:, 0, index] <= 0] = np.nan
    return values / size


@requires(FIXTURES)
@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.pose")), ids=lambda p: p.name)
def test_every_fixture_maps_into_the_layout(path):
    clip = read_pose_clip(path)
    assert clip.shape == (load_pose(path).body.data.shape[0], layout.NUM_KEYPOINTS, 2)
    assert clip.dtype == np.float32
    assert np.isfinite(clip[:, layout.LEFT_SHOULDER]).any()


@requires(FIXTURES)
@pytest.mark.parametrize("name", ["0ff215ef4f1f111e217e2cefee0adc77.pose", "mediapipe.pose"])
def test_mediapipe_points_are_matched_by_name(name):
    path = FIXTURES / name
    pose, clip = load_pose(path), read_pose_clip(path)
    np.testing.assert_allclose(
        clip[:, layout.RIGHT_WRIST], file_point(pose, "POSE_LANDMARKS", "RIGHT_WRIST"), rtol=1e-6
    )
    np.testing.assert_allclose(
        clip[:, layout.index("indexTip_left")], file_point(pose, "LEFT_HAND_LANDMARKS", "INDEX_FINGER_TIP"),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        clip[:, layout.index("thumbCMC_right")], file_point(pose, "RIGHT_HAND_LANDMARKS", "THUMB_CMC"), rtol=1e-6
    )


@requires(FIXTURES)
def test_reduced_mediapipe_pose_leaves_absent_points_missing():
    clip = read_pose_clip(FIXTURES / "mediapipe.pose")  # its pose component has shoulders..hips only
    assert np.isnan(clip[:, [layout.NOSE, layout.LEFT_EYE, layout.RIGHT_EYE]]).all()
    assert np.isfinite(clip[:, [layout.LEFT_ELBOW, layout.RIGHT_ELBOW]]).all()


@requires(FIXTURES)
def test_openpose_body_and_hands():
    path = FIXTURES / "openpose.pose"
    pose, clip = load_pose(path), read_pose_clip(path)
    np.testing.assert_allclose(clip[:, layout.NOSE], file_point(pose, "pose_keypoints_2d", "Nose"), rtol=1e-6)
    np.testing.assert_allclose(
        clip[:, layout.LEFT_SHOULDER], file_point(pose, "pose_keypoints_2d", "LShoulder"), rtol=1e-6
    )
    # OpenPose hands share MediaPipe's point order: point 8 is the index fingertip in both.
    np.testing.assert_allclose(
        clip[:, layout.index("indexTip_right")], file_point(pose, "hand_right_keypoints_2d", "I_DIP"), rtol=1e-6
    )
    neck = (clip[:, layout.LEFT_SHOULDER] + clip[:, layout.RIGHT_SHOULDER]) / 2
    np.testing.assert_allclose(clip[:, layout.NECK], neck, rtol=1e-6)


@requires(FIXTURES)
def test_read_signs_labels_a_pose_file_by_its_folder():
    data = read_signs(FIXTURES / "openpose.pose", cache_dir=False)
    assert len(data) == 1 and data.labels[0] == FIXTURES.name and data.clip_ids[0] == "openpose"
    np.testing.assert_array_equal(data.clip(0), read_pose_clip(FIXTURES / "openpose.pose"))


@requires(FIXTURES)
def test_damaged_pose_file_names_the_file(tmp_path):
    damaged = tmp_path / "damaged.pose"
    damaged.write_bytes((FIXTURES / "openpose.pose").read_bytes()[:300])
    with pytest.raises(DataError, match="damaged.pose: not a readable .pose file"):
        read_pose_clip(damaged)


@pytest.fixture(scope="module")
def ksl():
    """Real MediaPipe Holistic x, y of the first clips of ksl.npz, as [75, 2] frames, with their labels."""
    skip_without(KSL)
    with np.load(KSL, allow_pickle=False) as archive:
        offsets, labels = archive["offsets"], archive["label"]
        clips = [archive["keypoints"][offsets[i]:offsets[i + 1]].astype(np.float32) for i in range(4)]
        return clips, [str(label) for label in labels[:4]]


def holistic_parts(points):
    """[F, 75, 2] MediaPipe points as extraction parts (z and visibility unknown: NaN)."""
    frames = len(points)
    pad = np.full((frames, 75, 2), np.nan, dtype=np.float32)
    full = np.concatenate([points, pad], axis=2)
    return {"pose": full[:, :33, :4], "left_hand": full[:, 33:54, :3], "right_hand": full[:, 54:, :3]}


def write_mp_data_sequence(folder, points, with_face):
    """MP_Data frames as the tutorials write them: flat vectors, zeros for an undetected part."""
    folder.mkdir(parents=True)
    for number, frame in enumerate(np.nan_to_num(points, nan=0.0)):
        pose = np.concatenate([frame[:33], np.zeros((33, 1)), np.ones((33, 1))], axis=1).reshape(-1)
        hands = [np.concatenate([frame[s], np.zeros((21, 1))], axis=1).reshape(-1) for s in (slice(33, 54), slice(54, 75))]
        face = [np.full(468 * 3, 0.5)] if with_face else []
        np.save(folder / f"{number}.npy", np.concatenate([pose, *face, *hands]))


@pytest.mark.parametrize("with_face", [True, False], ids=["1662 values", "258 values"])
def test_mp_data_sequence_matches_the_archive_reader(tmp_path, ksl, with_face):
    points = ksl[0][0]
    write_mp_data_sequence(tmp_path / "hello" / "0", points, with_face)
    expected = layout.from_mediapipe_holistic(points)
    np.testing.assert_allclose(read_sequence(tmp_path / "hello" / "0"), expected, rtol=1e-6)
    assert len(points) > 10  # frame 10 must sort after frame 9, not after frame 1


def test_mp_data_folder_through_read_signs(tmp_path, ksl):
    clips, labels = ksl
    for number, (points, label) in enumerate(zip(clips, labels)):
        write_mp_data_sequence(tmp_path / "MP_Data" / label / str(number), points, with_face=False)
    data = read_signs(tmp_path / "MP_Data")
    assert sorted(data.labels) == sorted(labels)
    for i, clip_id in enumerate(data.clip_ids):
        number = int(clip_id.split("/")[1])
        np.testing.assert_allclose(data.clip(i), layout.from_mediapipe_holistic(clips[number]), rtol=1e-6)


def test_mp_data_frame_of_wrong_size_names_the_file(tmp_path, ksl):
    write_mp_data_sequence(tmp_path / "a" / "0", ksl[0][0], with_face=False)
    np.save(tmp_path / "a" / "0" / "3.npy", np.zeros(100))
    with pytest.raises(DataError, match=r"3\.npy: 100 values; expected every frame .* 1662 or 258"):
        read_sequence(tmp_path / "a" / "0")


def test_landmark_file_round_trip(tmp_path, ksl):
    points = ksl[0][1]
    write_landmarks(tmp_path / "clip.npz", holistic_parts(points), width=640, height=480, fps=30.0)
    np.testing.assert_allclose(read_landmark_clip(tmp_path / "clip.npz"), layout.from_mediapipe_holistic(points))
    with np.load(tmp_path / "clip.npz", allow_pickle=False) as archive:
        assert (int(archive["width"]), int(archive["height"]), float(archive["fps"])) == (640, 480, 30.0)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.npz"]  # no temporary file left behind


def test_landmark_file_errors_name_file_and_array(tmp_path, ksl):
    parts = holistic_parts(ksl[0][1])
    parts["left_hand"] = parts["left_hand"][:, :20]
    write_landmarks(tmp_path / "bad.npz", parts, 640, 480, 30.0)
    with pytest.raises(DataError, match=r"bad.npz: array left_hand: expected shape \[\d+, 21, 3\]"):
        read_landmark_clip(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", keypoints=np.zeros(3))
    with pytest.raises(DataError, match="other.npz: missing array"):
        read_landmark_clip(tmp_path / "other.npz")


@requires(FIXTURES)
def test_class_folders_of_landmark_and_pose_files(tmp_path, ksl):
    clips, labels = ksl
    for number, (points, label) in enumerate(zip(clips, labels)):
        write_landmarks(tmp_path / label / f"clip{number}.npz", holistic_parts(points), 640, 480, 30.0)
    (tmp_path / "openpose").mkdir()
    (tmp_path / "openpose" / "fixture.pose").write_bytes((FIXTURES / "openpose.pose").read_bytes())
    assert len(find_clips(tmp_path)) == len(clips) + 1
    data = read_class_folders(tmp_path)
    assert sorted(data.labels) == sorted(labels + ["openpose"])
    assert "openpose/fixture" in data.clip_ids


def test_a_single_landmark_file_reads_as_one_clip_labelled_by_its_folder(tmp_path, ksl):
    points = ksl[0][1]
    write_landmarks(tmp_path / "hello" / "attempt.npz", holistic_parts(points), 640, 480, 30.0)
    data = read_signs(tmp_path / "hello" / "attempt.npz", cache_dir=tmp_path / "cache")
    assert len(data) == 1 and data.labels[0] == "hello" and data.clip_ids[0] == "attempt"
    np.testing.assert_allclose(data.clip(0), layout.from_mediapipe_holistic(points), rtol=1e-6)
    np.savez(tmp_path / "partial.npz", pose=holistic_parts(points)["pose"])  # refused as a landmark file
    with pytest.raises(DataError, match=r"partial\.npz: missing array\(s\) left_hand, right_hand, width, height, fps"):
        read_signs(tmp_path / "partial.npz", cache_dir=False)


@requires(FIXTURES)
def test_a_copy_of_a_one_clip_file_in_another_folder_gets_that_folder_as_label(tmp_path, ksl):
    """The cache is keyed by content alone: a copy must not be named and labelled as the first file read."""
    write_landmarks(tmp_path / "hello" / "a.npz", holistic_parts(ksl[0][0]), 640, 480, 30.0)
    (tmp_path / "hello" / "a.pose").write_bytes((FIXTURES / "openpose.pose").read_bytes())
    for suffix in (".npz", ".pose"):
        (tmp_path / "bye").mkdir(exist_ok=True)
        (tmp_path / "bye" / f"b{suffix}").write_bytes((tmp_path / "hello" / f"a{suffix}").read_bytes())
        first, copy = (read_signs(tmp_path / folder / f"{name}{suffix}", cache_dir=tmp_path / "cache")
                       for folder, name in (("hello", "a"), ("bye", "b")))
        assert (first.labels[0], first.clip_ids[0], copy.labels[0], copy.clip_ids[0]) == ("hello", "a", "bye", "b")
        np.testing.assert_array_equal(first.keypoints, copy.keypoints)


def test_clip_outside_a_class_folder_is_reported(tmp_path, ksl):
    write_landmarks(tmp_path / "loose.npz", holistic_parts(ksl[0][0]), 640, 480, 30.0)
    with pytest.raises(DataError, match="loose.npz: lies directly in .*one subfolder per class"):
        read_signs(tmp_path)
