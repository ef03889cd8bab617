"""The scripts of results/ and benchmarks/: packages run with ``python -m``, and the features they compute."""
import subprocess
import sys

import torch

from results.letter_features import pooled_hands
from tests.conftest import REPOSITORY

SCRIPT_FOLDERS = ("results", "benchmarks")


def script_modules():
    return [f"{folder}.{path.stem}" for folder in SCRIPT_FOLDERS
            for path in sorted((REPOSITORY / folder).glob("*.py")) if path.stem != "__init__"]


def test_every_script_imports_as_a_package_module_without_the_tests():
    # A fresh interpreter at the repository root, as `python -m results.NAME` starts: nothing else on the path.
    probe = ("import importlib, sys\n"
             f"for name in {script_modules()!r}:\n"
             "    importlib.import_module(name)\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tests'))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
    for folder in SCRIPT_FOLDERS:
        assert not [path.name for path in (REPOSITORY / folder).glob("*.py") if "sys.path" in path.read_text()]


def test_pooled_hands_average_each_hand_over_the_frames_that_see_it():
    keypoints = torch.rand(1, 4, 54, 2)
    keypoints[0, 0, 12:33] = float("nan")  # left hand unseen in frame 0
    keypoints[0, 3] = 100.0  # padding
    mask = torch.tensor([[False, False, False, True]])
    pooled = pooled_hands(keypoints, mask)
    assert pooled.shape == (1, 2 * 43)
    torch.testing.assert_close(pooled[0, :42], keypoints[0, 1:3, 12:33].mean(dim=0).flatten())
    torch.testing.assert_close(pooled[0, 42], torch.tensor(2 / 3))
    torch.testing.assert_close(pooled[0, 43:85], keypoints[0, :3, 33:54].mean(dim=0).flatten())
    torch.testing.assert_close(pooled[0, 85], torch.tensor(1.0))
    keypoints[0, :, 33:54] = float("nan")
    assert pooled_hands(keypoints, mask)[0, 43:].eq(0).all()  # a hand never seen: zeros, share 0
