"""Selecting clips of SignData: by label, language and number of signers per gloss."""
import numpy as np

from utils.errors import DataError


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
