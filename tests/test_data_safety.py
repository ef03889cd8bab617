"""Nothing already written is lost: outputs never alias inputs, run folders are replaced wholly and only once
a new run has started, --resume checks before it touches anything, temporaries never outlive a write."""
import errno
import json
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import evaluate
import preprocess
import train
from datasets import read_signs
from datasets.formats.spoter_csv import write_spoter_csv
from models import ModelConfig, build_model
from models import checkpoint as checkpoint_module
from models.checkpoint import save_checkpoint
from tests.conftest import TINY_MODEL_CONFIG, generated_sign_data
from training.recipe import RecipeConfig
from utils.atomic import TERMINATED, Terminated
from utils.errors import DataError

TINY = ["--epochs", "1", "--epoch_iters", "1", "--batch_size", "6", "--hidden_dim", "8", "--heads", "2",
        "--encoder_layers", "1", "--decoder_layers", "1", "--feedforward_dim", "8", "--conv_layers", "0",
        "--vector_length", "4", "--no_progress", "--no-hand_shape_features"]


@pytest.fixture
def data_files(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6)
    write_spoter_csv(data, tmp_path / "train.csv")
    write_spoter_csv(data.subset(np.arange(0, len(data), 2)), tmp_path / "val.csv")
    return tmp_path / "train.csv", tmp_path / "val.csv"


def run_train(tmp_path, data_files, *extra, name="run"):
    training, validation = data_files
    argv = TINY + ["--training_set_path", str(training), "--validation_set_path", str(validation),
                   "--output_dir", str(tmp_path / "runs"), "--experiment_name", name] + list(extra)
    train.main(train.get_args_parser().parse_args(argv))
    return tmp_path / "runs" / name


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def exits_with_one_line(capsys, main, argv):
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1 and "Traceback" not in error, error
    return error


def test_evaluate_refuses_to_write_its_json_onto_the_checkpoint_it_reads(tmp_path, data_files, capsys):
    path = tmp_path / "best.pt"
    save_checkpoint(path, config=TINY_MODEL_CONFIG, model=build_model(TINY_MODEL_CONFIG).state_dict())
    before = path.read_bytes()
    error = exits_with_one_line(capsys, evaluate.main, ["--checkpoint", path, "--data", data_files[0],
                                                        "--json", path])
    assert "--json" in error and "--checkpoint" in error and path.read_bytes() == before


def test_convert_refuses_its_own_source_and_a_name_it_would_not_write(tmp_path, data_files, capsys):
    source = data_files[0]
    before = source.read_bytes()
    error = exits_with_one_line(capsys, preprocess.main, ["convert", source, source])
    assert "destination" in error and source.read_bytes() == before
    error = exits_with_one_line(capsys, preprocess.main, ["convert", source, tmp_path / "signs.npz"])
    assert "writes a SPOTER CSV" in error and not (tmp_path / "signs.npz").exists()
    preprocess.main(["convert", str(source), str(tmp_path / "copy.csv.gz")])
    assert len(read_signs(tmp_path / "copy.csv.gz")) == len(read_signs(source))


