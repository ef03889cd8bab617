"""ClearML tracking and dataset loading.

Real ClearML (offline mode) wherever no server is needed: train.py runs with ``--tracker clearml`` and
``CLEARML_OFFLINE_MODE=1`` in a subprocess whose HOME and ClearML cache are temporary, under an audit hook
that refuses (and records) every network lookup or connection, and the recorded session zip is checked
against the run's own files. Enqueueing, output-model registration, task status and dataset download need
a server: those seams are tested with ``create_autospec`` mocks of ``clearml.Task`` (calls must match its real
signatures) and a stand-in for ``clearml.Dataset.get``, named as such.
"""
import argparse
import inspect
import json
import os
import subprocess
import sys
import zipfile
from unittest.mock import create_autospec

import numpy as np
import pytest

import train
from datasets import DEFAULT_TRAINING_SET, read_signs
from datasets.formats.spoter_csv import write_spoter_csv
from tests.conftest import REPOSITORY
from utils.errors import DataError
from utils.run_files import read_metrics
from utils.trackers import Tracker

# The published recipe, so that its triplet series are reported under their published names.
TINY = ["@" + str(REPOSITORY / "recipes" / "published.txt"),
        "--epochs", "2", "--epoch_iters", "3", "--hard_triplet_mining", "in_batch", "--batch_size", "16",
        "--hidden_dim", "36", "--heads", "3", "--encoder_layers", "1", "--decoder_layers", "1",
        "--feedforward_dim", "64", "--eval_max_clips", "300", "--no_progress"]
PUBLISHED_SERIES = {("train_loss", "loss"), ("silhouette_coefficient", "train"), ("silhouette_coefficient", "val"),
                    ("triplets", "valid_triplets"), ("triplets", "used_triplets"), ("triplets_pct", "pct_used"),
                    ("lr", "lr")}

# Runs a script as __main__ under an audit hook that makes every network lookup or connection fail at once
# (so a mistake cannot hang the test) and writes it to the file named by the first argument.
NO_NETWORK_RUNNER = """
import runpy, sys
attempts = open(sys.argv[1], "w")
def refuse_network(event, args):
    if event == "socket.getaddrinfo" or (event == "socket.connect" and isinstance(args[1], tuple)):
        attempts.write(f"{event} {args[:2]}\\n")
        attempts.flush()
        raise OSError("network refused by the test")
sys.addaudithook(refuse_network)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def clearml_env(tmp_path, offline=True):
    """The environment without any ClearML setting of this machine, with a temporary HOME and cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), CLEARML_CACHE_DIR=str(tmp_path / "clearml-cache"), OMP_NUM_THREADS="1")
    if offline:
        env["CLEARML_OFFLINE_MODE"] = "1"
        # report from a thread: ClearML's default reporting subprocess makes close() wait ~10 s on its liveness
        # check, and the recorded events are the same either way
        (home / "clearml.conf").write_text("sdk { development { report_use_subprocess: false } }\n")
    return env


def run_offline(tmp_path, script, *args):
    attempts = tmp_path / "network_attempts.txt"
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_RUNNER, str(attempts), str(script), *map(str, args)],
        cwd=REPOSITORY, env=clearml_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert attempts.read_text() == "", "offline mode must not touch the network"
    sessions = list((tmp_path / "clearml-cache" / "offline").glob("*.zip"))
    assert len(sessions) == 1, sessions
    return zipfile.ZipFile(sessions[0])


def recorded_events(session):
    return [event for line in session.read("metrics.jsonl").decode().splitlines() if line.strip()
            for event in json.loads(line)]


def recorded_scalars(session):
    return {(e["metric"], e["variant"], e["iter"]): e["value"]
            for e in recorded_events(session) if e["type"] == "training_stats_scalar"}


def artifact_bytes(session, task, key):
    """The bytes of artifact ``key`` as stored in the session, where its recorded URI points."""
    (artifact,) = [a for a in task["execution"]["artifacts"] if a["key"] == key]
    member = os.path.relpath(artifact["uri"], task["offline_folder"])
    return session.read(member)


@pytest.mark.slow
def test_offline_training_session_matches_the_run_files(tmp_path):
    from utils.clearml_tracker import series_of

    out = tmp_path / "out"
    session = run_offline(tmp_path, "train.py", *TINY, "--tracker", "clearml", "--output_dir", out,
                          "--experiment_name", "offline")
    folder = out / "offline"
    records = read_metrics(folder / "metrics.jsonl")
    scalars = recorded_scalars(session)
    assert PUBLISHED_SERIES <= {(title, series) for title, series, _ in scalars}
    for record in records:
        for key, value in record.items():
            if key != "epoch":
                assert scalars[(*series_of(key), record["epoch"])] == value, key
    assert len(scalars) == sum(len(record) - 1 for record in records)

    task = json.loads(session.read("task.json"))
    assert task["project_name"] == "spoter" and task["name"] == "offline"
    arguments = {name: entry["value"] for name, entry in task["hyperparams"]["Args"].items()}
    run_args = json.loads((folder / "args.json").read_text())
    assert set(arguments) == set(run_args)
    assert (arguments["epochs"], arguments["batch_size"], arguments["tracker"]) == ("2", "16", "clearml")
    assert json.loads(arguments["exclude_labels"]) == run_args["exclude_labels"]

    assert artifact_bytes(session, task, "metrics") == (folder / "metrics.jsonl").read_bytes()
    assert artifact_bytes(session, task, "best") == (folder / "best.pt").read_bytes()


