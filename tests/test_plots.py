"""Figures: t-SNE scatter and training curves, written as self-contained HTML (GENERATED data)."""
import re

import numpy as np
import pytest
import torch

from datasets.clip_dataset import ClipDataset
from models import build_model
from retrieval.embedding import embed
from utils import plots
from utils.run_files import append_metrics
from tests.conftest import TINY_MODEL_CONFIG, generated_sign_data

RECORDS = [
    {"epoch": 1, "train_loss": 0.9, "silhouette_train": 0.1, "silhouette_val": 0.05, "val_top1": 0.2,
     "valid_triplets": 100, "used_triplets": 90, "pct_used": 90.0, "lr": 1e-3},
    {"epoch": 2, "train_loss": 0.7, "silhouette_train": 0.2, "silhouette_val": 0.1, "val_top1": 0.3,
     "valid_triplets": 100, "used_triplets": 60, "pct_used": 60.0, "lr": 1e-4},
]


def dataset(seed, signers):
    data = generated_sign_data(np.random.default_rng(seed), classes=3, per_class=5, signers=signers)
    return ClipDataset(data, [int(label[-1]) for label in data.labels])


def trace_names(figure):
    return {trace.name for trace in figure.data}


def test_training_curves_plot_every_recorded_metric_by_epoch():
    figure = plots.training_curves(RECORDS)
    assert {"train_loss", "silhouette_val", "val_top1", "used_triplets", "pct_used", "lr"} <= trace_names(figure)
    loss = next(trace for trace in figure.data if trace.name == "train_loss")
    assert list(loss.x) == [1, 2] and list(loss.y) == [0.9, 0.7]
    assert "mining_threshold" not in trace_names(figure)  # not recorded: no empty line


def test_training_curves_refuse_records_without_metrics():
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.training_curves([{"epoch": 1}])


def test_scatter_marks_sets_by_symbol_and_shows_clip_and_signer():
    rng = np.random.default_rng(0)
    embeddings = np.concatenate([rng.normal(0, 0.1, (6, 4)), rng.normal(5, 0.1, (6, 4))])
    labels, groups = np.repeat(["a", "b"], 6), np.tile(["train", "validation"], 6)
    figure = plots.embedding_scatter(embeddings, labels, groups, [f"clip{i}" for i in range(12)], ["s1"] * 12)
    assert {trace.marker.symbol for trace in figure.data} == {"circle", "diamond"}
    assert sum(len(trace.x) for trace in figure.data) == 12
    hover = [list(row) for trace in figure.data for row in trace.customdata]
    assert ["clip0", "s1"] in hover


def test_tsne_needs_a_few_clips():
    with pytest.raises(ValueError, match="at least 4"):
        plots.tsne_points(np.zeros((3, 2)))


def test_write_figure_is_self_contained_html_and_leaves_no_temporary_files(tmp_path):
    path = plots.write_figure(plots.training_curves(RECORDS), tmp_path / "curves.html")
    text = path.read_text()
    # plotly.js (megabytes) is inside the file, not fetched from a CDN: the page opens offline.
    assert text.startswith("<!doctype html>") and len(text) > 1_000_000 and not re.search(r"<script[^>]*src=", text)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_run_figures_writes_the_scatter_and_curves_for_train_py(tmp_path):
    torch.manual_seed(0)
    for record in RECORDS:
        append_metrics(tmp_path / "metrics.jsonl", record)
    model = build_model(TINY_MODEL_CONFIG)
    embedded = {name: (embed(model, clips, "cpu"), clips.data) for name, clips in (("train", dataset(0, 2)),
                                                                                   ("validation", dataset(1, 3)))}
    figures = plots.run_figures(embedded, tmp_path, max_points=20)
    assert set(figures) == {"embeddings t-SNE", "training curves"}
    assert (tmp_path / "embeddings_t-SNE.html").exists() and (tmp_path / "training_curves.html").exists()
    scatter = figures["embeddings t-SNE"]
    assert sum(len(trace.x) for trace in scatter.data) == 20  # capped at max_points of the 30 clips


def test_curves_command_writes_beside_the_metrics_file(tmp_path, capsys):
    for record in RECORDS:
        append_metrics(tmp_path / "metrics.jsonl", record)
    plots.main([str(tmp_path / "metrics.jsonl")])
    assert (tmp_path / "training_curves.html").exists()
    with pytest.raises(SystemExit, match="error: .*missing.jsonl"):
        plots.main([str(tmp_path / "missing.jsonl")])
