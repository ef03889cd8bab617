"""preprocess.py extract --shard K/N: N jobs cover every video once, with no coordination."""
import subprocess
import sys

from preprocessing.extract import plan, shard
from tests.conftest import REPOSITORY


def _videos(folder, names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # only names matter to the plan


def test_shards_cover_the_videos_once_and_stay_put_when_videos_are_added(tmp_path):
    videos = tmp_path / "videos"
    _videos(videos, [f"gloss{i % 7}/clip{i}.mp4" for i in range(300)])
    tasks = plan(videos, tmp_path / "out")
    shards = [shard(tasks, videos, index, 4) for index in range(4)]
    assert sorted(t.video for s in shards for t in s) == sorted(t.video for t in tasks)
    assert all(50 <= len(s) <= 100 for s in shards)  # about a quarter each (75 +- 7.5)
    assert shard(tasks, videos, 1, 4) == shards[1]  # deterministic
    _videos(videos, [f"new/clip{i}.mov" for i in range(50)])
    grown = [shard(plan(videos, tmp_path / "out"), videos, index, 4) for index in range(4)]
    for before, after in zip(shards, grown):
        assert set(t.video for t in before) <= set(t.video for t in after)


def _extract(*args):
    return subprocess.run([sys.executable, "preprocess.py", "extract", *args], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=120)


def test_the_shard_flag_selects_its_share_and_refuses_a_bad_spec(tmp_path):
    videos, out = tmp_path / "videos", tmp_path / "out"
    _videos(videos, [f"clip{i}.mp4" for i in range(20)])
    mine = shard(plan(videos, out), videos, 1, 3)
    for task in mine:  # finished already: the run has nothing to extract and needs no MediaPipe
        task.output.parent.mkdir(parents=True, exist_ok=True)
        task.output.write_bytes(b"")
    done = _extract(str(videos), str(out), "--shard", "2/3", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert f"shard 2/3: {len(mine)} of the 20 video(s)" in done.stderr
    assert f"{len(mine)} already done (skipped), 0 to extract" in done.stderr
    bad = _extract(str(videos), str(out), "--shard", "4/3")
    assert bad.returncode == 2 and "--shard" in bad.stderr and "shard 4 of 3: K must be between 1 and N" in bad.stderr
    assert "Traceback" not in bad.stderr
