"""Datasets: read any supported source into :class:`SignData`, split it, and build the training sets.

:func:`read_signs` picks the reader by file type and caches the parsed arrays by file content.
:func:`build_dataset` turns the command-line arguments into training and validation sets.
"""
import hashlib
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from datasets import clip_files, mediapipe_npz, pose_file, spoter_csv
from datasets.cache import cached_read
from datasets.sign_data import DataError, SignData
from datasets.splits import signer_or_stratified_split

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_TRAINING_SET = REPOSITORY / "data" / "asl_mit" / "asl_mit.csv.gz"
BASE_DATA_FOLDER_ENV = "BASE_DATA_FOLDER"
log = logging.getLogger(__name__)

READERS = {
    ".csv": (spoter_csv.read_spoter_csv, spoter_csv.READER_VERSION),
    ".npz": (mediapipe_npz.read_mediapipe_npz, mediapipe_npz.READER_VERSION),
    ".pose": (pose_file.read_pose_file, pose_file.READER_VERSION),
}


def _reader_for(path):
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in READERS:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; expected one of {', '.join(READERS)}")
    return READERS[suffix]


def read_signs(path, cache_dir=None):
    """Read a SPOTER CSV (``.csv``, ``.csv.gz``), a MediaPipe archive (``.npz``), a ``.pose`` file, or a
    folder with one subfolder per class of clips (MP_Data, landmark or ``.pose`` files) into SignData,
    without the clips that hold nothing usable (:func:`drop_unusable`).

    Folders are not cached: their content has no single file to key the cache by."""
    path = Path(path)
    if path.is_dir():
        return drop_unusable(clip_files.read_class_folders(path))
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    read, version = _reader_for(path)
    data = cached_read(read, path, version, cache_dir)
    if read is spoter_csv.read_spoter_csv:
        data = spoter_csv.name_integer_labels(data, path)
    return drop_unusable(data)


def drop_unusable(data):
    """``data`` without clips where nothing was detected or every value is the same, counted in the log;
    refused when no clip is left."""
    detected, varied = data.clip_quality()
    keep = detected & varied
    if keep.all():
        return data
    if not keep.any():
        raise DataError(f"{data.source}: no usable clip: nothing was detected in {int((~detected).sum())} clip(s) "
                        f"and every value is the same in {int((detected & ~varied).sum())}")
    log.warning("%s: dropped %d of %d clips: nothing detected in %d, every value the same in %d", data.source,
                int((~keep).sum()), len(data), int((~detected).sum()), int((detected & ~varied).sum()))
    return data.subset(np.flatnonzero(keep))


def filter_signs(data, exclude_labels=(), languages=None, min_signers=None):
    """Drop clips by label, keep only some languages, keep only glosses signed by ``min_signers`` signers."""
    keep = ~np.isin(data.labels, list(exclude_labels))
    if languages:
        if data.languages is None:
            raise DataError(f"{data.source}: has no language information to filter by")
        keep &= np.isin(data.languages, list(languages))
    if min_signers:
        if data.signers is None:
            raise DataError(f"{data.source}: has no signer information to filter by")
        counts = {
            label: len(np.unique(data.signers[data.labels == label])) for label in np.unique(data.labels[keep])
        }
        keep &= np.array([counts.get(label, 0) >= min_signers for label in data.labels])
    return data.subset(np.flatnonzero(keep))


def resolve_path(path, dataset_name="", data_folder=None):
    """A direct path if it exists, else ``<data_folder>/<path>``, where the data folder defaults to
    ``$BASE_DATA_FOLDER/<dataset_name>`` as in the reference code."""
    direct = Path(path)
    if direct.exists():
        return direct
    folder = Path(data_folder) if data_folder else Path(os.environ.get(BASE_DATA_FOLDER_ENV, "data")) / dataset_name
    nested = folder / path
    if nested.exists():
        return nested
    raise DataError(f"{path}: file not found (also looked for {nested})")


def class_names(labels):
    """Sorted class names (plain str: checkpoints load with weights_only); integer ids sort numerically."""
    unique = np.unique(labels).tolist()
    if all(label.lstrip("-").isdigit() for label in unique):
        return sorted(unique, key=int)
    return sorted(unique)


def label_ids(labels, names):
    """Each label's position in ``names``, as int64 class ids."""
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[label] for label in labels], dtype=np.int64)


@dataclass
class TrainingData:
    train: SignData
    validation: SignData
    class_names: list

    def class_ids(self, labels):
        return label_ids(labels, self.class_names)

    @cached_property
    def fingerprint(self):
        """A digest of the clips, labels and split (what --resume compares)."""
        digest = hashlib.blake2b(digest_size=16)
        for part in (self.train, self.validation):
            for array in (part.keypoints, part.offsets, part.labels, part.clip_ids):
                digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("\0".join(self.class_names).encode())
        return digest.hexdigest()


def _split(data, args):
    train, validation, _ = signer_or_stratified_split(
        data.labels, data.signers, args.validation_signers, args.validation_fraction, args.seed,
        args.validation_fold,
    )
    return data.subset(train), data.subset(validation)


def _check_trainable(data, args):
    counts = dict(zip(*np.unique(data.labels, return_counts=True)))
    single = [label for label, count in counts.items() if count < 2]
    if single and not args.classification_model:
        raise DataError(
            f"{data.source}: class(es) {', '.join(map(str, single[:5]))} have a single training clip, so no "
            f"triplet can use them; add clips, or drop them with --min_clips_per_class 2"
        )
    if len(counts) < 2:
        raise DataError(f"{data.source}: training data needs at least two classes, found {len(counts)}")
    if args.batch_size > len(data):
        raise DataError(
            f"{data.source}: --batch_size {args.batch_size} is larger than the {len(data)} training clips"
        )


def _drop_rare_classes(data, min_clips):
    labels, counts = np.unique(data.labels, return_counts=True)
    return data.subset(np.flatnonzero(np.isin(data.labels, labels[counts >= min_clips])))


def build_dataset(args, data_folder=None):
    """Training and validation SignData, and the class names, from the arguments.

    ``data_folder`` replaces ``$BASE_DATA_FOLDER/<dataset_name>`` (the ClearML loader passes its copy)."""
    def read(path):
        data = read_signs(resolve_path(path, args.dataset_name, data_folder), args.cache_dir or None)
        return filter_signs(data, exclude_labels=args.exclude_labels)

    if data_folder is not None and not args.training_set_path:
        raise DataError(f"{data_folder}: name the training file inside the dataset with --training_set_path")
    data = read(args.training_set_path or DEFAULT_TRAINING_SET)
    if args.validation_set_path:
        train, validation = data, read(args.validation_set_path)
    else:
        train, validation = _split(data, args)
    if args.min_clips_per_class:
        train = _drop_rare_classes(train, args.min_clips_per_class)
    _check_trainable(train, args)
    names = class_names(train.labels)
    unseen = sorted(set(validation.labels.tolist()) - set(names))
    return TrainingData(train, validation, list(names) + unseen)
