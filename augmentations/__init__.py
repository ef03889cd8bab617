"""Augmentations: each a vectorized function ``(clip, rng) -> clip`` over a raw ``[frames, 54, 2]`` clip.

They act on image coordinates (roughly 0..1), before normalization, as in SPOTER. NaN points stay NaN.
:func:`build_augmentations` composes them from the command-line arguments.
"""
import numpy as np

from utils import layout

IMAGE_CENTRE = np.array([0.5, 0.5], dtype=np.float32)
ROTATION_DEGREES = 13.0
SQUEEZE_RATIO = 0.15
PERSPECTIVE_RATIO = 0.1
ARM_JOINT_PROBABILITY = 0.3
ARM_JOINT_DEGREES = 4.0
TIME_STRETCH = (2 / 3, 1.5)  # covers the 20-, 24- and 30-frame sources from one another
HAND_DROP_SPAN = 0.5  # at most this share of the frames
HAND_WARP_DEGREES = 20.0
HAND_WARP_STRETCH = 0.15

# Which points follow a joint when it turns: the shoulder moves the elbow, wrist and hand of its side.
_ARMS = (
    (layout.LEFT_SHOULDER, layout.LEFT_ELBOW, layout.LEFT_WRIST, layout.LEFT_HAND),
    (layout.RIGHT_SHOULDER, layout.RIGHT_ELBOW, layout.RIGHT_WRIST, layout.RIGHT_HAND),
)


def _rotation(degrees):
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=np.float32)


def _rotate_about(points, pivot, degrees):
    return (points - pivot) @ _rotation(degrees).T + pivot


def rotate(clip, rng):
    """Rotate the whole frame about the image centre by up to 13 degrees either way."""
    return _rotate_about(clip, IMAGE_CENTRE, rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))


def squeeze(clip, rng):
    """Squeeze the frame horizontally from the left and the right by up to 15% each."""
    left, right = rng.uniform(0, SQUEEZE_RATIO, size=2)
    out = clip.copy()
    out[..., 0] = left + clip[..., 0] * (1 - left - right)
    return out


def _homography(source, target):
    """The 3x3 projective map taking four source points to four target points."""
    rows = []
    for (x, y), (u, v) in zip(source, target):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.array(rows, dtype=np.float64), target.reshape(-1).astype(np.float64))
    return np.append(solution, 1.0).reshape(3, 3)


def perspective(clip, rng):
    """Tilt the image plane: one side (left or right) shrinks vertically by up to 10%."""
    ratio = rng.uniform(0, PERSPECTIVE_RATIO)
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
    target = corners.copy()
    side = [0, 3] if rng.random() < 0.5 else [1, 2]
    target[side, 1] = [ratio / 2, 1 - ratio / 2]
    matrix = _homography(corners, target)
    homogeneous = np.concatenate([clip, np.ones_like(clip[..., :1])], axis=-1) @ matrix.T.astype(np.float32)
    return homogeneous[..., :2] / homogeneous[..., 2:]


def rotate_arm_joints(clip, rng):
    """Turn each shoulder and elbow (each with probability 0.3) by up to 4 degrees, moving what hangs off it."""
    out = clip.copy()
    for shoulder, elbow, wrist, hand in _ARMS:
        hand_points = list(range(hand.start, hand.stop))
        for joint, moved in ((shoulder, [elbow, wrist] + hand_points), (elbow, [wrist] + hand_points)):
            if rng.random() < ARM_JOINT_PROBABILITY:
                degrees = rng.uniform(-ARM_JOINT_DEGREES, ARM_JOINT_DEGREES)
                out[:, moved] = _rotate_about(out[:, moved], out[:, joint:joint + 1], degrees)
    return out


def stretched_length(frames, rng, low=TIME_STRETCH[0], high=TIME_STRETCH[1]):
    """A time stretch's new length: between ``low`` and ``high`` times ``frames`` (log-uniform), at least 2.

    Sources record fixed clip lengths (20, 24, 30 frames...), so without a stretch a model can tell sources,
    and through them glosses, apart by length alone, which fails on new signers."""
    factor = np.exp(rng.uniform(np.log(low), np.log(high)))
    return max(2, int(round(frames * factor)))


