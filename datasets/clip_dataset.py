"""The torch side of the data path: clips -> (augmented, normalized) arrays -> padded batches."""
import numpy as np
import torch

from datasets.normalization import normalize


class ClipDataset(torch.utils.data.Dataset):
    """Item ``i`` is ``(clip [frames, 54, 2] float32, class id)``, augmented when ``augment`` is given.

    Augmentation randomness comes from ``(seed, epoch, index)`` alone, so an epoch is the same whatever
    the worker count, and a resumed run repeats it exactly. Call :meth:`set_epoch` before each epoch.
    """

    def __init__(self, data, class_ids, augment=None, seed=0):
        self.data = data
        self.class_ids = np.asarray(class_ids, dtype=np.int64)
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self._normalized = None if augment else [normalize(data.clip(i)) for i in range(len(data))]

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.data)

    def _rng(self, epoch, index):
        return np.random.default_rng([self.seed, epoch, index])

    def __getitem__(self, index):
        if self._normalized is not None:
            return self._normalized[index], self.class_ids[index]
        return normalize(self.augment(self.data.clip(index), self._rng(self.epoch, index))), self.class_ids[index]

    def lengths(self, epoch):
        """Each clip's length in ``epoch`` once augmented (a time stretch changes it), from the draws its item
        will make, so that batches can be bucketed on the lengths they will have."""
        if self.augment is None:
            return np.asarray(self.data.lengths)
        return np.array([self.augment.length(int(frames), self._rng(epoch, index))
                         for index, frames in enumerate(self.data.lengths)], dtype=np.int64)


def collate(items):
    """Pad to the longest clip: ``(keypoints [B, T, 54, 2], padding_mask [B, T] True=pad, labels [B])``.

    Missing points stay NaN: the model reads them (see ``models.spoter.frame_features``). Padding is 0."""
    lengths = [len(clip) for clip, _ in items]
    keypoints = np.zeros((len(items), max(lengths)) + items[0][0].shape[1:], dtype=np.float32)
    padding_mask = np.ones((len(items), max(lengths)), dtype=bool)
    for row, (clip, _) in enumerate(items):
        keypoints[row, : len(clip)] = clip
        padding_mask[row, : len(clip)] = False
    labels = np.array([label for _, label in items], dtype=np.int64)
    return torch.from_numpy(keypoints), torch.from_numpy(padding_mask), torch.from_numpy(labels)


def length_buckets(lengths, batch_size):
    """Batches of indices with similar lengths, so little of each padded batch is padding."""
    order = np.argsort(lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def _signer_round_robin(members, signers, rng):
    """``members`` reordered so that consecutive clips come from different signers where possible."""
    members = rng.permutation(members)
    owners = signers[members]
    turn = np.zeros(len(members), dtype=np.int64)
    for owner in np.unique(owners):
        turn[owners == owner] = np.arange((owners == owner).sum())
    return members[np.argsort(turn, kind="stable")]


def _class_runs(class_ids, rng, clips_per_class, signers):
    """Runs of ``clips_per_class`` clips of one class (spread over signers when known), in class order."""
    runs = []
    for label in np.unique(class_ids):
        members = np.flatnonzero(class_ids == label)
        members = rng.permutation(members) if signers is None else _signer_round_robin(members, signers, rng)
        runs += [members[start:start + clips_per_class] for start in range(0, len(members), clips_per_class)]
    return runs


def _pair_ids(class_ids, signers):
    """An integer per (signer, class) pair."""
    _, signer_ids = np.unique(signers, return_inverse=True)
    return signer_ids.astype(np.int64) * (int(class_ids.max(initial=0)) + 1) + class_ids


def epoch_clips(class_ids, signers, per_pair, rng):
    """The clips an epoch trains on, sorted: every clip, or with ``per_pair`` > 0 and known ``signers`` at most
    that many of each (signer, class) pair, drawn with ``rng`` (anew each epoch, so all clips take turns)."""
    class_ids = np.asarray(class_ids)
    if per_pair <= 0 or signers is None:
        return np.arange(len(class_ids))
    pair_ids = _pair_ids(class_ids, np.asarray(signers))
    shuffled = rng.permutation(len(class_ids))
    grouped = shuffled[np.argsort(pair_ids[shuffled], kind="stable")]
    pairs = pair_ids[grouped]
    first = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]])
    rank = np.arange(len(grouped)) - np.repeat(first, np.diff(np.r_[first, len(grouped)]))
    return np.sort(grouped[rank < per_pair])


