"""End-to-end runs of train.py on the bundled real data (few steps each) and its error paths."""
import json
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch

import train
from datasets import build_dataset
from datasets.clip_dataset import ClipDataset
from datasets.formats.spoter_csv import write_spoter_csv
from models import ModelConfig
from models.checkpoint import load_model
from retrieval.embedding import embed
from tests.conftest import REPOSITORY, generated_sign_data
from training.recipe import build_configs
from utils.errors import DataError
from utils.run_files import read_metrics

FAST = ["--epochs", "2", "--epoch_iters", "3", "--batch_size", "16", "--hidden_dim", "36", "--heads", "3",
        "--encoder_layers", "1", "--decoder_layers", "1", "--feedforward_dim", "64", "--conv_layers", "1",
        "--eval_max_clips", "300", "--no_progress"]
PUBLISHED = "@" + str(REPOSITORY / "recipes" / "published.txt")


def _run(tmp_path, *extra, name="run"):
    args = train.get_args_parser().parse_args(FAST + ["--output_dir", str(tmp_path), "--experiment_name", name]
                                              + list(extra))
    train.main(args)
    return tmp_path / name


@pytest.mark.slow
def test_default_run_writes_documented_outputs(tmp_path):
    folder = _run(tmp_path)
    assert {p.name for p in folder.iterdir()} - {"embeddings_t-SNE.png", "training_curves.png"} == {
        "best.pt", "last.pt", "metrics.jsonl", "class_names.json", "args.json", "embeddings_t-SNE.html",
        "training_curves.html"}
    records = read_metrics(folder / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2]
    for key in ("train_loss", "silhouette_train", "silhouette_val", "val_top1", "val_top5", "val_mAP", "lr"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert records[0]["lr"] > records[1]["lr"] == 0  # the cosine schedule ends at 0 with the last step
    checkpoint = torch.load(folder / "last.pt", weights_only=True)
    names = json.loads((folder / "class_names.json").read_text())
    assert checkpoint["class_names"] == [names[str(i)] for i in range(len(names))]
    assert checkpoint["epoch"] == 2 and checkpoint["config"]["hidden_dim"] == 36


@pytest.mark.slow
def test_same_seed_repeats_a_cpu_run_exactly(tmp_path):
    first = read_metrics(_run(tmp_path, name="a") / "metrics.jsonl")
    second = read_metrics(_run(tmp_path, name="b") / "metrics.jsonl")
    assert len(first) == len(second) == 2
    for a, b in zip(first, second):
        assert a["train_loss"] == b["train_loss"] and a["silhouette_val"] == b["silhouette_val"]


@pytest.mark.slow
def test_proxy_loss_run_stores_and_resumes_its_proxies(tmp_path):
    whole = read_metrics(_run(tmp_path, "--loss", "supcon+proxy", "--epochs", "2", "--lr_schedule", "plateau",
                              name="whole") / "metrics.jsonl")
    _run(tmp_path, "--loss", "supcon+proxy", "--epochs", "1", "--lr_schedule", "plateau", name="cut")
    proxies = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["criterion"]["proxy.proxies"]
    assert proxies.shape[1] == ModelConfig().vector_length
    resumed = read_metrics(_run(tmp_path, "--loss", "supcon+proxy", "--epochs", "2", "--lr_schedule", "plateau",
                                "--resume", name="cut") / "metrics.jsonl")
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in whole]


@pytest.mark.slow
def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    # A plateau schedule, because a cosine schedule's length is --epochs, which this test changes on resume.
    whole = read_metrics(_run(tmp_path, "--epochs", "3", "--lr_schedule", "plateau", name="whole") / "metrics.jsonl")
    _run(tmp_path, "--epochs", "1", "--lr_schedule", "plateau", name="cut")
    resumed = read_metrics(_run(tmp_path, "--epochs", "3", "--lr_schedule", "plateau", "--resume", name="cut")
                           / "metrics.jsonl")
    assert [r["epoch"] for r in resumed] == [1, 2, 3]
    assert len(whole) == len(resumed) == 3
    for a, b in zip(whole, resumed):
        assert a["train_loss"] == b["train_loss"] and a["silhouette_val"] == b["silhouette_val"]


@pytest.mark.slow
def test_published_recipe_with_mining_epochs_and_classifier_run(tmp_path):
    mined = read_metrics(_run(tmp_path, PUBLISHED, *FAST, "--start_mining_hard", "2",
                              "--hard_mining_pre_batch_multipler", "4", "--hard_mining_pre_batch_mining_count", "2",
                              name="mined") / "metrics.jsonl")
    assert "mining_threshold" not in mined[0] and "mining_threshold" in mined[1]
    assert all(r["valid_triplets"] >= r["used_triplets"] > 0 for r in mined)
    folder = _run(tmp_path, "--classification_model", name="cls")
    classifier = read_metrics(folder / "metrics.jsonl")
    # the recorded accuracy is the last model's argmax accuracy on the validation split, recomputed here
    recipe, model_config = build_configs(train.get_args_parser().parse_args(FAST + ["--classification_model"]))
    data = build_dataset(recipe, model_config.classification_model)
    model, _ = load_model(folder / "last.pt")
    logits = embed(model, ClipDataset(data.validation, data.class_ids(data.validation.labels)), "cpu")
    expected = (logits.argmax(1) == data.class_ids(data.validation.labels)).mean()
    assert classifier[-1]["val_accuracy"] == pytest.approx(expected)


