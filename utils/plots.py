"""Plotly figures of a model and its run: a t-SNE map of embeddings and the training curves.

HTML files are self-contained (plotly.js inside, they open offline). A PNG is written beside each only
when a static exporter (kaleido) is installed.

    python -m utils.plots RUN_FOLDER/metrics.jsonl -o curves.html     # training curves of a run
"""
import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
from plotly.subplots import make_subplots
from sklearn.manifold import TSNE

from utils.atomic import atomic_path
from utils.run_files import read_metrics

log = logging.getLogger(__name__)

MAX_TSNE_POINTS = 5000
CLASS_COLOURS = px.colors.qualitative.Dark24 + px.colors.qualitative.Light24 + px.colors.qualitative.Alphabet
CURVE_PANELS = {
    "loss": ("train_loss",),
    "silhouette and accuracy": ("silhouette_train", "silhouette_val", "val_top1", "val_top5", "val_accuracy"),
    "triplets": ("valid_triplets", "used_triplets"),
    "triplets used (%) and mining threshold": ("pct_used", "mining_threshold"),
    "learning rate": ("lr",),
}


def tsne_points(embeddings, seed=0):
    """2-D t-SNE coordinates of ``[clips, dim]`` embeddings."""
    count = len(embeddings)
    if count < 4:
        raise ValueError(f"a t-SNE map needs at least 4 clips, got {count}")
    perplexity = min(30.0, (count - 1) / 3)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    # PCA needs two dimensions to start from; a 1-D embedding (--vector_length 1) starts from random points.
    init = "pca" if embeddings.shape[1] >= 2 else "random"
    return TSNE(n_components=2, perplexity=perplexity, init=init, random_state=seed).fit_transform(embeddings)


def embedding_scatter(embeddings, labels, groups, clip_ids, signers=None, title="embeddings (t-SNE)", seed=0):
    """t-SNE scatter: colour = class, marker symbol = group (e.g. train / validation), clip id and signer
    on hover."""
    points = tsne_points(embeddings, seed)
    frame = pd.DataFrame({
        "x": points[:, 0], "y": points[:, 1], "class": np.asarray(labels, dtype=str),
        "set": np.asarray(groups, dtype=str), "clip": np.asarray(clip_ids, dtype=str),
        "signer": np.asarray(signers, dtype=str) if signers is not None else "unknown",
    })
    figure = px.scatter(
        frame, x="x", y="y", color="class", symbol="set", hover_data={"clip": True, "signer": True,
                                                                     "x": False, "y": False},
        color_discrete_sequence=CLASS_COLOURS, title=title,
    )
    figure.update_traces(marker={"size": 6, "opacity": 0.8})
    return figure.update_layout(xaxis_title="", yaxis_title="", legend_title_text="class, set")


def training_curves(records, title="training curves"):
    """Panels of the metrics-file columns present in ``records`` (one dict per epoch)."""
    panels = {name: [key for key in keys if any(key in r for r in records)] for name, keys in CURVE_PANELS.items()}
    panels = {name: keys for name, keys in panels.items() if keys}
    if not panels:
        raise ValueError("no known metric in the records: nothing to plot")
    figure = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, subplot_titles=list(panels))
    for row, (name, keys) in enumerate(panels.items(), start=1):
        for key in keys:
            epochs = [r["epoch"] for r in records if key in r]
            figure.add_scatter(x=epochs, y=[r[key] for r in records if key in r], name=key, mode="lines+markers",
                               row=row, col=1)
        if name == "learning rate":
            figure.update_yaxes(type="log", row=row, col=1)
    figure.update_xaxes(title_text="epoch", row=len(panels), col=1)
    return figure.update_layout(title=title, height=260 * len(panels))


def write_figure(figure, path):
    """Self-contained HTML at ``path`` (atomically), and ``path`` with ``.png`` when an exporter works."""
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.write_html(tmp, include_plotlyjs=True, full_html=True)
    try:
        with atomic_path(path.with_suffix(".png")) as tmp:
            figure.write_image(tmp, format="png", width=1200, height=900)
    except Exception as error:  # no or broken kaleido: the HTML is the figure, the PNG a convenience
        log.debug("no PNG for %s: %s", path, error)
    return path


def subsample(count, limit, seed):
    """Seeded sorted indices of at most ``limit`` of ``count`` items (all of them when they fit)."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).permutation(count)[:limit])


RUN_FIGURES = ("embeddings t-SNE", "training curves")


def figure_file(folder, title):
    """Where :func:`run_figures` writes the figure of ``title``."""
    return Path(folder) / f"{title.replace(' ', '_')}.html"


def run_figures(embedded, folder, seed=0, max_points=MAX_TSNE_POINTS):
    """The end-of-training figures: the t-SNE map of ``embedded``, ``{"train": (embeddings, SignData),
    "validation": (...)}`` (at most ``max_points`` clips) and, when the folder has a metrics file, the
    training curves. Writes each as HTML into ``folder`` and returns ``{title: figure}`` for the tracker."""
    folder = Path(folder)
    embeddings = np.concatenate([vectors for vectors, _ in embedded.values()])
    data = [clips for _, clips in embedded.values()]
    groups = np.repeat(list(embedded), [len(clips) for clips in data])
    keep = subsample(len(embeddings), max_points, seed)
    signers = None if any(d.signers is None for d in data) else np.concatenate([d.signers for d in data])
    tsne, curves = RUN_FIGURES
    figures = {tsne: embedding_scatter(
        embeddings[keep], np.concatenate([d.labels for d in data])[keep], groups[keep],
        np.concatenate([d.clip_ids for d in data])[keep], None if signers is None else signers[keep],
        title="embeddings of the best model (t-SNE)", seed=seed,
    )}
    if (folder / "metrics.jsonl").exists():
        figures[curves] = training_curves(read_metrics(folder / "metrics.jsonl"))
    for title, figure in figures.items():
        write_figure(figure, figure_file(folder, title))
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plot the training curves of a run's metrics.jsonl as HTML.")
    parser.add_argument("metrics", help="metrics.jsonl of a training run")
    parser.add_argument("-o", "--output", default="", help="HTML file; default: training_curves.html beside it")
    args = parser.parse_args(argv)
    output = Path(args.output or Path(args.metrics).with_name("training_curves.html"))
    try:
        figure = training_curves(read_metrics(args.metrics), title=f"training curves: {args.metrics}")
    except (OSError, ValueError, KeyError) as error:
        sys.exit(f"error: {args.metrics}: {error}")
    print(write_figure(figure, output))


if __name__ == "__main__":
    main()