def resample(clip, length):
    """The clip linearly interpolated in time to ``length`` frames, first and last frames kept."""
    frames = len(clip)
    position = np.linspace(0, frames - 1, length, dtype=np.float32)
    before = np.floor(position).astype(int)
    after = np.minimum(before + 1, frames - 1)
    weight = (position - before)[:, None, None]
    return clip[before] * (1 - weight) + clip[after] * weight


def mirror(clip, rng=None):
    """Mirror left and right: real recorders often mirror their webcams, so handedness is not reliable."""
    out = clip[:, layout.MIRROR].copy()
    out[..., 0] = 1 - out[..., 0]
    return out


def warp_hands(clip, rng):
    """Turn each hand about its wrist by up to 20 degrees and stretch it along x and y by up to 15%, each
    hand on its own: the same handshape reaches the camera at other angles from other signers."""
    out = clip.copy()
    for hand in (layout.LEFT_HAND, layout.RIGHT_HAND):
        wrist = out[:, hand.start:hand.start + 1]
        stretch = rng.uniform(1 - HAND_WARP_STRETCH, 1 + HAND_WARP_STRETCH, size=2).astype(np.float32)
        turned = _rotate_about(out[:, hand], wrist, rng.uniform(-HAND_WARP_DEGREES, HAND_WARP_DEGREES))
        out[:, hand] = (turned - wrist) * stretch + wrist
    return out


def drop_hand(clip, rng, max_span=HAND_DROP_SPAN):
    """One hand, chosen at random, goes undetected (NaN) over a random run of up to ``max_span`` of the
    frames, as MediaPipe loses hands in fast motion: the model must not need both hands in every frame."""
    frames = len(clip)
    span = rng.integers(1, max(1, int(frames * max_span)) + 1)
    start = rng.integers(0, frames - span + 1)
    out = clip.copy()
    out[start:start + span, (layout.LEFT_HAND, layout.RIGHT_HAND)[rng.integers(2)]] = np.nan
    return out


def gaussian_noise(clip, rng, mean=0.0, std=0.001):
    return clip + rng.normal(mean, std, size=clip.shape).astype(clip.dtype)


GEOMETRIC = (rotate, squeeze, perspective, rotate_arm_joints)


class Augment:
    """With probability ``prob``: one geometric augmentation drawn at random, then Gaussian noise.
    Independently, a time stretch with probability ``time_stretch_prob``, a mirror with ``mirror_prob``, a
    dropped hand with ``hand_drop_prob`` and warped hands with ``hand_warp_prob``."""

    def __init__(self, prob, mirror_prob, gaussian_mean, gaussian_std, time_stretch_prob=0.0, hand_drop_prob=0.0,
                 hand_warp_prob=0.0):
        self.prob = prob
        self.hand_drop_prob = hand_drop_prob
        self.hand_warp_prob = hand_warp_prob
        self.mirror_prob = mirror_prob
        self.gaussian_mean = gaussian_mean
        self.gaussian_std = gaussian_std
        self.time_stretch_prob = time_stretch_prob

    def _stretch(self, frames, rng):
        """The length a time stretch gives a clip of ``frames`` frames, or None when it is not stretched."""
        return stretched_length(frames, rng) if rng.random() < self.time_stretch_prob else None

    def length(self, frames, rng):
        """The length this augmentation gives a clip of ``frames`` frames when called with ``rng``, drawn
        as the call draws it first: length buckets can then be formed on the lengths batches will have."""
        return self._stretch(frames, rng) or frames

    def __call__(self, clip, rng):
        stretched = self._stretch(len(clip), rng)
        if stretched is not None:
            clip = resample(clip, stretched)
        if rng.random() < self.mirror_prob:
            clip = mirror(clip)
        if rng.random() < self.prob:
            clip = GEOMETRIC[rng.integers(len(GEOMETRIC))](clip, rng)
            clip = gaussian_noise(clip, rng, self.gaussian_mean, self.gaussian_std)
        if rng.random() < self.hand_warp_prob:
            clip = warp_hands(clip, rng)
        if rng.random() < self.hand_drop_prob:
            clip = drop_hand(clip, rng)
        return clip


def build_augmentations(recipe):
    """The augmentation of a :class:`training.recipe.RecipeConfig`'s augmentation settings."""
    return Augment(recipe.augmentations_prob, recipe.mirror_prob, recipe.gaussian_mean, recipe.gaussian_std,
                   recipe.time_stretch_prob, recipe.hand_drop_prob, recipe.hand_warp_prob)
