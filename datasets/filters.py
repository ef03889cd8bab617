"""Selecting clips of SignData: by label, language and number of signers per gloss; telling British
fingerspelling from ASL's."""
from dataclasses import replace

import numpy as np

from utils.errors import DataError


def is_letter(labels):
    """True for ASL's fingerspelled letters, ``letter_x`` (a British one is ``bsl_letter_x``)."""
    return np.char.startswith(np.asarray(labels).astype(str), "letter_")


# Three greetings that tutorials teach first: in asl_crowd.npz most of the clips and signers, and easy enough to
# hide how the other glosses fare, so results report them apart.
GREETINGS = ("hello", "thanks", "iloveyou")
GLOSS_GROUPS = ("greetings", "words", "letters")


def gloss_groups(labels):
    """Each label's group of :data:`GLOSS_GROUPS`: the greetings, fingerspelled letters (ASL's or British),
    or the other words."""
    labels = np.asarray(labels).astype(str)
    letters = np.char.find(labels, "letter_") >= 0
    return np.where(np.isin(labels, GREETINGS), "greetings", np.where(letters, "letters", "words"))


def relabel_bsl_letters(data, signers):
    """``letter_x`` clips of ``signers`` become ``bsl_letter_x``: a two-handed British letter and ASL's
    one-handed letter of the same name are different signs, as the same word in two sign languages is."""
    if not len(signers) or data.signers is None:
        return data
    british = np.isin(data.signers, list(signers)) & is_letter(data.labels)
    if not british.any():
        return data
    return replace(data, labels=np.where(british, np.char.add("bsl_", data.labels.astype(str)), data.labels))


def filter_signs(data, exclude_labels=(), languages=None, min_signers=None, bsl_letters=()):
    """Relabel British fingerspelling (:func:`relabel_bsl_letters`), then drop clips by label, keep only some
    languages, keep only glosses signed by ``min_signers`` signers."""
    data = relabel_bsl_letters(data, bsl_letters)
    keep = ~np.isin(data.labels, list(exclude_labels))
    if languages:
        if data.languages is None:
            raise DataError(f"{data.source}: has no language information to filter by (--language)")
        keep &= np.isin(data.languages, list(languages))
    if min_signers:
        if data.signers is None:
            raise DataError(f"{data.source}: has no signer information to filter by (--min_signers)")
        counts = {
            label: len(np.unique(data.signers[data.labels == label])) for label in np.unique(data.labels[keep])
        }
        keep &= np.array([counts.get(label, 0) >= min_signers for label in data.labels])
    return data.subset(np.flatnonzero(keep))
