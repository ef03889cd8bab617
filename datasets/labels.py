"""Class names and integer class ids of string labels."""
from dataclasses import replace

import numpy as np


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


def class_keys(*parts):
    """Class of each clip of every part: the gloss, prefixed by its language ("LSM: hello") when the parts
    hold several languages, since the same word is then different signs."""
    if any(part.languages is None for part in parts) or len(np.unique(np.concatenate(
            [part.languages for part in parts]))) < 2:
        return [part.labels for part in parts]
    return [np.char.add(np.char.add(part.languages, ": "), part.labels) for part in parts]


def keyed_by_language(*parts):
    """The parts with each label replaced by its class key (:func:`class_keys`), so that training on several
    languages keeps the same gloss of two languages apart."""
    return [part if keys is part.labels else replace(part, labels=keys)
            for part, keys in zip(parts, class_keys(*parts))]
