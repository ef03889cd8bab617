"""``preprocess.py create``: SPOTER train/validation/test CSVs and the id-to-gloss JSON from per-clip files.

Clips (landmark files, ``.pose`` files or MP_Data sequence folders) are labelled by a
:class:`preprocessing.labels.Labeller`, split by the dataset's official split or afresh (signer-disjoint
when signers are known, stratified by class otherwise), and written with integer class ids as SPOTER's
published CSVs have them; ``<name>_id_to_gloss.json`` maps the ids back to glosses.
"""
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from datasets import class_names, label_ids
from datasets.formats.clip_files import clip_id, find_clips, read_clips
from datasets.sign_data import SignData
from datasets.splits import signer_or_stratified_split
from datasets.formats.spoter_csv import write_spoter_csv
from preprocessing.labels import SPLITS
from utils.errors import DataError
from utils.run_files import write_json

log = logging.getLogger("preprocess")


@dataclass
class SplitOptions:
    """How to split: ``official`` uses the labeller's splits; otherwise test, then validation, are held out
    from the rest by size (a count of signers >= 1, or a fraction < 1 of signers, or of each class's clips
    when signers are unknown) or by naming the signers."""
    official: bool = False
    test_size: float = 0.2
    val_size: float = 0.1
    test_signers: list = field(default_factory=list)
    val_signers: list = field(default_factory=list)
    seed: int = 0


def label_clips(folder, labeller):
    """The clips under ``folder`` that belong to the dataset, as SignData with each clip's official split."""
    folder = Path(folder)
    paths = find_clips(folder)
    if not paths:
        raise DataError(f"{folder}: no clips found (landmark .npz, .pose files or MP_Data sequence folders)")
    labelled = [(path, labeller.label(folder, path)) for path in paths]
    kept = [(path, label) for path, label in labelled if label is not None]
    if not kept:
        raise DataError(
            f"{folder}: none of the {len(paths)} clips is in the {labeller.name} labels "
            f"(e.g. {clip_id(folder, paths[0])})"
        )
    if len(kept) < len(paths):
        log.info("skipped %d of %d clips that are not in the %s labels", len(paths) - len(kept), len(paths), labeller.name)
    paths, labels = zip(*kept)
    signers = [label.signer for label in labels]
    data = SignData.from_clips(
        read_clips(paths),
        labels=[label.gloss for label in labels],
        clip_ids=[clip_id(folder, path) for path in paths],
        signers=None if None in signers else signers,
        source=str(folder),
    )
    return data, np.array([label.split or "" for label in labels])


def _held_by_name(data, candidates, names, option):
    if data.signers is None:
        raise DataError(f"{data.source}: {option} needs signers, but these labels have none")
    unknown = sorted(set(names) - set(data.signers[candidates]))
    if unknown:
        raise DataError(f"{data.source}: {option}: no clips of signer(s) {', '.join(unknown)} left to hold out")
    return np.isin(data.signers[candidates], names)


def _held_by_size(data, candidates, size, option, seed):
    signers = None if data.signers is None else data.signers[candidates]
    if size >= 1 and (signers is None or len(np.unique(signers)) < 2):
        raise DataError(f"{data.source}: {option} {size:g} counts signers, but fewer than two are known; give a fraction < 1")
    try:
        _, held, _ = signer_or_stratified_split(data.labels[candidates], signers, size, size, seed)
    except ValueError as error:
        raise DataError(f"{data.source}: {option} {size:g}: {error}") from None
    return np.isin(np.arange(len(candidates)), held)


def _hold_out(data, candidates, size, names, option, seed):
    """Split ``candidates`` (indices) into (kept, held out)."""
    if names:
        held = _held_by_name(data, candidates, names, option.replace("size", "signers"))
    elif size > 0:
        held = _held_by_size(data, candidates, size, option, seed)
    else:
        held = np.zeros(len(candidates), dtype=bool)
    return candidates[~held], candidates[held]


def fresh_splits(data, options):
    """Seeded train/val/test indices: test is held out first, then validation from what remains."""
    rest, test = _hold_out(data, np.arange(len(data)), options.test_size, options.test_signers, "--test_size", options.seed)
    train, val = _hold_out(data, rest, options.val_size, options.val_signers, "--val_size", options.seed + 1)
    return {"train": train, "val": val, "test": test}


def official_splits(split_names):
    return {split: np.flatnonzero(split_names == split) for split in SPLITS}


def with_class_ids(data, classes):
    """The data with each gloss replaced by its class id (its position in ``classes``) as text."""
    return replace(data, labels=label_ids(data.labels, classes).astype(str))


def write_splits(data, splits, classes, output_dir, name, decimals=5):
    """Write ``<name>_<split>.csv`` for every non-empty split and ``<name>_id_to_gloss.json``; returns
    {split: path}."""
    output_dir = Path(output_dir)
    numbered = with_class_ids(data, classes)
    written = {}
    for split, indices in splits.items():
        if len(indices) == 0:
            log.info("%s: no clips, no file written", split)
            continue
        path = output_dir / f"{name}_{split}.csv"
        write_spoter_csv(numbered.subset(indices), path, decimals=decimals)
        part = data.subset(indices)
        log.info(
            "%s: %d clips, %d classes, %s signers -> %s", split, len(part), len(np.unique(part.labels)),
            "unknown" if part.signers is None else len(np.unique(part.signers)), path,
        )
        written[split] = path
    write_json(output_dir / f"{name}_id_to_gloss.json", {str(i): gloss for i, gloss in enumerate(classes)})
    return written


def create(folder, output_dir, labeller, options, name=None, decimals=5):
    """Label, split and write; returns {split: CSV path}."""
    if options.official and not labeller.has_splits:
        raise DataError(f"{labeller.name} labels have no official split; use a fresh one (--split fresh)")
    data, split_names = label_clips(folder, labeller)
    splits = official_splits(split_names) if options.official else fresh_splits(data, options)
    classes = labeller.classes or class_names(data.labels)
    return write_splits(data, splits, classes, output_dir, name or labeller.name, decimals)