def test_overwrite_replaces_the_old_run_wholly_and_a_failing_one_leaves_it_intact(tmp_path, data_files):
    folder = run_train(tmp_path, data_files, "--epochs", "2", "--save_checkpoints_every", "1")
    assert {"checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt"} <= set(os.listdir(folder))
    old = snapshot(folder)
    with pytest.raises(DataError, match="absent.csv: file not found"):
        run_train(tmp_path, (tmp_path / "absent.csv", data_files[1]), "--overwrite")
    assert snapshot(folder) == old
    assert os.listdir(tmp_path / "runs") == ["run"]  # no staging folder left behind
    run_train(tmp_path, data_files, "--overwrite")
    assert not any(name.startswith("checkpoint_epoch_") for name in os.listdir(folder))
    assert [json.loads(line)["epoch"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == [1]
    assert os.listdir(tmp_path / "runs") == ["run"]


def test_resume_refuses_another_model_recipe_or_data_before_touching_the_run(tmp_path, data_files):
    folder = run_train(tmp_path, data_files)
    old = snapshot(folder)
    with pytest.raises(DataError, match=r"--hidden_dim 16 \(the run has 8\)"):
        run_train(tmp_path, data_files, "--resume", "--epochs", "2", "--hidden_dim", "16")
    with pytest.raises(DataError, match=r"--lr 0.01 \(the run has 0.001\)"):
        run_train(tmp_path, data_files, "--resume", "--epochs", "2", "--lr", "0.01")
    other = generated_sign_data(np.random.default_rng(1), classes=3, per_class=6)
    write_spoter_csv(other, tmp_path / "other.csv")
    with pytest.raises(DataError, match="the data are not the run's"):
        run_train(tmp_path, (tmp_path / "other.csv", data_files[1]), "--resume", "--epochs", "2")
    assert snapshot(folder) == old  # args.json and metrics.jsonl untouched
    run_train(tmp_path, data_files, "--resume", "--epochs", "2")
    assert torch.load(folder / "last.pt", weights_only=True)["epoch"] == 2


def test_a_run_stored_before_a_setting_existed_resumes_with_that_settings_old_value(tmp_path, data_files):
    folder = run_train(tmp_path, data_files, "--fixed_frames", "0")
    state = torch.load(folder / "last.pt", weights_only=True)
    for stored, config in ((state["config"], ModelConfig), (state["recipe"], RecipeConfig)):
        for name in config.ADDED_LATER:
            del stored[name]
    torch.save(state, folder / "last.pt")
    # Today's default (20) is not what the run used: refused by name, and resumed with the run's value.
    with pytest.raises(DataError, match=r"--fixed_frames 20 \(the run has 0\)"):
        run_train(tmp_path, data_files, "--resume", "--epochs", "2")
    run_train(tmp_path, data_files, "--resume", "--epochs", "2", "--fixed_frames", "0")
    assert torch.load(folder / "last.pt", weights_only=True)["epoch"] == 2


def test_a_checkpoint_stores_each_setting_once_and_an_older_one_with_its_copy_of_the_flags_resumes(tmp_path,
                                                                                                   data_files):
    folder = run_train(tmp_path, data_files)
    state = torch.load(folder / "last.pt", weights_only=True)
    assert "args" not in state and not state["config"].keys() & state["recipe"].keys()
    assert state["config"]["num_classes"] == len(state["class_names"])  # the data's count, in a new config
    state["args"] = {**state["recipe"], **state["config"]}  # the copy of every flag that runs stored before kept
    torch.save(state, folder / "last.pt")
    run_train(tmp_path, data_files, "--resume", "--epochs", "2")
    assert torch.load(folder / "last.pt", weights_only=True)["epoch"] == 2


def test_a_run_stored_with_a_removed_setting_resumes_only_when_that_setting_was_off(tmp_path, data_files):
    folder = run_train(tmp_path, data_files)
    state = torch.load(folder / "last.pt", weights_only=True)
    state["config"].update(ModelConfig.REMOVED)
    state["recipe"].update(RecipeConfig.REMOVED)
    torch.save(state, folder / "last.pt")
    run_train(tmp_path, data_files, "--resume", "--epochs", "2")  # off: the run behaves as today's code does
    state = torch.load(folder / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and not RecipeConfig.REMOVED.keys() & state["recipe"].keys()
    state["recipe"]["ema_decay"] = 0.995
    torch.save(state, folder / "last.pt")
    with pytest.raises(DataError, match=r"--resume .*last\.pt: recipe: --ema_decay 0\.995 was removed \(commit "
                                        r"9533c63 has it\); only its old default 0\.0 still loads"):
        run_train(tmp_path, data_files, "--resume", "--epochs", "3")


def test_resume_without_a_run_is_one_line(tmp_path, data_files, capsys):
    error = exits_with_one_line(capsys, lambda argv: train.run_command(train.main, train.get_args_parser(), argv),
                                ["--resume", "--output_dir", tmp_path, "--experiment_name", "none"])
    assert "no run to resume" in error and not (tmp_path / "none").exists()


def test_sigterm_during_a_checkpoint_write_leaves_no_temporary_and_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, epoch=1)
    before = path.read_bytes()
    real_save = torch.save

    def save_then_get_killed(state, file):
        real_save(state, file)  # half the story: the temporary is written, not yet renamed
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(checkpoint_module.torch, "save", save_then_get_killed)
    with pytest.raises(Terminated) as stop:
        save_checkpoint(path, epoch=2)
    assert stop.value.code == TERMINATED == 143
    assert os.listdir(tmp_path) == ["last.pt"] and path.read_bytes() == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_damaged_cache_entry_is_discarded_and_rebuilt_with_a_warning(tmp_path, data_files, caplog):
    cache = tmp_path / "cache"
    first = read_signs(data_files[0], cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:200])
    again = read_signs(data_files[0], cache)
    assert "damaged cache entry" in caplog.text
    np.testing.assert_array_equal(again.keypoints, first.keypoints)
    assert np.load(entry)["keypoints"].shape == first.keypoints.shape  # rebuilt, readable again


def test_save_checkpoints_every_keeps_exactly_those_epochs(tmp_path, data_files):
    folder = run_train(tmp_path, data_files, "--epochs", "3", "--save_checkpoints_every", "2")
    kept = sorted(name for name in os.listdir(folder) if name.startswith("checkpoint_epoch_"))
    assert kept == ["checkpoint_epoch_2.pt"]
    assert torch.load(folder / "checkpoint_epoch_2.pt", weights_only=True)["epoch"] == 2
    assert torch.load(folder / "last.pt", weights_only=True)["epoch"] == 3


def test_an_epoch_is_the_same_whatever_the_worker_count(tmp_path, data_files):
    runs = [run_train(tmp_path, data_files, "--epochs", "2", "--epoch_iters", "-1", "--num_workers", str(workers),
                      name=f"workers{workers}") for workers in (0, 2)]
    records = [[json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()] for folder in runs]
    assert len(records[0]) == len(records[1]) == 2
    for first, second in zip(*records):
        assert first["train_loss"] == second["train_loss"] and first["silhouette_val"] == second["silhouette_val"]


def deny_writing(monkeypatch, folder, access=True):
    """What the kernel answers a user without write permission on ``folder``, or for an immutable folder:
    access() says no (unless ``access`` is left as it is) and moving it fails. The tests run as root, whom
    permissions do not stop."""
    real_access, real_replace = os.access, os.replace

    def denied_access(path, mode, **flags):
        return not (Path(path) == folder and mode & os.W_OK) and real_access(path, mode, **flags)

    def denied_replace(source, destination, **flags):
        if Path(source) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(source))
        return real_replace(source, destination, **flags)

    if access:
        monkeypatch.setattr(os, "access", denied_access)
    monkeypatch.setattr(os, "replace", denied_replace)


