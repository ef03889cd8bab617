"""The browser page in a real headless Chromium (Debian's `chromium`), served by web/server.py, with the npm
packages of web/package.json: a real WLASL clip as the fake webcam, a landmark file, and bad input.

The model is trained for one epoch on the bundled data and exported; the index holds the 8 real WLASL
clips of ../shared/data/videos/wlasl, their landmarks extracted by preprocess.py extract (Python
MediaPipe 0.10.21). Slow: run with ``python -m pytest -q -m slow tests/test_web.py``.
"""
import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import export
from datasets.formats.landmarks import read_landmark_clip
from deploy.onnx_export import load_embedding_model
from deploy.onnx_runtime import embed_onnx, embed_torch, open_session
from preprocessing.extract import plan, run_extraction
from retrieval.confidence import VERDICT_TEXT, match_verdict
from tests.conftest import REPOSITORY, SHARED_DATA, requires
from tests.web_index import nearest_glosses, practice_score, write_test_index
from utils import layout
from web import server
from web.browser import CHROMIUM, Chromium, cut_video, page_embedding, y4m_from_video

VIDEOS = SHARED_DATA / "videos" / "wlasl"
CAMERA_CLIP = "19257"  # enjoy, 320x240
# computer, 1920x1080 at 29.97 frames a second, 78 frames: when the page played a file instead of seeking each
# frame, it read 44 of them.
VIDEO_CLIP = "12306"
# How far MediaPipe's landmarks (share of the frame) and the embedding may move between runs on the same frames
# (see test_a_video_file_is_read_in_full_and_alike_every_time).
LANDMARK_JITTER = 0.01
EMBEDDING_JITTER = 0.02
# Headless Chromium has no GPU: WebGL is SwiftShader, so the page runs MediaPipe's models on the CPU (wasm):
# 0.16-0.2 s a frame on a 2-core machine, up to 2 s for the first after a reset, against 12 frames a second
# for Python's. The page queues every camera frame for MediaPipe however far it lags; the camera test plays a
# cut of the clip (its first frames with a hand) at 1 frame a second, the slowest Chromium's fake camera plays
# (a Y4M rate under 1 delivers no frame), and requires that not one frame was skipped.
CAMERA_FRAMES = 8
# Page vs Python for the same camera frames: Python runs mediapipe 0.10.21 on the CPU; the page runs
# @mediapipe/holistic 0.5 (another build, wasm) on the same frames after a YUV 4:2:0 conversion, so
# landmarks differ by a few thousandths of the frame, and the embeddings a little. The embeddings are unit
# vectors (up to 2 apart) and clips of different glosses lie 0.3 or more apart in this index: a gap under
# 0.25 still names the same sign, so that is the tolerance; hand points must agree to 3% of the frame.
CAMERA_TOLERANCE = 0.25
HAND_TOLERANCE = 0.03

