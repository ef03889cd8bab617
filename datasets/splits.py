"""Seeded train/validation splits: signer-disjoint when signers are known, stratified by class otherwise."""
import numpy as np

from utils.errors import DataError


def signer_split(signers, held_out, seed):
    """Hold out whole signers: ``held_out`` is a count (>= 1) or a fraction (< 1) of the signers."""
    names = np.unique(signers)
    count = int(held_out) if held_out >= 1 else max(1, round(held_out * len(names)))
    if count >= len(names):
        raise DataError(f"cannot hold out {count} of {len(names)} signers: training would have none")
    return _hold_out(signers, np.random.default_rng(seed).choice(names, size=count, replace=False))


def _hold_out(signers, chosen):
    """``(kept, held_out)`` indices: the clips of the ``chosen`` signers are held out."""
    validation = np.isin(signers, chosen)
    return np.flatnonzero(~validation), np.flatnonzero(validation)


def signer_folds(signers, folds, seed):
    """Partition the signers into ``folds`` seeded groups of nearly equal signer count (for
    leave-signers-out cross-validation): a list of ``folds`` sorted arrays of signer names."""
    names = np.unique(signers)
    if not 2 <= folds <= len(names):
        raise DataError(f"cannot make {folds} signer folds from {len(names)} signers: need 2 to {len(names)}")
    shuffled = np.random.default_rng(seed).permutation(names)
    return [np.sort(shuffled[fold::folds]) for fold in range(folds)]


def signer_fold_split(signers, fold, folds, seed):
    """Hold out the signers of fold ``fold`` (0-based) of :func:`signer_folds`."""
    return _hold_out(signers, signer_folds(signers, folds, seed)[fold])


def stratified_split(labels, fraction, seed):
    """Hold out ``fraction`` of each class (at least one clip of every class with two or more)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    validation = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) >= 2:
            validation.append(members[: max(1, round(fraction * len(members)))])
    validation = np.sort(np.concatenate(validation)) if validation else np.zeros(0, dtype=np.int64)
    return np.setdiff1d(np.arange(len(labels)), validation), validation


def k_shot_selection(labels, k, seed):
    """Indices of ``k`` seeded clips of each class (every clip of a class that has fewer), sorted."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    chosen = [rng.permutation(np.flatnonzero(labels == label))[:k] for label in np.unique(labels)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def signer_or_stratified_split(labels, signers, held_out_signers, fraction, seed, fold=None):
    """Signer-disjoint split when two or more signers are known, else stratified by class. ``fold``, a
    ``(fold, folds)`` pair, holds out that fold of :func:`signer_folds` instead of ``held_out_signers``.

    Returns ``(kept, held_out, by_signer)``."""
    known = signers is not None and len(np.unique(signers)) > 1
    if fold is not None:
        if not known:
            raise DataError("a signer fold needs data with two or more known signers")
        return (*signer_fold_split(signers, fold[0], fold[1], seed), True)
    if known:
        return (*signer_split(signers, held_out_signers, seed), True)
    return (*stratified_split(labels, fraction, seed), False)