def epoch_clip_count(class_ids, signers, per_pair):
    """How many clips :func:`epoch_clips` keeps (the same every epoch)."""
    if per_pair <= 0 or signers is None:
        return len(class_ids)
    _, counts = np.unique(_pair_ids(np.asarray(class_ids), np.asarray(signers)), return_counts=True)
    return int(np.minimum(counts, per_pair).sum())


def _runs_of(clips, class_ids, signers, rng, clips_per_class):
    """:func:`_class_runs` of an epoch's ``clips``, as indices into all clips."""
    owners = None if signers is None else np.asarray(signers)[clips]
    return [clips[run] for run in _class_runs(class_ids[clips], rng, clips_per_class, owners)]


def epoch_order(class_ids, seed, epoch, clips_per_class=0, signers=None, per_pair=0):
    """The order of training clips for one epoch, derived from ``(seed, epoch)`` alone.

    With ``clips_per_class`` > 1, clips come in runs of that many of one class (runs shuffled), so every
    batch holds positives for triplets; with ``signers``, each run spans as many signers as the class has,
    so positives teach what a sign looks like across people rather than one person's style. 0 is a plain
    shuffle, as in the published code. ``per_pair`` caps the clips of each (signer, class) pair
    (:func:`epoch_clips`)."""
    rng = np.random.default_rng([seed, epoch])
    class_ids = np.asarray(class_ids)
    clips = epoch_clips(class_ids, signers, per_pair, np.random.default_rng([seed, epoch, 2]))
    if clips_per_class <= 1:
        return clips[rng.permutation(len(clips))]
    runs = _runs_of(clips, class_ids, signers, rng, clips_per_class)
    return np.concatenate([runs[i] for i in rng.permutation(len(runs))])


# A bucketing pool: this many batches' worth of runs is sorted by length at a time (clips of equal length
# in a random order). On WLASL100-sized sets a pool is the whole epoch: padding 3% against 6% with half
# the pool, at the price of batches that mostly repeat from epoch to epoch (their order does not), as
# with fairseq's length batching; on larger sets the pools, and so the batches, change every epoch.
BUCKET_POOL_BATCHES = 64
# Lengths within this many frames count as equal: their order stays random, so sets whose lengths follow
# the recording source (asl.npz: 20, 24 and 30 frames by source) do not get batches of one source, at the
# price of at most this many padded frames per clip.
BUCKET_FRAMES = 16


def bucketed_epoch_order(lengths, class_ids, seed, epoch, batch_size, clips_per_class=0, signers=None, per_pair=0):
    """An epoch order whose consecutive ``batch_size`` blocks hold clips of similar length, blocks shuffled.

    Derived from ``(seed, epoch)`` alone, like :func:`epoch_order`, whose runs of ``clips_per_class`` clips
    per class it keeps (a run is placed by its longest clip), so the two combine. The shuffled runs are cut
    into pools of ``BUCKET_POOL_BATCHES`` batches; each pool is sorted by length in steps of ``BUCKET_FRAMES``
    frames (a stable sort: random order within a step), ascending and descending
    in turn so that a batch spanning two pools joins similar lengths; the sorted sequence is cut into
    batches, which are shuffled. The last, partial batch stays last (``drop_last`` drops it). ``per_pair``
    caps the clips of each (signer, class) pair, as in :func:`epoch_order`."""
    rng = np.random.default_rng([seed, epoch, 1])
    lengths, class_ids = np.asarray(lengths), np.asarray(class_ids)
    clips = epoch_clips(class_ids, signers, per_pair, np.random.default_rng([seed, epoch, 2]))
    if clips_per_class > 1:
        runs = _runs_of(clips, class_ids, signers, rng, clips_per_class)
    else:
        runs = [np.array([clip]) for clip in clips]
    runs = [runs[i] for i in rng.permutation(len(runs))]
    run_lengths = np.array([-(-lengths[run].max() // BUCKET_FRAMES) for run in runs])
    pool_clips = BUCKET_POOL_BATCHES * batch_size
    sizes = np.cumsum([len(run) for run in runs])
    pool_of_run = (sizes - 1) // pool_clips
    ordered = []
    for pool in range(int(pool_of_run[-1]) + 1) if runs else []:
        members = np.flatnonzero(pool_of_run == pool)
        members = members[np.argsort(run_lengths[members], kind="stable")]
        ordered += [runs[i] for i in (members if pool % 2 == 0 else members[::-1])]
    order = np.concatenate(ordered) if ordered else np.array([], dtype=np.int64)
    full = len(order) // batch_size
    blocks = order[: full * batch_size].reshape(full, batch_size)[rng.permutation(full)]
    return np.concatenate([blocks.reshape(-1), order[full * batch_size:]])