def test_offline_session_of_a_failed_run_keeps_its_figure_and_scalars_without_nan(tmp_path):
    script = tmp_path / "log_figure.py"
    script.write_text(
        "import argparse\n"
        "import plotly.graph_objects as go\n"
        "from utils.clearml_tracker import ClearMLTracker\n"
        "tracker = ClearMLTracker(argparse.Namespace(experiment_name='figure', execute_remotely=''))\n"
        "tracker.log_metrics(3, {'epoch': 3, 'train_loss': 0.5, 'silhouette_val': float('nan')})\n"
        "figure = go.Figure(go.Scatter(x=[0.1, 0.7], y=[1.5, 2.5], mode='markers', text=['hello', 'thanks']))\n"
        "tracker.log_figure('embeddings', figure)\n"
        "try:\n"
        "    raise RuntimeError('loss is NaN')\n"
        "except RuntimeError:\n"
        "    tracker.close(failed=True)\n"
    )
    session = run_offline(tmp_path, script)
    assert recorded_scalars(session) == {("train_loss", "loss", 3): 0.5}
    (plot,) = [e for e in recorded_events(session) if e["type"] == "plot"]
    assert (plot["metric"], plot["variant"], plot["iter"]) == ("embeddings", "embeddings", 3)
    (trace,) = json.loads(plot["plot_str"])["data"]
    assert (trace["x"], trace["y"], trace["text"]) == ([0.1, 0.7], [1.5, 2.5], ["hello", "thanks"])