@pytest.mark.slow
def test_existing_run_is_not_overwritten_by_accident(tmp_path):
    folder = _run(tmp_path)
    before = (folder / "metrics.jsonl").read_text()
    with pytest.raises(DataError, match="already holds a run"):
        _run(tmp_path)
    assert (folder / "metrics.jsonl").read_text() == before


def test_single_clip_class_and_oversized_batch_are_refused(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=4)
    lonely = data.subset(np.arange(len(data) - 3))  # the last class keeps one clip
    write_spoter_csv(lonely, tmp_path / "lonely.csv")
    write_spoter_csv(data, tmp_path / "val.csv")
    common = ["--training_set_path", str(tmp_path / "lonely.csv"), "--validation_set_path", str(tmp_path / "val.csv")]
    with pytest.raises(DataError, match=r"lonely\.csv: class\(es\) sign2 have a single training clip"):
        _run(tmp_path, *common, "--batch_size", "4", name="lonely")
    write_spoter_csv(data, tmp_path / "small.csv")
    with pytest.raises(DataError, match=r"small\.csv: --batch_size 16 is larger than the 12 training clips"):
        _run(tmp_path, "--training_set_path", str(tmp_path / "small.csv"), "--validation_set_path",
             str(tmp_path / "val.csv"), name="small")


def test_command_line_reports_bad_data_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "train.py", "--training_set_path", str(tmp_path / "absent.csv"),
         "--output_dir", str(tmp_path)], cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "absent.csv: file not found" in result.stderr and "Traceback" not in result.stderr


def test_train_sh_runs_the_published_recipe_with_every_option_of_ours_off(monkeypatch):
    monkeypatch.chdir(REPOSITORY)
    script = (REPOSITORY / "train.sh").read_text()
    flags = script.split("exec python train.py", 1)[1].split('"$@"')[0].replace("\\\n", " ")
    words = shlex.split(flags, comments=True)
    args = train.get_args_parser().parse_args(words)
    assert args.epochs == 10 and args.loss == "triplet" and args.lr_schedule == "plateau" and args.start_mining_hard == 200
    assert ModelConfig.from_args(args) == ModelConfig(
        vector_length=32, normalize_embeddings=False, hidden_dim=108, heads=9, encoder_layers=6, decoder_layers=6,
        feedforward_dim=2048, dropout=0.2, norm_first=False, velocity_features=False, presence_features=False,
        conv_layers=0, hand_shape_features=False, canonical_handedness=False, fixed_frames=0)
    assert args.hand_warp_prob == 0 and args.hand_drop_prob == 0
    assert args.optimizer == "SGD" and args.lr == 0.001 and args.batch_size == 32 and args.vector_length == 32
    assert args.triplet_loss_margin == 1 and args.dropout == 0.2 and args.augmentations_prob == 0.75
    assert args.hard_triplet_mining == "in_batch" and args.filter_easy_triplets
    assert args.hard_mining_pre_batch_multipler == 16 and args.hard_mining_pre_batch_mining_count == 5
    assert not args.normalize_embeddings and not args.norm_first and args.feedforward_dim == 2048
    assert args.mirror_prob == 0 and args.time_stretch_prob == 0 and args.clips_per_class == 0


def test_the_pre_batch_multiplier_takes_its_published_and_its_correct_spelling():
    parse = train.get_args_parser().parse_args
    assert parse(["--hard_mining_pre_batch_multipler", "3"]).hard_mining_pre_batch_multipler == 3
    assert parse(["--hard_mining_pre_batch_multiplier", "4"]).hard_mining_pre_batch_multipler == 4


def test_undefined_validation_silhouette_still_leaves_a_best_checkpoint(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6)
    write_spoter_csv(data, tmp_path / "train.csv")
    write_spoter_csv(data.subset([0, 6, 12]), tmp_path / "val.csv")  # one clip per class: silhouette undefined
    folder = _run(tmp_path, "--training_set_path", str(tmp_path / "train.csv"), "--validation_set_path",
                  str(tmp_path / "val.csv"), "--batch_size", "6", name="one_per_class")
    assert np.isnan(read_metrics(folder / "metrics.jsonl")[-1]["silhouette_val"])
    assert torch.load(folder / "best.pt", weights_only=True)["epoch"] == 2


@pytest.mark.parametrize("value, message", [("0/5", "fold 0 of 5: K must be between 1 and N"),
                                            ("6/5", "fold 6 of 5"), ("x", "expected K/N")])
def test_a_bad_validation_fold_is_refused_in_one_line_naming_the_flag(value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.get_args_parser().parse_args(["--validation_fold", value])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--validation_fold" in error and message in error
    assert train.get_args_parser().parse_args(["--validation_fold", "2/5"]).validation_fold == (1, 5)