@pytest.mark.parametrize("flags", [["--overwrite"], ["--resume", "--epochs", "2"]])
def test_a_run_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, data_files, monkeypatch, flags):
    folder = run_train(tmp_path, data_files)
    old = snapshot(folder)
    deny_writing(monkeypatch, folder)
    monkeypatch.setattr(train, "train", lambda *args: pytest.fail("trained before checking the run folder"))
    with pytest.raises(DataError, match=f"{folder}: not writable, but --{flags[0][2:]}"):
        run_train(tmp_path, data_files, *flags)
    assert snapshot(folder) == old and os.listdir(tmp_path / "runs") == ["run"]


def test_a_run_folder_that_becomes_unmovable_keeps_both_runs_and_no_empty_folder(tmp_path, data_files, monkeypatch):
    folder = run_train(tmp_path, data_files)
    old = snapshot(folder)
    deny_writing(monkeypatch, folder, access=False)  # passes the check, fails when the new run takes its place
    with pytest.raises(DataError, match=r"the new run cannot take its place \(Permission denied\); it is kept in"):
        run_train(tmp_path, data_files, "--overwrite")
    assert snapshot(folder) == old
    left = sorted(os.listdir(tmp_path / "runs"))
    assert len(left) == 2 and left[0].startswith(".run.new-") and left[1] == "run"  # no .run.old-*
    assert torch.load(tmp_path / "runs" / left[0] / "last.pt", weights_only=True)["epoch"] == 1  # the epoch is kept


def test_resume_on_data_of_another_class_count_names_the_data_not_num_classes(tmp_path, data_files):
    run_train(tmp_path, data_files)
    write_spoter_csv(generated_sign_data(np.random.default_rng(1), classes=4, per_class=6), tmp_path / "four.csv")
    with pytest.raises(DataError) as refused:
        run_train(tmp_path, (tmp_path / "four.csv", data_files[1]), "--resume", "--epochs", "2")
    message = str(refused.value)
    assert "num_classes" not in message
    assert f"the data are not the run's: --training_set_path {tmp_path / 'four.csv'} --validation_set_path" in message
    assert "4 classes, content fingerprint" in message
    assert f"the run trained on --training_set_path {data_files[0]} " in message and "3 classes" in message


def test_ctrl_c_during_the_final_plots_says_the_run_is_complete_and_what_is_not_drawn(tmp_path, data_files,
                                                                                     monkeypatch, caplog):
    real_load_model = train.load_model

    def load_then_interrupt(*args):  # finish() loads best.pt first: Ctrl-C while the plots are under way
        os.kill(os.getpid(), signal.SIGINT)
        return real_load_model(*args)

    monkeypatch.setattr(train, "load_model", load_then_interrupt)
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stop:
        run_train(tmp_path, data_files)
    folder = tmp_path / "runs" / "run"
    assert stop.value.code == 130 and "Continue it with" not in caplog.text
    assert "SIGINT received after the last epoch: the run is complete" in caplog.text
    assert "not drawn: embeddings_t-SNE.html, training_curves.html" in caplog.text
    assert torch.load(folder / "last.pt", weights_only=True)["epoch"] == 1
    assert not (folder / "embeddings_t-SNE.html").exists()
    monkeypatch.setattr(train, "load_model", real_load_model)
    run_train(tmp_path, data_files, "--resume")  # as the message says: draws them, trains nothing again
    assert (folder / "embeddings_t-SNE.html").exists() and (folder / "training_curves.html").exists()
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_best_metric_undefined_in_every_epoch_is_said_so_not_minus_infinity(tmp_path, data_files, caplog):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6)
    write_spoter_csv(data.subset([0, 6, 12]), tmp_path / "one_each.csv")  # one clip per class: no silhouette
    with caplog.at_level(logging.INFO):
        run_train(tmp_path, (data_files[0], tmp_path / "one_each.csv"), "--epochs", "2")
    assert "best silhouette_val undefined in every epoch" in caplog.text and "-inf" not in caplog.text
