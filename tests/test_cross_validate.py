"""cross_validate.py: every fold trained and scored by evaluate.py's code on the same signer split."""
import json

import numpy as np
import torch

import cross_validate
import evaluate
from datasets.formats.spoter_csv import write_spoter_csv
from tests.conftest import generated_sign_data

TINY = ["--epochs", "1", "--epoch_iters", "2", "--batch_size", "8", "--hidden_dim", "24", "--heads", "2",
        "--encoder_layers", "1", "--feedforward_dim", "32", "--conv_layers", "1"]


def test_folds_are_scored_as_evaluate_py_scores_them_and_finished_folds_are_not_run_again(tmp_path):
    data = tmp_path / "signs.csv"
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=3, per_class=8, signers=4), data)
    argv = ["--data", str(data), "--folds", "2", "--output", str(tmp_path / "cv"), "--name", "tiny", "--"] + TINY
    summary = cross_validate.main(argv)
    assert json.loads((tmp_path / "cv" / "tiny" / "summary.json").read_text())["summary"] == summary

    checkpoint = tmp_path / "cv" / "tiny" / "fold_2" / "last.pt"
    direct = evaluate.run(evaluate.get_args_parser().parse_args(
        ["--data", str(data), "--held_out_fold", "2/2", "--checkpoint", str(checkpoint), "--baseline", "--k_shot", ""]))
    for method in ("model", "baseline"):
        assert summary[method]["top1"]["folds"][1] == direct[0]["methods"][method]["top1"]
        assert summary[method]["mAP"]["mean"] == np.mean(summary[method]["mAP"]["folds"])
    margins = [m - b for m, b in zip(summary["model"]["top1"]["folds"], summary["baseline"]["top1"]["folds"],
                                     strict=True)]
    assert len(margins) == 2
    assert summary["top1_margin"]["folds"] == margins and summary["top1_margin"]["min"] == min(margins)

    written = (tmp_path / "cv" / "tiny" / "fold_1.json").stat().st_mtime_ns
    cross_validate.main(argv)
    assert (tmp_path / "cv" / "tiny" / "fold_1.json").stat().st_mtime_ns == written


def test_a_fold_whose_training_was_interrupted_resumes_from_its_last_checkpoint(tmp_path):
    data = tmp_path / "signs.csv"
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=3, per_class=8, signers=4), data)
    base = ["--data", str(data), "--folds", "2", "--only", "1", "--output", str(tmp_path / "cv"), "--name", "tiny"]
    cross_validate.main(base + ["--"] + TINY)
    metrics = tmp_path / "cv" / "tiny" / "fold_1" / "metrics.jsonl"
    first_epoch = metrics.read_text().splitlines()[0]
    (tmp_path / "cv" / "tiny" / "fold_1.json").unlink()  # as if stopped before scoring

    cross_validate.main(base + ["--"] + TINY[2:] + ["--epochs", "2"])
    epochs = metrics.read_text().splitlines()
    # A fresh run would rewrite epoch 1 (its timings differ); a resumed one keeps it and adds epoch 2.
    assert epochs[0] == first_epoch
    assert [json.loads(line)["epoch"] for line in epochs] == [1, 2]


def test_a_training_seed_trains_other_models_on_the_same_folds(tmp_path):
    data = tmp_path / "signs.csv"
    write_spoter_csv(generated_sign_data(np.random.default_rng(0), classes=3, per_class=8, signers=4), data)
    base = ["--data", str(data), "--folds", "2", "--only", "1", "--output", str(tmp_path / "cv")]
    cross_validate.main(base + ["--name", "same"] + ["--"] + TINY)
    cross_validate.main(base + ["--name", "other", "--training_seed", "5", "--"] + TINY)
    runs = {name: tmp_path / "cv" / name for name in ("same", "other")}
    held_out = {name: json.loads((run / "fold_1.json").read_text())["sets"][0]["protocol"]["held_out_signers"]
                for name, run in runs.items()}
    assert held_out["same"] == held_out["other"] and held_out["same"]
    checkpoints = {name: torch.load(run / "fold_1" / "last.pt", weights_only=True) for name, run in runs.items()}
    assert checkpoints["other"]["recipe"]["seed"] == 5 and checkpoints["other"]["recipe"]["split_seed"] == 379
    weights = [checkpoints[name]["model"]["backbone.query"] for name in runs]
    assert not torch.equal(*weights)
