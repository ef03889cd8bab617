"""Lower layers never import higher ones: the model loads without the data readers, and the commands that
only use a model (search, export, the page's server) load nothing of training."""
import json
import subprocess
import sys

import pytest

from tests.conftest import REPOSITORY

HIGHER_THAN_MODELS = ("datasets", "training", "retrieval", "deploy", "augmentations", "web", "pandas")


def modules_loaded_by(statement):
    """The top-level packages of every module a fresh interpreter holds after ``statement``: a subprocess,
    because this test process has imported everything already."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_models_load_without_the_data_readers_or_training():
    loaded = modules_loaded_by("import models, models.checkpoint")
    assert "models" in loaded and "utils" in loaded  # the probe sees what it imported
    assert not loaded & set(HIGHER_THAN_MODELS), sorted(loaded & set(HIGHER_THAN_MODELS))


@pytest.mark.parametrize("command", ["search", "export", "serve"])
def test_commands_that_use_a_model_load_nothing_of_training(command):
    loaded = modules_loaded_by(f"import {command}")
    assert command in loaded and "training" not in loaded