pytestmark = [pytest.mark.slow, requires(VIDEOS / "clips.csv"),
              pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed (apt-get install chromium)"),
              pytest.mark.skipif(not server.NODE_MODULES.is_dir(), reason="run `npm ci` in web/ first")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    subprocess.run([sys.executable, str(REPOSITORY / "train.py"), "--epochs", "1", "--output_dir", str(folder),
                    "--experiment_name", "m"], check=True, cwd=REPOSITORY, capture_output=True)
    checkpoint = folder / "m" / "best.pt"
    export.main(["--checkpoint", str(checkpoint), "--output", str(folder / "model.onnx")])
    run_extraction(plan(VIDEOS, folder / "landmarks"), workers=1, progress=False)
    rows = list(csv.DictReader(open(VIDEOS / "clips.csv")))
    landmark_files = {row["video_id"]: folder / "landmarks" / row["file"].replace(".mp4", ".npz") for row in rows}
    clips = {video: read_landmark_clip(path) for video, path in landmark_files.items()}
    fps = [float(np.load(path)["fps"]) for path in landmark_files.values()]
    embeddings = write_test_index(folder / "index.npz", checkpoint, list(clips.values()),
                                  [row["gloss"] for row in rows], list(clips), [row["signer"] for row in rows], fps)
    httpd, url = server.serve_in_background(folder / "model.onnx", folder / "index.npz")
    yield {"folder": folder, "url": url, "checkpoint": checkpoint, "onnx": folder / "model.onnx", "clips": clips,
           "landmarks": landmark_files, "embeddings": embeddings, "labels": [row["gloss"] for row in rows],
           "glosses": {row["video_id"]: row["gloss"] for row in rows},
           "signers": {row["video_id"]: row["signer"] for row in rows}}
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def browser(request):
    flags = getattr(request, "param", ())
    chromium = Chromium(*flags)
    yield chromium
    chromium.close()


def open_page(browser, url, query=""):
    browser.open(url + query)
    browser.wait_for("window.spoter && (window.spoter.ready || window.spoter.error)", 120)
    assert browser.evaluate("window.spoter.error") is None, browser.console


def wait_done(browser, runs=1, timeout=120):
    try:
        browser.wait_for(f"(window.spoter.done || 0) >= {runs}", timeout)
    except TimeoutError as error:
        page = browser.evaluate("['progress', 'status', 'message'].map((id) => document.getElementById(id).textContent)")
        raise TimeoutError(f"{error}; page: {page}") from None
    return browser.evaluate("window.spoter.result"), browser.evaluate("window.spoter.error")


def python_embedding(site, clip):
    model, _ = load_embedding_model(site["checkpoint"])
    return embed_torch(model, [clip])[0]


def landmark_json(path, target):
    """A landmark file of preprocess.py extract as the page's JSON landmark file: per part, one entry per
    frame, null where MediaPipe saw nothing."""
    with np.load(path) as arrays:
        document = {"width": int(arrays["width"]), "height": int(arrays["height"])}
        for part in ("pose", "left_hand", "right_hand"):
            document[part] = [None if np.isnan(frame[:, :2]).all() else frame[:, :2].tolist() for frame in arrays[part]]
    target.write_text(json.dumps(document))
    return target


def page_clip(frames):
    """The page's landmarks (``window.spoter.frames``) in the 54-point layout, mapped by Python."""
    return layout.from_mediapipe_holistic(np.concatenate([
        np.array([[[math.nan, math.nan]] * count if f[part] is None else f[part] for f in frames], dtype=np.float32)
        for part, count in (("pose", 33), ("left_hand", 21), ("right_hand", 21))], axis=1))


def hand_gap(page, python_clip):
    """Mean distance of the hand points both saw, as a share of the frame."""
    hands = slice(layout.LEFT_HAND.start, layout.RIGHT_HAND.stop)
    both = ~np.isnan(page[:, hands, 0]) & ~np.isnan(python_clip[:, hands, 0])
    return np.abs(page[:, hands][both] - python_clip[:, hands][both]).mean()


def first_frame_taken(page, python_cut):
    """Which of the camera's first two frames the page's recording starts with: Chromium's fake camera
    delivers its first frame before the page can attach its capture to the new track (seen with Chromium 156:
    the recording starts with the second). Either way its frames must be consecutive ones of the camera."""
    return min((0, 1), key=lambda first: hand_gap(page, python_cut[first:first + len(page)]))


def test_fake_webcam_clip_agrees_with_python_extraction(site, tmp_path):
    full = site["clips"][CAMERA_CLIP]
    start = int(np.argmax(~np.isnan(full[:, layout.LEFT_HAND.start:, 0]).any(axis=1)))
    # One frame more than the recording: see first_frame_taken.
    cut = cut_video(VIDEOS / f"{CAMERA_CLIP}.mp4", start, CAMERA_FRAMES + 1, tmp_path / "cut" / "clip.avi")
    run_extraction(plan(tmp_path / "cut", tmp_path / "landmarks"), workers=1, progress=False)
    python_cut = read_landmark_clip(tmp_path / "landmarks" / "clip.npz")
    camera = tmp_path / "camera.y4m"
    y4m_from_video(cut, camera, 1)
    chromium = Chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-video-capture={camera}")
    try:
        open_page(chromium, site["url"], "?mode=practice&gloss=enjoy")
        # Software WebGL: the page must choose MediaPipe's CPU path (its GPU path takes ~20 s a frame there).
        assert chromium.evaluate("window.spoter.inference") == "cpu"
        chromium.evaluate("void window.spoter.recordCamera(1)")  # warm-up: MediaPipe's models load on first use
        _, error = wait_done(chromium, timeout=300)
        assert error.startswith("camera: too short, 1 frame;"), error  # one frame is no sign: said, not scored
        # The next getUserMedia opens the camera file anew: the recording starts at the cut's first or second frame.
        chromium.evaluate(f"void window.spoter.recordCamera({CAMERA_FRAMES})")
        result, error = wait_done(chromium, runs=2, timeout=10 * CAMERA_FRAMES + 60)
        assert error is None, error
        frames = chromium.evaluate("window.spoter.frames")
    finally:
        chromium.close()
    assert result["frames"] == len(python_cut) - 1 == CAMERA_FRAMES and result["skipped_frames"] == 0
    page = page_clip(frames)
    first = first_frame_taken(page, python_cut)
    python_clip = python_cut[first:first + CAMERA_FRAMES]
    # Consecutive camera frames by the camera's own clock (1 s apart, none lost between them), although
    # MediaPipe took longer than that on some (the first after a reset).
    gaps = np.diff(result["frame_times_ms"])
    assert len(gaps) == CAMERA_FRAMES - 1 and ((gaps > 500) & (gaps < 1500)).all(), gaps
    # Same frames in the same order: the page's hand points (where both saw them) lie where Python's do.
    hands = slice(layout.LEFT_HAND.start, layout.RIGHT_HAND.stop)
    both = ~np.isnan(page[:, hands, 0]) & ~np.isnan(python_clip[:, hands, 0])
    assert both.sum() > 0.5 * (~np.isnan(python_clip[:, hands, 0])).sum()
    assert hand_gap(page, python_clip) < HAND_TOLERANCE
    expected = python_embedding(site, python_clip)
    gap = np.linalg.norm(page_embedding(result) - expected)
    print(f"page vs Python: embedding distance {gap:.4f}, hand points {hand_gap(page, python_clip):.4f}, recording from "
          f"the camera's frame {first}; MediaPipe per frame (ms): {[round(ms) for ms in result['timings']['landmarks_frame_ms']]}")
    assert gap < CAMERA_TOLERANCE
    assert result["nearest"][0]["gloss"] == nearest_glosses(expected, site["embeddings"], site["labels"])[0][0]
    assert result["practice"]["gloss"] == "enjoy" and 0 <= result["practice"]["score"] <= 100


def test_landmark_file_agrees_with_python_to_1e4(site, browser, tmp_path):
    video = "68011"  # book
    path = landmark_json(site["landmarks"][video], tmp_path / f"{video}.json")
    open_page(browser, site["url"], "?mode=practice&gloss=Book")  # the index's "book", case aside
    browser.set_file("#landmark-file", path)
    result, error = wait_done(browser)
    assert error is None, error
    clip = read_landmark_clip(site["landmarks"][video])
    expected = embed_onnx(open_session(site["onnx"]), [clip])[0]
    assert np.abs(page_embedding(result) - expected).max() < 1e-4
    assert np.abs(page_embedding(result) - python_embedding(site, clip)).max() < 1e-4
    ranked = nearest_glosses(expected, site["embeddings"], site["labels"])
    assert [entry["gloss"] for entry in result["nearest"]] == [gloss for gloss, _ in ranked]
    np.testing.assert_allclose([entry["distance"] for entry in result["nearest"]], [d for _, d in ranked], atol=1e-4)
    with np.load(site["folder"] / "index.npz") as index:
        quantiles = index["score_quantiles"]
    score = practice_score(dict(ranked)["book"], quantiles)
    assert result["practice"]["gloss"] == "book"
    assert abs(result["practice"]["score"] - score) < 1e-2  # score points: distances agree to 1e-4
    assert result["timings"]["embedding_ms"] > 0 and result["frames"] == len(clip)
    # Search's verdict on the nearest gloss is retrieval.confidence's, and the page says it.
    assert result["verdict"] == match_verdict(ranked[0][1], quantiles)
    assert browser.evaluate("document.getElementById('verdict').textContent").lower().startswith(
        VERDICT_TEXT[result["verdict"]] + ":")
    # Clips by gloss, signer and file stem: the test index's clip ids are the videos' ids.
    nearest_clips = [int(np.argmin(np.where(np.array(site["labels"]) == entry["gloss"],
                                            np.linalg.norm(site["embeddings"] - expected, axis=1), np.inf)))
                     for entry in result["nearest"][:5]]
    names = [f"{site['labels'][i]} by {site['signers'][video_id]}, clip {video_id}"
             for i, video_id in ((i, list(site["clips"])[i]) for i in nearest_clips)]
    shown = "[...document.querySelectorAll('#nearest tbody td:last-child')].map((td) => td.textContent)"
    assert browser.evaluate(shown) == names


RESULT_PARTS = ["nearest", "practice", "verdict", "feedback", "replay-box"]


def result_shown(browser):
    """Which parts of a result the page shows."""
    return browser.evaluate(f"{json.dumps(RESULT_PARTS)}.filter((id) => !document.getElementById(id).hidden)")


def test_bad_input_gets_one_clear_message(site, browser, tmp_path):
    video = "68011"
    good = landmark_json(site["landmarks"][video], tmp_path / "good.json")
    no_hands = json.loads(good.read_text())
    no_hands["left_hand"] = no_hands["right_hand"] = [None] * len(no_hands["pose"])
    (tmp_path / "no_hands.json").write_text(json.dumps(no_hands))
    no_person = {**no_hands, "pose": [None] * len(no_hands["pose"])}
    (tmp_path / "no_person.json").write_text(json.dumps(no_person))
    short = {part: frames[:2] if isinstance(frames, list) else frames for part, frames in json.loads(good.read_text()).items()}
    (tmp_path / "short.json").write_text(json.dumps(short))
    (tmp_path / "broken.json").write_text('{"pose": [')
    (tmp_path / "broken.mp4").write_bytes(b"this is not a video" * 100)
    open_page(browser, site["url"], "?mode=practice&gloss=book")
    browser.set_file("#landmark-file", good)
    result, error = wait_done(browser)
    assert error is None and result["practice"]["gloss"] == "book"
    assert result_shown(browser) == RESULT_PARTS
    # Each case: (gloss typed, input, message). A gloss the index lacks is refused before MediaPipe reads a
    # frame of the video; every new input clears the previous result from the screen.
    cases = [("notagloss", "#video-file", VIDEOS / f"{video}.mp4", 'The index has no clip of the gloss "notagloss"'),
             ("notagloss", "#landmark-file", good, 'The index has no clip of the gloss "notagloss"'),
             ("", "#landmark-file", good, "Practice mode: type or choose the gloss"),
             ("BOOK", "#landmark-file", tmp_path / "no_hands.json", "no hands detected in any of its"),
             ("book", "#landmark-file", tmp_path / "no_person.json", "no person detected in any of its"),
             ("book", "#landmark-file", tmp_path / "short.json", "short.json: too short, 2 frames"),
             ("book", "#landmark-file", tmp_path / "broken.json", "broken.json: not a landmark file"),
             ("book", "#video-file", good, "good.json: not a video file"),
             ("book", "#video-file", tmp_path / "broken.mp4", "broken.mp4: this video cannot be decoded")]
    for run, (gloss, selector, path, message) in enumerate(cases, 2):
        browser.evaluate(f"document.getElementById('gloss').value = {json.dumps(gloss)}")
        browser.set_file(selector, path)
        result, error = wait_done(browser, runs=run, timeout=60)
        assert result is None and error is not None and message in error, (message, error)
        assert browser.evaluate("document.getElementById('message').hidden") is False
        assert result_shown(browser) == [], (message, result_shown(browser))
        if gloss == "notagloss":
            assert browser.evaluate("window.spoter.mediapipeFrames") == 0
    assert not [line for line in browser.console if "Uncaught" in line or "Unexpected error" in line], browser.console
    assert browser.errors == []


def test_a_video_file_is_read_in_full_and_alike_every_time(site, browser):
    """The same real 1080p file opened three times: every frame read (as many as preprocess.py extract
    read), in order, the same frames each time, so the same landmarks, embedding and result."""
    python_clip = site["clips"][VIDEO_CLIP]  # preprocess.py extract of the same file
    open_page(browser, site["url"])
    runs = []
    for run in range(1, 4):
        browser.set_file("#video-file", VIDEOS / f"{VIDEO_CLIP}.mp4")
        result, error = wait_done(browser, runs=run, timeout=900)
        assert error is None, error
        runs.append((result, browser.evaluate("window.spoter.frames"),
                     browser.evaluate("document.getElementById('status').textContent")))
    result, frames, status = runs[0]
    print(f"{VIDEO_CLIP}.mp4 in the page: {status}; MediaPipe {result['timings']['landmarks_ms'] / 1000:.1f} s")
    assert result["frames"] == len(frames) == len(python_clip) == 78 and result["unread_frames"] == 0
    assert status == f"{VIDEO_CLIP}.mp4: all 78 frames of the file read, hands in {result['hand_frames']}"
    # Each frame once, in order: the file's own times, 1/29.97 s apart.
    np.testing.assert_allclose(np.diff(result["frame_times_ms"]), 1000 / 29.97, atol=0.01)
    # The same frames each time (count, times), so the same landmarks: bit for bit in most runs, but in a few
    # MediaPipe's web build put the last frame's pose up to 0.0045 of the frame elsewhere (from the same
    # pixels, wherever they were checked), which moved the embedding by 0.005; clips of different glosses lie
    # 0.3 or more apart.
    page = page_clip(frames)
    for later, later_frames, later_status in runs[1:]:
        assert later_status == status and later["frame_times_ms"] == result["frame_times_ms"]
        landmarks_gap = np.nanmax(np.abs(page_clip(later_frames) - page))
        embedding_gap = np.linalg.norm(np.subtract(later["embedding"], result["embedding"]))
        same = "identical" if later_frames == frames else f"at most {landmarks_gap:.1e} apart"
        print(f"another run: landmarks {same}, embedding {embedding_gap:.1e} away")
        np.testing.assert_allclose(page_clip(later_frames), page, rtol=0, atol=LANDMARK_JITTER)
        assert embedding_gap < EMBEDDING_JITTER
        assert later["nearest"][0]["gloss"] == result["nearest"][0]["gloss"] and later["verdict"] == result["verdict"]
    # The frames are the file's, those Python read: the hands lie where Python's MediaPipe put them.
    gap = hand_gap(page, python_clip)
    print(f"hand points, page vs Python: {gap:.4f} of the frame")
    assert gap < HAND_TOLERANCE


@pytest.mark.parametrize("browser", [("--use-fake-device-for-media-stream", "--deny-permission-prompts")],
                         indirect=True)
def test_refused_camera_is_explained(site, browser):
    open_page(browser, site["url"])
    browser.evaluate("void window.spoter.recordCamera(10)")
    result, error = wait_done(browser, timeout=30)
    assert result is None and error.startswith("Camera access was refused")
    assert browser.errors == []


# The learner practises "book" and signs "enjoy" (19257: 71 frames, 320x240, H.264): every clip of the test
# index is in it, so a clip of the practised gloss would meet itself (all 100); another sign gets feedback to
# act on. (The book clips are MPEG-4 part 2, which Chromium cannot decode.)
PRACTICE_GLOSS, PRACTICE_CLIP = "book", "19257"
# The whole-flow test saves its screenshots here when set (the README's come from
# SPOTER_SCREENSHOTS=docs python -m pytest -m slow tests/test_web.py -k whole_practice_flow), else to a temporary folder.
SCREENSHOTS = os.environ.get("SPOTER_SCREENSHOTS")
PHONE_WIDTH = 390


def playback(browser, which):
    """Where the reference player or the side-by-side replay stands (``window.spoter.playback()``)."""
    return browser.evaluate(f"window.spoter.playback().{which}")


def picture(browser, canvas_id):
    """A digest of a canvas's pixels: it changes when the picture does."""
    return browser.evaluate(f"""(() => {{
        const canvas = document.getElementById({json.dumps(canvas_id)});
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let digest = 0;
        for (let i = 0; i < pixels.length; i += 4) {{
            digest = (digest * 31 + pixels[i] + 7 * pixels[i + 1] + 13 * pixels[i + 2]) >>> 0;
        }}
        return digest;
    }})()""")


def assert_animates(browser, which, canvas_id):
    """The player draws skeletons (bones, not dots) and its picture moves on by itself."""
    browser.wait_for(f"window.spoter.playback().{which}.drawn >= 2", 30)
    first, before = playback(browser, which), picture(browser, canvas_id)
    browser.wait_for(f"window.spoter.playback().{which}.drawn >= {first['drawn'] + 3}", 30)
    later = playback(browser, which)
    assert later["playing"] and later["bones"] > 10, later
    assert later["step"] != first["step"] and picture(browser, canvas_id) != before


def text_of(browser, selector):
    return browser.evaluate(f"[...document.querySelectorAll({json.dumps(selector)})].map((e) => e.textContent)")


def test_whole_practice_flow(site, browser, tmp_path):
    """A learner's way through the page, keyboard and clicks: find "book" in the list, watch its reference
    move, open a real WLASL video (of another sign), get the score, the per-part feedback and the side-by-side
    replay with its worst frames marked, see the score kept; then search with another clip and replay a
    nearest gloss. Screenshots of the page at desktop and phone widths (page_desktop.png, page_phone.png) go to
    $SPOTER_SCREENSHOTS when set."""
    open_page(browser, site["url"])
    # The list: every gloss of the index with its clips and signers.
    rows = text_of(browser, "#gloss-list button .name")
    assert rows == sorted(set(site["labels"]))
    counts = dict(zip(rows, text_of(browser, "#gloss-list button .counts")))
    assert counts["book"] == "3 clips, 3 signers" and counts["enjoy"] == "2 clips, 2 signers"
    assert counts["language"] == "2 clips, 1 signer"
    # Typed into the search box, chosen with the arrow key and Enter.
    browser.focus("#gloss")
    browser.type_text("bo")
    assert browser.evaluate("[...document.querySelectorAll('#gloss-list li')].filter((li) => !li.hidden).length") == 1
    browser.press("ArrowDown")
    assert browser.evaluate("document.activeElement.dataset.gloss") == PRACTICE_GLOSS
    browser.press("Enter")
    assert browser.evaluate("document.querySelector('input[value=\"practice\"]').checked")
    assert browser.evaluate("document.getElementById('gloss').value") == PRACTICE_GLOSS
    # Its reference clips play as a moving skeleton.
    assert_animates(browser, "reference", "reference")
    caption = browser.evaluate("document.getElementById('reference-caption').textContent")
    assert caption.startswith(f"{PRACTICE_GLOSS} by ")

    browser.set_file("#video-file", VIDEOS / f"{PRACTICE_CLIP}.mp4")
    result, error = wait_done(browser, timeout=900)
    assert error is None, error
    assert result["practice"]["gloss"] == PRACTICE_GLOSS and result["frames"] == len(site["clips"][PRACTICE_CLIP])
    score = round(result["practice"]["score"])
    said = browser.evaluate("document.getElementById('practice').textContent")
    assert said.startswith(f'"{PRACTICE_GLOSS}": score {score} / 100')
    # Per-part feedback, in plain words, one line per part on the page.
    parts = result["feedback"]["parts"]
    assert parts and all(part["sentence"] and 0 <= part["score"] <= 100 for part in parts), parts
    assert min(part["score"] for part in parts) < 70  # another sign: some part is off, and said to be
    shown = text_of(browser, "#feedback li")
    assert len(shown) == len(parts) and all(part["sentence"] in line for part, line in zip(parts, shown))
    # The replay: attempt and reference side by side along the alignment, moving, worst frames marked.
    replay = browser.evaluate("window.spoter.replay")
    path = np.array(replay["path"])
    assert replay["gloss"] == PRACTICE_GLOSS and result_shown(browser) == RESULT_PARTS
    assert (np.diff(path, axis=0) >= 0).all() and path[0].tolist() == [0, 0] and path[-1, 0] == result["frames"] - 1
    # Only the parts with something to fix mark their worst frames.
    marked_frames = {int(path[k, 0]) for k in replay["marked"]}
    to_fix = [part for part in parts if part["band"] != "close to the reference"]
    assert to_fix and marked_frames == {frame for part in to_fix for frame in part["worstFrames"]}
    assert_animates(browser, "replay", "replay")
    browser.wait_for("document.getElementById('replay-mark').textContent.startsWith('Largest difference here:')", 60)
    # The score is kept for the next visit.
    kept = browser.evaluate("JSON.parse(localStorage.getItem('spoter-embeddings.practice-scores'))")
    assert [entry["score"] for entry in kept[PRACTICE_GLOSS]] == [score]
    assert text_of(browser, "#history li") == [f"{PRACTICE_GLOSS}: 1 try: {score} (best {score})"]
    assert text_of(browser, f"#gloss-list button[data-gloss='{PRACTICE_GLOSS}'] .best") == [f"best {score}"]

    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(exist_ok=True)
    browser.screenshot(shots / "page_desktop.png")
    browser.set_width(PHONE_WIDTH, 844, mobile=True)
    # Nothing wider than the phone's screen: no sideways scrolling.
    assert browser.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    browser.screenshot(shots / "page_phone.png")
    browser.set_width(1280, 1000)

    # Search mode: another clip's nearest glosses, each replayed beside the attempt on a click.
    browser.evaluate("document.querySelector('input[value=\"search\"]').click()")
    browser.set_file("#landmark-file", landmark_json(site["landmarks"]["32156"], tmp_path / "language.json"))
    result, error = wait_done(browser, runs=2)
    assert error is None and result["practice"] is None and result["feedback"] is None
    other = result["nearest"][1]["gloss"]
    browser.evaluate("document.querySelectorAll('#nearest tbody button')[1].click()")
    assert browser.evaluate("window.spoter.replay.gloss") == other
    assert_animates(browser, "replay", "replay")
    assert browser.errors == [], browser.errors


def test_an_index_without_references_says_so(site, browser, tmp_path):
    """An index made before reference clips were stored: the sign is chosen and scored as before, and the
    page says that no reference can be shown, instead of failing."""
    old = tmp_path / "old_index.npz"
    write_test_index(old, site["checkpoint"], list(site["clips"].values()), site["labels"], list(site["clips"]),
                     list(site["signers"].values()))
    httpd, url = server.serve_in_background(site["onnx"], old)
    try:
        open_page(browser, url)
        browser.evaluate("document.querySelector('#gloss-list button[data-gloss=\"book\"]').click()")
        caption = browser.evaluate("document.getElementById('reference-caption').textContent")
        assert "no reference can be shown" in caption and not playback(browser, "reference")["playing"]
        browser.set_file("#landmark-file", landmark_json(site["landmarks"]["68011"], tmp_path / "book.json"))
        result, error = wait_done(browser)
        assert error is None and result["practice"]["gloss"] == "book" and result["feedback"] is None
        assert result_shown(browser) == ["nearest", "practice", "verdict", "feedback"]
        assert "no reference can be shown" in browser.evaluate("document.getElementById('feedback').textContent")
        assert browser.errors == [], browser.errors
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("browser", [("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")],
                         indirect=True)
def test_camera_button_counts_down_then_records(site, browser):
    """"Start camera" shows a count down over the live picture before recording; Chromium's fake camera
    (a test pattern, nobody in it) then gets the page's clear message, and no error in the console."""
    open_page(browser, site["url"], "?gloss=book")
    browser.evaluate("document.getElementById('seconds').value = '0.5'")
    browser.evaluate("document.getElementById('camera').click()")
    # From 3 down, a second each (polling may come in after the 3); then it goes and the recording starts.
    first = browser.wait_for("document.getElementById('countdown').textContent", 30)
    assert first in ("3", "2"), first
    browser.wait_for("document.getElementById('countdown').hidden", 30)
    result, error = wait_done(browser, timeout=300)
    assert result is None and "no person detected in any of its" in error, error
    assert browser.evaluate("window.spoter.mediapipeFrames") > 0
    assert browser.errors == [], browser.errors