@pytest.mark.slow
def test_tracker_none_never_imports_clearml(tmp_path):
    code = (
        "import sys, train\n"
        "train.main(train.get_args_parser().parse_args(sys.argv[1:]))\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'clearml'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *TINY, "--epochs", "1", "--epoch_iters", "1", "--output_dir", str(tmp_path)],
        cwd=REPOSITORY, env=clearml_env(tmp_path, offline=False), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def run_train_cli(tmp_path, *args, offline=False):
    return subprocess.run(
        [sys.executable, "train.py", "--output_dir", str(tmp_path / "out"), *args],
        cwd=REPOSITORY, env=clearml_env(tmp_path, offline), capture_output=True, text=True, timeout=120,
    )


def test_tracker_without_a_configured_server_explains_what_to_do(tmp_path):
    result = run_train_cli(tmp_path, "--tracker", "clearml")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "ClearML has no server configured" in result.stderr and "CLEARML_OFFLINE_MODE=1" in result.stderr


def test_execute_remotely_is_refused_in_offline_mode(tmp_path):
    result = run_train_cli(tmp_path, "--tracker", "clearml", "--execute_remotely", "gpu", offline=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--execute_remotely gpu: enqueueing needs a ClearML server" in result.stderr
    assert not (tmp_path / "clearml-cache" / "offline").exists()


@pytest.mark.parametrize("offline, message", [
    (False, "ClearML has no server configured on this machine; configure a server with `clearml-init`"),
    (True, "ClearML is in offline mode (CLEARML_OFFLINE_MODE), so no dataset can be fetched"),
])
def test_dataset_loader_without_a_server_explains_what_to_do(tmp_path, offline, message):
    result = run_train_cli(tmp_path, "--dataset_loader", "clearml", "--dataset_name", "wlasl", offline=offline)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--dataset_loader clearml (--dataset_project 'Sign Language Recognition', --dataset_name 'wlasl')" \
        in result.stderr
    assert message in result.stderr


def test_dataset_loader_requires_a_dataset_name():
    from datasets.clearml_loader import download_dataset

    with pytest.raises(DataError, match="--dataset_name is required"):
        download_dataset("Sign Language Recognition", "")


class StandInDataset:
    """Stand-in for a ClearML dataset (a download needs a server): its local copy is a prepared folder."""

    def __init__(self, folder):
        self.folder = folder

    def get_local_copy(self):
        return str(self.folder)


@pytest.mark.slow
def test_training_reads_the_files_inside_the_clearml_dataset_copy(tmp_path, monkeypatch):
    import clearml

    copy = tmp_path / "dataset-copy"
    data = read_signs(DEFAULT_TRAINING_SET)
    five_classes = np.flatnonzero(np.isin(data.labels, sorted(set(data.labels) - {"_idle"})[:5]))
    write_spoter_csv(data.subset(five_classes), copy / "train.csv")
    requested = []

    def stand_in_get(**query):
        requested.append(query)
        return StandInDataset(copy)

    monkeypatch.setattr(clearml.Dataset, "get", stand_in_get)
    args = train.get_args_parser().parse_args(
        TINY + ["--epochs", "1", "--dataset_loader", "clearml", "--dataset_project", "Signs", "--dataset_name",
                "asl-five", "--training_set_path", "train.csv", "--output_dir", str(tmp_path / "out")])
    train.main(args)
    assert requested == [{"dataset_project": "Signs", "dataset_name": "asl-five"}]
    names = json.loads((tmp_path / "out" / args.experiment_name / "class_names.json").read_text())
    assert sorted(names.values()) == sorted(set(data.labels[five_classes]))


@pytest.fixture
def task(monkeypatch):
    """``clearml.Task`` replaced by autospecced mocks (enqueueing, output models and task status only act on a
    ClearML server, which the tests do not have): every call must match the real signatures."""
    from clearml import Logger, Task

    from utils import clearml_tracker

    task_class = create_autospec(Task)
    task_class.is_offline.return_value = False
    instance = create_autospec(Task, instance=True)
    instance.is_offline.return_value = False
    instance.get_logger.return_value = create_autospec(Logger, instance=True)
    task_class.init.return_value = instance
    monkeypatch.setattr(clearml_tracker, "Task", task_class)
    return task_class, instance


def make_tracker(queue=""):
    from utils import clearml_tracker

    return clearml_tracker.ClearMLTracker(argparse.Namespace(experiment_name="run", execute_remotely=queue))


def task_calls(instance):
    """Names of the calls made on the task itself (not on its logger), in order."""
    return [name for name, _, _ in instance.mock_calls if "." not in name and name != "get_logger"]


def test_execute_remotely_enqueues_after_connecting_the_arguments(task):
    task_class, instance = task
    make_tracker(queue="gpu").log_config({"lr": 0.001})
    assert task_calls(instance) == ["connect", "execute_remotely"]
    instance.connect.assert_called_once_with({"lr": 0.001}, name="Args")
    instance.execute_remotely.assert_called_once_with(queue_name="gpu", exit_process=True)
    options = task_class.init.call_args.kwargs
    assert options["project_name"] == "spoter" and options["task_name"] == "run"
    assert options["auto_connect_frameworks"]["pytorch"] is False


def test_without_execute_remotely_nothing_is_enqueued(task):
    _, instance = task
    tracker = make_tracker()
    tracker.log_config({"lr": 0.001})
    tracker.close()
    assert task_calls(instance) == ["connect", "close"]
    instance.execute_remotely.assert_not_called()


def test_a_failed_run_is_marked_failed_before_closing(task):
    _, instance = task
    tracker = make_tracker()
    try:
        raise RuntimeError("loss is NaN")
    except RuntimeError:
        tracker.close(failed=True)
    assert task_calls(instance) == ["mark_failed", "close"]
    instance.mark_failed.assert_called_once_with(status_reason="RuntimeError: loss is NaN", force=True)


def test_online_best_checkpoint_is_an_output_model_and_stays_on_disk(task, tmp_path):
    _, instance = task
    make_tracker().log_model(tmp_path / "best.pt", "best")
    instance.update_output_model.assert_called_once_with(model_path=str(tmp_path / "best.pt"), name="best",
                                                         auto_delete_file=False)
    instance.upload_artifact.assert_not_called()


def test_metrics_go_to_the_published_series_without_nan(task):
    _, instance = task
    make_tracker().log_metrics(3, {"epoch": 3, "train_loss": 0.5, "silhouette_val": float("nan"), "seconds_data": 1.5})
    logger = instance.get_logger.return_value
    assert [call.args[:2] + (call.kwargs["value"], call.kwargs["iteration"])
            for call in logger.report_scalar.call_args_list] == [("train_loss", "loss", 0.5, 3),
                                                                 ("seconds", "data", 1.5, 3)]


def test_the_clearml_tracker_has_every_method_of_the_tracker_interface():
    from utils.clearml_tracker import ClearMLTracker

    for name, method in vars(Tracker).items():
        if callable(method) and not name.startswith("_"):
            assert inspect.signature(getattr(ClearMLTracker, name)) == inspect.signature(method), name


class AgentStandInTracker(Tracker):
    """Stand-in for the ClearML tracker on an agent, where connecting the arguments replaces them with the
    enqueued run's (that needs a server and an agent)."""

    def log_config(self, config):
        config["experiment_name"] = "enqueued"


@pytest.mark.slow
def test_the_run_uses_the_arguments_as_replaced_when_connected(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "build_tracker", lambda args: AgentStandInTracker())
    train.main(train.get_args_parser().parse_args(TINY + [
        "--epochs", "1", "--epoch_iters", "1", "--experiment_name", "local", "--output_dir", str(tmp_path / "out")]))
    assert [folder.name for folder in (tmp_path / "out").iterdir()] == ["enqueued"]
    assert read_metrics(tmp_path / "out" / "enqueued" / "metrics.jsonl")[0]["epoch"] == 1
