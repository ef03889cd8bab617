"""The training and validation sets of a run, from train.py's settings: read, filtered, split, checked."""
import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from datasets.filters import filter_signs
from datasets.labels import class_names, keyed_by_language, label_ids
from datasets.paths import DEFAULT_TRAINING_SET, resolve_path
from datasets.reading import read_sign_files
from datasets.sign_data import SignData
from datasets.splits import signer_or_stratified_split
from utils.errors import DataError


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


def _split(data, recipe):
    try:
        train, validation, _ = signer_or_stratified_split(
            data.labels, data.signers, recipe.validation_signers, recipe.validation_fraction,
            recipe.seed if recipe.split_seed is None else recipe.split_seed,
            recipe.validation_fold,
        )
    except DataError as error:  # which signers or folds cannot be made: say of which file, by which flag
        fold = recipe.validation_fold
        flag = (f"--validation_fold {fold[0] + 1}/{fold[1]}" if fold
                else f"--validation_signers {recipe.validation_signers:g}")
        raise DataError(f"{data.source}: {flag}: {error}") from None
    return data.subset(train), data.subset(validation)


def _check_trainable(data, batch_size, classification):
    counts = dict(zip(*np.unique(data.labels, return_counts=True)))
    single = [label for label, count in counts.items() if count < 2]
    if single and not classification:
        raise DataError(
            f"{data.source}: class(es) {', '.join(map(str, single[:5]))} have a single training clip, so no "
            f"triplet can use them; add clips, or drop them with --min_clips_per_class 2"
        )
    if len(counts) < 2:
        raise DataError(f"{data.source}: training data needs at least two classes, found {len(counts)}")
    if batch_size > len(data):
        raise DataError(
            f"{data.source}: --batch_size {batch_size} is larger than the {len(data)} training clips"
        )


def _drop_rare_classes(data, min_clips):
    labels, counts = np.unique(data.labels, return_counts=True)
    return data.subset(np.flatnonzero(np.isin(data.labels, labels[counts >= min_clips])))


def build_dataset(recipe, classification=False, data_folder=None):
    """Training and validation SignData, and the class names, from the data settings of ``recipe`` (a
    :class:`training.recipe.RecipeConfig`); a ``classification`` model also trains on classes of one clip.

    ``data_folder`` replaces ``$BASE_DATA_FOLDER/<dataset_name>`` (the ClearML loader passes its copy)."""
    def read(paths):
        data = read_sign_files(paths, recipe.cache_dir or None,
                               resolve=lambda path: resolve_path(path, recipe.dataset_name, data_folder),
                               progress=not recipe.no_progress)
        return filter_signs(data, exclude_labels=recipe.exclude_labels, bsl_letters=recipe.bsl_letters)

    if data_folder is not None and not recipe.training_set_path:
        raise DataError(f"{data_folder}: name the training file inside the dataset with --training_set_path")
    data = read(recipe.training_set_path or [DEFAULT_TRAINING_SET])
    if recipe.validation_set_path:
        train, validation = data, read(recipe.validation_set_path)
    else:
        train, validation = _split(data, recipe)
    if recipe.extra_training_path:
        train = SignData.join([train, read(recipe.extra_training_path)])
    train, validation = keyed_by_language(train, validation)
    if recipe.min_clips_per_class:
        train = _drop_rare_classes(train, recipe.min_clips_per_class)
    _check_trainable(train, recipe.batch_size, classification)
    names = class_names(train.labels)
    unseen = sorted(set(validation.labels.tolist()) - set(names))
    return TrainingData(train, validation, list(names) + unseen)
