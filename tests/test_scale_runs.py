"""End-to-end scaling runs on GENERATED data: 2 torchrun processes on the CPU, a real SIGTERM/SIGINT to
a training process, and torch.compile. Slow: .ci/run runs them after the fast suite."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from datasets.formats.spoter_csv import write_spoter_csv
from tests.conftest import REPOSITORY, generated_sign_data
from utils.run_files import read_metrics

pytestmark = pytest.mark.slow

TINY = ["--hidden_dim", "24", "--heads", "2", "--encoder_layers", "1", "--decoder_layers", "1",
        "--feedforward_dim", "32", "--conv_layers", "1", "--vector_length", "8", "--dropout", "0",
        "--no_progress", "--lr_schedule", "plateau"]


def _data(tmp_path, per_class=16, name="generated"):
    data = generated_sign_data(np.random.default_rng(0), classes=4, per_class=per_class, signers=4)
    path = tmp_path / f"{name}.csv"
    write_spoter_csv(data, path)
    return ["--training_set_path", str(path), "--validation_signers", "1", "--output_dir", str(tmp_path)]


def _environment():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPOSITORY))


def _torchrun(out, *args):
    out.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(REPOSITORY / "tests" / "torchrun_worker.py"), str(out), *args]
    # A session of its own, so that a hung run's workers can be killed with torchrun (the group).
    process = subprocess.Popen(command, cwd=REPOSITORY, env=_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]


def test_two_torchrun_processes_train_disjoint_clips_to_identical_weights_like_one_process(tmp_path):
    data = _data(tmp_path)
    two = tmp_path / "two"
    _torchrun(two, *data, *TINY, "--batch_size", "16", "--epochs", "3", "--experiment_name", "ddp")
    clips = [json.loads((two / f"rank{rank}_clips.json").read_text()) for rank in range(2)]
    for first, second in zip(*clips):  # one list per epoch
        assert first and len(first) == len(second) and not set(first) & set(second)
    weights = [torch.load(two / f"rank{rank}.pt", weights_only=True) for rank in range(2)]
    for name, value in weights[0].items():
        torch.testing.assert_close(weights[1][name], value, rtol=0, atol=0)
    checkpoint = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    assert not any(key.startswith(("module.", "_orig_mod.")) for key in checkpoint["model"])
    for name, value in checkpoint["model"].items():
        torch.testing.assert_close(value, weights[0][name])

    import train

    train.main(train.get_args_parser().parse_args(data + TINY + ["--batch_size", "32", "--epochs", "3",
                                                                 "--experiment_name", "single"]))
    distributed_losses = [r["train_loss"] for r in read_metrics(tmp_path / "ddp" / "metrics.jsonl")]
    single_losses = [r["train_loss"] for r in read_metrics(tmp_path / "single" / "metrics.jsonl")]
    assert len(distributed_losses) == 3
    np.testing.assert_allclose(distributed_losses, single_losses, rtol=1e-3)


def test_resume_continues_a_distributed_run_with_mining_exactly(tmp_path):
    data = _data(tmp_path)
    # Epoch 2 mines: each rank regroups its own pre-batches of 16 clips.
    common = [*data, *TINY, "--batch_size", "8", "--experiment_name", "ddp", "--start_mining_hard", "2",
              "--hard_mining_pre_batch_multipler", "2", "--hard_mining_pre_batch_mining_count", "2"]
    _torchrun(tmp_path / "cut", *common, "--epochs", "1")
    _torchrun(tmp_path / "cut", *common, "--epochs", "2", "--resume")
    resumed = read_metrics(tmp_path / "ddp" / "metrics.jsonl")
    shutil.rmtree(tmp_path / "ddp")
    _torchrun(tmp_path / "whole", *common, "--epochs", "2")
    whole = read_metrics(tmp_path / "ddp" / "metrics.jsonl")
    assert [r["epoch"] for r in resumed] == [1, 2] and "mining_threshold" in resumed[1]
    for a, b in zip(whole, resumed):
        assert a["train_loss"] == b["train_loss"] and a["silhouette_val"] == b["silhouette_val"]


@pytest.fixture
def train_process():
    """Start train.py with arguments; whatever is still running at the end of the test is killed."""
    started = []

    def start(args):
        started.append(subprocess.Popen([sys.executable, str(REPOSITORY / "train.py"), *args], cwd=REPOSITORY,
                                        env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_after_the_current_step_and_resume_matches_an_uninterrupted_run(
        tmp_path, signal_number, train_process):
    # Dropout on, so that the resumed epoch must also continue torch's random stream where it stopped.
    common = _data(tmp_path, per_class=120) + TINY + ["--dropout", "0.2", "--batch_size", "4", "--epochs", "3",
                                                     "--eval_max_clips", "40"]
    whole = train_process(common + ["--experiment_name", "whole"])
    assert whole.wait(timeout=300) == 0, whole.stdout.read()[-3000:]

    run = train_process(common + ["--experiment_name", "cut"])
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 1) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # into epoch 2's 90 steps
    run.send_signal(signal_number)
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 128 + signal_number, output[-3000:]
    resume = [line for line in output.splitlines() if "--resume" in line]
    assert resume and resume[-1].strip().startswith("python ") and "train.py" in resume[-1], output[-3000:]
    stopped = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    assert stopped["epoch"] == 1 and stopped["partial_epoch"]["epoch"] == 2
    assert 0 < stopped["partial_epoch"]["batches"]

    resumed = train_process(common + ["--experiment_name", "cut", "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()[-3000:]
    expected = read_metrics(tmp_path / "whole" / "metrics.jsonl")
    got = read_metrics(metrics)
    assert [r["epoch"] for r in got] == [1, 2, 3]
    for a, b in zip(expected, got):
        for key in ("train_loss", "steps", "silhouette_val", "val_top1", "val_mAP"):
            assert a[key] == b[key], (a["epoch"], key)


def test_compiled_training_matches_eager_training(tmp_path):
    import train

    data = _data(tmp_path)
    losses = {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        train.main(train.get_args_parser().parse_args(data + TINY + ["--batch_size", "16", "--epochs", "1",
                                                                     "--epoch_iters", "3",
                                                                     "--experiment_name", name] + extra))
        losses[name] = [r["train_loss"] for r in read_metrics(tmp_path / name / "metrics.jsonl")]
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-3)
