"""Per-part practice feedback: what differs between an attempt and a reference clip of the same sign.

Both clips are raw keypoints in the model's input layout (``[frames, 54, 2]``, image coordinates, NaN =
not detected). Each is put in its own body frame (:func:`clip_features`): a hand's *location* is its
wrist relative to the neck in shoulder widths (the median over the clip, as SPOTER's normalization), its
*velocity* the change of that location per second, and its *shape* its 21 points in the hand's own square
box frame by frame, so that shape says nothing of size or place. Dynamic time warping (:func:`align`) pairs
every attempt frame with reference frames on hand shape and the wrists' track about their usual place
(after :func:`matched_hands`), so a slower or faster attempt is compared with the same moment of the sign
(and hands held higher throughout do not change which moments are paired). Five parts get a distance:

  right_hand_shape, left_hand_shape   per frame that shows the hand, the mean distance of its points (box
                                      units) to the nearest shape the other clip shows, averaged over both
                                      clips' frames (whatever their moment: the order is the movement's);
                                      reported when the reference shows that hand in a quarter of its frames
                                      or more (0 when the attempt never does)
  hand_location                       mean distance of the wrists (shoulder widths), hands seen in both
  movement                            the path: each hand's wrist track, the attempt's warped into the
                                      reference's time by the alignment, as 8 displacements evenly over the
                                      reference's frames; the mean distance of paired displacements
                                      (shoulder widths)
  speed                               |log| of the attempt's time for the reference's movement over the
                                      reference's, less :data:`PACE_TOLERANCE` (0 within it): the
                                      reference's moving frames (its first to last frame whose wrist speed
                                      reaches a quarter of its fast frames'), the attempt frames the
                                      alignment pairs with them, each in seconds. So the
                                      attempt's pace is measured against the reference's duration, not its
                                      distance travelled, and still frames before or after the sign do not
                                      count. Movement and speed together are the movement's path and pace;
                                      apart, a slow attempt cannot pass for one on the path, nor a fast one
                                      for one off it

Each distance is scored 0-100 as the practice score is (:func:`part_score`; pairs exactly as far count as
farther): against
the 101 quantiles of the same part's distance over pairs of clips of *different* glosses by *different*
signers of the index (:func:`calibrate`, computed by ``search.py index`` and stored in the index as
``feedback_parts`` and ``feedback_quantiles``).

Which part to fix first is another question: some parts differ a lot between any two recordings of one sign
(two takes rarely share their pace or path), so a low score on them says little. Each part's distance is
also placed among the same part's distances over pairs of different clips of the SAME gloss
(:func:`calibrate_variation`, stored as ``feedback_variation``): its ``unusual`` value is the percentage of
such pairs that differ less (beyond the farthest pair: 100 times the distance over that pair's). Parts come
most unusual first, and each one's sentence says how it compares with that variation ("close" where 1 pair
of recordings in 5 or more differs as much, "far" where fewer than 1 in 20 does), with the attempt frames
where it differs most. An index made before the variation was stored orders and words parts by their score.

:func:`part_feedback` can also measure each part against several reference clips of the gloss and keep the
closest; measured, that named the changed part first less often than the one nearest reference
(docs/practice.md), so ``search.py practice`` and the page use the one.

``web/feedback.js`` mirrors this module operation for operation (sums in the same order), so that the page
and ``search.py practice`` give the same numbers; tests/test_feedback.py holds them to it.
"""
import numpy as np

from retrieval.practice import SCORE_LEVELS
from retrieval.references import DEFAULT_FPS, readable_name
from utils import layout
from utils.errors import DataError

PARTS = ("right_hand_shape", "left_hand_shape", "hand_location", "movement", "speed")
PART_NAMES = {"right_hand_shape": "Right hand shape", "left_hand_shape": "Left hand shape",
              "hand_location": "Where the hands are", "movement": "Movement", "speed": "Speed"}
SIDES = ("right", "left")
HAND_SLICES = {"right": layout.RIGHT_HAND, "left": layout.LEFT_HAND}
SHAPE_PARTS = {"right": "right_hand_shape", "left": "left_hand_shape"}
# A frame where one clip shows the hand and the other does not: as far apart as two clearly different hand
# shapes (their mean point distance in the box is 0.15-0.3; a box is 1 wide).
MISSING_HAND_COST = 0.5
# The share of the reference's frames that must show a hand for the sign to use it.
USES_HAND_SHARE = 0.25
MIN_SCALE = 1e-6
VELOCITY_REACH = 2
# Steps of a hand's path in the movement part: enough for a sign's strokes, few enough to skip jitter.
PATH_STEPS = 8
WORST_FRAMES = 3
# Score bands of the sentences where the index stores no variation: a part scored at least CLOSE is as close as
# few different signs get.
CLOSE, SOMEWHAT = 70.0, 40.0
# Bands of the sentences on the variation between recordings of one sign: a part less unusual than USUAL
# differs as much as 1 pair of recordings of a sign in 5 or more; one at RARE or beyond as fewer than 1 in 20.
USUAL, RARE = 80.0, 95.0
# The reference's movement: its frames from the first to the last whose wrist speed reaches MOVING_SHARE of
# its fast frames' (the speed FAST_RANK of its frames lie under; not the fastest, which a jitter can make).
MOVING_SHARE, FAST_RANK = 0.25, 0.9
# A pace within a third of the reference's (log 4/3) is the same pace. Most takes of the bundled data are
# recordings of a fixed second, so two takes of a sign often align frame for frame and their paces match
# exactly; measured against that, a learner 7% slower came out more unusual than 4 pairs of takes in 5.
PACE_TOLERANCE = 0.28768207245178085
# Pairs of clips the calibration measures: enough for 101 quantiles, few enough for index time (a pair of
# 30-frame clips takes about a millisecond).
CALIBRATION_PAIRS = 1000
# The index arrays of the calibration: part names, per part its 101 quantiles over different signs, and per
# part its 101 quantiles over recordings of the same sign.
CALIBRATION_KEYS = ("feedback_parts", "feedback_quantiles", "feedback_variation")


# ---- each clip in its own frame ----

def median(values):
    """Median of the finite ``values`` (the mean of the middle two for an even count), NaN when none."""
    finite = np.sort(values[np.isfinite(values)])
    if not len(finite):
        return np.nan
    middle = len(finite) // 2
    return finite[middle] if len(finite) % 2 else (finite[middle - 1] + finite[middle]) / 2


def point_distance(a, b):
    """Euclidean distance of ``[..., 2]`` points."""
    dx, dy = a[..., 0] - b[..., 0], a[..., 1] - b[..., 1]
    return np.sqrt(dx * dx + dy * dy)


def body_frame(clip):
    """``(neck [2], scale)``: the clip's median neck and median shoulder width (per frame, twice the
    neck-nose distance where the shoulders are missing); NaN when the clip shows neither."""
    shoulders = point_distance(clip[:, layout.LEFT_SHOULDER], clip[:, layout.RIGHT_SHOULDER])
    head = 2 * point_distance(clip[:, layout.NECK], clip[:, layout.NOSE])
    scale = median(np.where(np.isnan(shoulders), head, shoulders))
    neck = np.array([median(clip[:, layout.NECK, 0]), median(clip[:, layout.NECK, 1])])
    return neck, scale if scale >= MIN_SCALE else np.nan


def hand_shape(hand):
    """``[frames, 21, 2]`` hand points in each frame's square box (as SPOTER's normalize_hand)."""
    low, high = hand.min(axis=1, keepdims=True), hand.max(axis=1, keepdims=True)
    size = np.maximum(np.maximum(high[..., 0] - low[..., 0], high[..., 1] - low[..., 1]), MIN_SCALE)
    return (hand - (low + high) / 2) / size[..., None]


def velocity(location, fps, reach=None):
    """Per frame change of ``location [frames, 2]`` a second, measured from ``reach`` frames before to
    ``reach`` after (fewer at the ends): wider than one frame step because landmarks jitter from frame to
    frame by as much as a slow hand moves. Zero for a one-frame clip; NaN where an end is missing."""
    reach = VELOCITY_REACH if reach is None else reach
    frames = np.arange(len(location))
    before, after = np.maximum(frames - reach, 0), np.minimum(frames + reach, len(location) - 1)
    steps = (after - before).astype(np.float64)[:, None]
    if len(location) < 2:
        return np.where(np.isnan(location), np.nan, 0.0)
    return (location[after] - location[before]) / steps * fps


def clip_features(clip, fps=DEFAULT_FPS):
    """Per side (right, left): ``present [frames]``, ``shape [frames, 21, 2]``, ``location``, ``track`` (the
    location less its median over the clip) and ``velocity [frames, 2]``, NaN where the hand is not seen
    (or, for location, track and velocity, where the body is not); and the clip's ``fps``, which the speed
    part times its frames by."""
    clip = np.asarray(clip, dtype=np.float64)
    neck, scale = body_frame(clip)
    features = {"fps": float(fps)}
    for side in SIDES:
        hand = clip[:, HAND_SLICES[side]]
        present = np.isfinite(hand).all(axis=(1, 2))
        hand = np.where(present[:, None, None], hand, np.nan)
        location = (hand[:, 0] - neck) / scale
        features[side] = {"present": present, "shape": hand_shape(hand), "location": location,
                          "track": location - np.array([median(location[:, 0]), median(location[:, 1])]),
                          "velocity": velocity(location, fps)}
    return features


def presence_share(features, side):
    present = features[side]["present"]
    return present.sum() / len(present) if len(present) else 0.0


def mirrored(features):
    """The features of the clip's mirror image: hands swapped, x negated (locations are about the neck)."""
    flip = np.array([-1.0, 1.0])
    image = {side: {"present": features[other]["present"], "shape": features[other]["shape"] * flip,
                    "location": features[other]["location"] * flip, "track": features[other]["track"] * flip,
                    "velocity": features[other]["velocity"] * flip}
             for side, other in zip(SIDES, SIDES[::-1])}
    image["fps"] = features["fps"]
    return image


def matched_hands(attempt, reference):
    """The attempt's features, mirrored when that matches the reference's use of each hand better: the
    bundled data holds mirrored recordings (a webcam preview flipped before the landmarks were taken: the
    signing hand is labelled left and sits on the other side), and a learner may sign left-handed; either
    would otherwise compare a hand with nothing. Also says whether it mirrored."""
    a_right, a_left = presence_share(attempt, "right"), presence_share(attempt, "left")
    r_right, r_left = presence_share(reference, "right"), presence_share(reference, "left")
    swapped = abs(a_right - r_left) + abs(a_left - r_right) < abs(a_right - r_right) + abs(a_left - r_left)
    return (mirrored(attempt) if swapped else attempt), bool(swapped)


# ---- the alignment ----

def shape_distances(a, b):
    """``[n, m]`` mean point distance between the hand shapes ``a [n, 21, 2]`` and ``b [m, 21, 2]``; the
    points summed in order so that the page's loop gives the same numbers."""
    each = point_distance(a[:, None], b[None])
    total = each[..., 0]
    for point in range(1, each.shape[-1]):
        total = total + each[..., point]
    return total / each.shape[-1]


def frame_costs(attempt, reference):
    """``[n, m]`` cost of pairing attempt frame i with reference frame j: the mean, over the hands either
    frame shows, of shape distance + the distance of the wrists about each clip's median place (its
    ``track``: so that hands held higher or lower throughout, a part of its own, do not change which moments
    are paired, nor with them the movement and speed; :data:`MISSING_HAND_COST` for a hand only one shows);
    0 where neither shows a hand."""
    total, terms = 0.0, 0
    for side in SIDES:
        a, r = attempt[side], reference[side]
        both = a["present"][:, None] & r["present"][None]
        one = a["present"][:, None] != r["present"][None]
        location = point_distance(a["track"][:, None], r["track"][None])
        seen = shape_distances(a["shape"], r["shape"]) + np.where(np.isnan(location), 0.0, location)
        total = total + np.where(both, seen, np.where(one, MISSING_HAND_COST, 0.0))
        terms = terms + (both | one)
    return np.where(terms > 0, total / np.maximum(terms, 1), 0.0)


def warp(costs):
    """The dynamic time warping path through ``costs [n, m]`` from (0, 0) to (n-1, m-1), steps of
    (1, 1), (1, 0) or (0, 1), least total cost; on a tie the diagonal, then the attempt's step, wins."""
    n, m = costs.shape
    rows = costs.tolist()
    total = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                best = 0.0
            elif i == 0:
                best = total[i][j - 1]
            elif j == 0:
                best = total[i - 1][j]
            else:
                best = min(total[i - 1][j - 1], total[i - 1][j], total[i][j - 1])
            total[i][j] = rows[i][j] + best
    return backtrack(total)


def backtrack(total):
    i, j = len(total) - 1, len(total[0]) - 1
    path = [(i, j)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            diagonal, up, left = total[i - 1][j - 1], total[i - 1][j], total[i][j - 1]
            if diagonal <= up and diagonal <= left:
                i, j = i - 1, j - 1
            elif up <= left:
                i -= 1
            else:
                j -= 1
        path.append((i, j))
    return path[::-1]


def align(attempt, reference, attempt_fps=DEFAULT_FPS, reference_fps=DEFAULT_FPS):
    """The time alignment of two raw clips: ``[(attempt frame, reference frame), ...]`` in order."""
    reference = clip_features(reference, reference_fps)
    attempt, _ = matched_hands(clip_features(attempt, attempt_fps), reference)
    return warp(frame_costs(attempt, reference))


# ---- the parts ----

def nearest_shapes(side, attempt, reference):
    """``(per attempt frame, per reference frame)``: the distance from the hand's shape in that frame to the
    nearest shape the other clip shows; NaN where the frame does not show the hand (all NaN when either clip
    never does)."""
    a, r = attempt[side], reference[side]
    both = a["present"][:, None] & r["present"][None]
    distances = np.where(both, shape_distances(a["shape"], r["shape"]), np.inf)
    nearest = distances.min(axis=1, initial=np.inf), distances.min(axis=0, initial=np.inf)
    return tuple(np.where(np.isfinite(found), found, np.nan) for found in nearest)


def shape_distance(side, attempt, reference):
    """The hand's shape part: the mean, over both clips' frames that show it, of the distance to the nearest
    shape the other clip shows (each clip's mean, then their mean). Whatever their moment: does the attempt
    make the reference's hand shapes and only those. Their order is the movement's to judge; paired frame by
    frame, a sign played backwards or out of step would also count as wrong shapes."""
    to_reference, to_attempt = nearest_shapes(side, attempt, reference)
    return (mean_finite(to_reference) + mean_finite(to_attempt)) / 2


def norm(vectors):
    return point_distance(vectors, np.zeros(2))


def speed_difference(a, r):
    return np.abs(norm(a) - norm(r))


def side_mean(measure, key, attempt, reference, i, j):
    """Per path pair, the mean over the hands both frames show of ``measure`` of their ``key`` (location or
    velocity) arrays; NaN where no hand is in both."""
    total, count = np.zeros(len(i)), np.zeros(len(i))
    for side in SIDES:
        values = measure(attempt[side][key][i], reference[side][key][j])
        seen = np.isfinite(values)
        total = total + np.where(seen, values, 0.0)
        count = count + seen
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def uses_hand(features, side):
    present = features[side]["present"]
    return bool(len(present)) and present.sum() >= USES_HAND_SHARE * len(present)


def wrist_speeds(features):
    """Per frame, the faster wrist's speed (NaN where neither hand's velocity is known)."""
    right, left = (norm(features[side]["velocity"]) for side in SIDES)
    return np.where(np.isnan(right), left, np.where(np.isnan(left), right, np.maximum(right, left)))


def moving_span(features):
    """``(first, last)`` frame of the clip's movement: the frames whose wrist speed reaches
    :data:`MOVING_SHARE` of the speed :data:`FAST_RANK` of its frames lie under (the frame at that rank of
    the sorted speeds, so that the page picks the same one); None when no frame's speed is known."""
    speeds = wrist_speeds(features)
    known = np.sort(speeds[np.isfinite(speeds)])
    if not len(known):
        return None
    fast = known[int(FAST_RANK * (len(known) - 1))]
    moving = np.flatnonzero(np.isfinite(speeds) & (speeds >= MOVING_SHARE * fast))
    return int(moving[0]), int(moving[-1])


def tempo(attempt, reference, path):
    """The attempt's time for the reference's movement over the reference's (2 for twice as slow): the
    attempt frames ``path`` pairs with the reference's moving span, each clip's frames in its own seconds;
    NaN when the reference's movement is unknown."""
    span = moving_span(reference)
    if span is None:
        return np.nan
    paired = [i for i, j in path if span[0] <= j <= span[1]]
    attempt_time = (max(paired) - min(paired) + 1) / attempt["fps"]
    return attempt_time / ((span[1] - span[0] + 1) / reference["fps"])


def speed_distance(attempt, reference, path):
    """How far the pace is off beyond :data:`PACE_TOLERANCE`: |log| of :func:`tempo` less it, 0 within it
    (0.41 for twice as slow or twice as fast)."""
    ratio = tempo(attempt, reference, path)
    return max(abs(float(np.log(ratio))) - PACE_TOLERANCE, 0.0) if ratio > 0 else np.nan


def warped_location(features, side, path, frames):
    """The hand's wrist location in the other clip's time: per frame of it (``frames`` of them), the mean
    location over the frames the path pairs with it (NaN where none shows the hand)."""
    total, count = np.zeros((frames, 2)), np.zeros(frames)
    location = features[side]["location"]
    for i, j in path:
        if np.isfinite(location[i]).all():
            total[j] += location[i]
            count[j] += 1
    return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)


def track_steps(location, steps=PATH_STEPS):
    """A wrist path ``location [frames, 2]`` as ``steps`` displacements between ``steps + 1`` points spread
    evenly over its frames (interpolated between the frames that show the hand); None with under two such
    frames."""
    shown = np.flatnonzero(np.isfinite(location).all(axis=1))
    if len(shown) < 2:
        return None
    times = np.arange(steps + 1) * ((len(location) - 1) / steps)
    points = np.stack([np.interp(times, shown, location[shown, axis]) for axis in (0, 1)], axis=1)
    return points[1:] - points[:-1]


def track_pairs(attempt, reference, path):
    """Per hand both clips show: ``(attempt steps, reference steps)`` of :func:`track_steps`, the attempt's
    path warped into the reference's time by ``path`` (so that pace, a part of its own, does not count, nor
    still frames before or after the sign). Measured on 1,000 real clips, comparing each path in its own time
    as well, or instead, named a reversed sign first no more often (83-84%)."""
    frames = len(reference[SIDES[0]]["location"])
    pairs = []
    for side in SIDES:
        a = track_steps(warped_location(attempt, side, path, frames))
        r = track_steps(reference[side]["location"])
        if a is not None and r is not None:
            pairs.append((a, r))
    return pairs


def movement_distance(attempt, reference, path):
    """Mean distance (shoulder widths) between the displacements of the two clips' hand paths."""
    total, count = 0.0, 0
    for a, r in track_pairs(attempt, reference, path):
        each = point_distance(a, r).tolist()
        total, count = total + sum(each) / len(each), count + 1
    return total / count if count else np.nan


def path_costs(attempt, reference, path):
    """Per part, ``(distance, cost at each pair of path)`` (distance NaN where it does not apply); a hand's
    shape only when the reference uses that hand."""
    i, j = (np.array(column, dtype=np.int64) for column in zip(*path))
    parts = {}
    for side in SIDES:
        if uses_hand(reference, side):
            # Per path pair, how far the attempt frame's shape lies from any of the reference's.
            costs = nearest_shapes(side, attempt, reference)[0][i]
            parts[SHAPE_PARTS[side]] = (shape_distance(side, attempt, reference), costs)
    location = side_mean(point_distance, "location", attempt, reference, i, j)
    parts["hand_location"] = (mean_finite(location), location)
    differences = side_mean(point_distance, "velocity", attempt, reference, i, j)
    parts["movement"] = (movement_distance(attempt, reference, path), differences)
    speeds = side_mean(speed_difference, "velocity", attempt, reference, i, j)
    parts["speed"] = (speed_distance(attempt, reference, path), speeds)
    return parts


def mean_finite(values):
    """Mean of the finite values, summed in order; NaN when there are none."""
    total, count = 0.0, 0
    for value in values.tolist():
        if np.isfinite(value):
            total, count = total + value, count + 1
    return total / count if count else np.nan


def part_distances(attempt, reference, path):
    """``{part: distance}`` over the path, for the parts that apply."""
    distances = {part: distance for part, (distance, _) in path_costs(attempt, reference, path).items()}
    return {part: distance for part, distance in distances.items() if np.isfinite(distance)}


def worst_frames(costs, path, count=WORST_FRAMES):
    """The ``count`` attempt frames where ``costs`` (per path pair) is largest, worst first (ties: earlier)."""
    worst = {}
    for (i, _), cost in zip(path, costs.tolist()):
        if np.isfinite(cost) and cost > worst.get(i, -np.inf):
            worst[i] = cost
    return [frame for frame, _ in sorted(worst.items(), key=lambda item: (-item[1], item[0]))[:count]]


# ---- calibration and scores ----

def different_sign_pairs(labels, signers, count, seed=0):
    """Up to ``count`` pairs of clip rows of different glosses by different signers (anyone when the
    signers are unknown or all one), drawn with a fixed seed."""
    labels = np.asarray(labels)
    if signers is not None and len(np.unique(signers)) < 2:
        signers = None
    rng = np.random.default_rng(seed)
    pairs = []
    for first in rng.permutation(len(labels))[:count]:
        allowed = labels != labels[first]
        if signers is not None:
            allowed &= np.asarray(signers) != signers[first]
        if allowed.any():
            pairs.append((int(first), int(rng.choice(np.flatnonzero(allowed)))))
    return pairs


def same_sign_pairs(labels, count, seed=0):
    """Up to ``count`` pairs of clip rows of the same gloss (two different clips, by anyone), drawn with a
    fixed seed: what two recordings of one sign differ by."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pairs = []
    for first in rng.permutation(len(labels))[:count]:
        allowed = labels == labels[first]
        allowed[first] = False
        if allowed.any():
            pairs.append((int(first), int(rng.choice(np.flatnonzero(allowed)))))
    return pairs


def pair_quantiles(data, pairs):
    """``{part: 101 quantiles}`` of each part's distance over ``pairs`` of ``data``'s clip rows (the first as
    the attempt); a part no pair measures gets NaN quantiles; None when no pair measures any."""
    values = {part: [] for part in PARTS}
    cache = {}
    for first, second in pairs:
        attempt, reference = (cache[row] if row in cache else cache.setdefault(row, clip_features(data.clip(row)))
                              for row in (first, second))
        attempt, _ = matched_hands(attempt, reference)
        path = warp(frame_costs(attempt, reference))
        for part, distance in part_distances(attempt, reference, path).items():
            values[part].append(distance)
    if not any(values.values()):
        return None
    return {part: np.quantile(found, SCORE_LEVELS).astype(np.float32) if found
            else np.full(len(SCORE_LEVELS), np.nan, np.float32) for part, found in values.items()}


def calibrate(data, labels=None, pairs=CALIBRATION_PAIRS):
    """The scores' calibration: ``{part: 101 quantiles}`` of each part's distance over pairs of ``data``'s
    clips of different glosses (``labels``, default ``data.labels``) by different signers."""
    labels = data.labels if labels is None else np.asarray(labels)
    quantiles = pair_quantiles(data, different_sign_pairs(labels, data.signers, pairs))
    if quantiles is None:
        raise DataError(f"{data.source}: no pair of clips of different glosses by different signers: no feedback "
                        f"to calibrate")
    return quantiles


def calibrate_variation(data, labels=None, pairs=CALIBRATION_PAIRS):
    """How much each part varies between recordings of one sign: ``{part: 101 quantiles}`` of its distance
    over pairs of different clips of the same gloss; None when no gloss has two clips."""
    labels = data.labels if labels is None else np.asarray(labels)
    return pair_quantiles(data, same_sign_pairs(labels, pairs))


def calibration_arrays(calibration, variation=None):
    """The index arrays of the calibration (and of the variation, when there is one)."""
    parts = [part for part in PARTS if part in calibration]
    arrays = {"feedback_parts": np.array(parts, dtype=str),
              "feedback_quantiles": np.stack([calibration[part] for part in parts]).astype(np.float32)}
    if variation is not None:
        nowhere = np.full(len(SCORE_LEVELS), np.nan, np.float32)
        arrays["feedback_variation"] = np.stack([variation.get(part, nowhere) for part in parts]).astype(np.float32)
    return arrays


def check_quantile_rows(parts, rows, key, path):
    """Each part's row of ``key`` must be finite and non-decreasing, or all NaN (no pair measured it)."""
    if rows.shape != (len(parts), len(SCORE_LEVELS)) or rows.dtype.kind != "f":
        raise DataError(f"{path}: '{key}' must be [parts, {len(SCORE_LEVELS)}] quantiles, one row per "
                        f"'feedback_parts'; rebuild it with search.py index")
    for part, row in zip(parts.tolist(), rows):
        if not (np.isnan(row).all() or (np.isfinite(row).all() and (np.diff(row) >= 0).all())):
            raise DataError(f"{path}: {key} of {part} must be finite and non-decreasing (or all NaN)")
    return {part: row.astype(np.float32) for part, row in zip(parts.tolist(), rows)}


def read_calibration_arrays(arrays, path):
    """The feedback calibration of an index's arrays (None for an index made before it was stored)."""
    if not any(key in arrays for key in CALIBRATION_KEYS):
        return None
    parts, quantiles = arrays.get("feedback_parts"), arrays.get("feedback_quantiles")
    if parts is None or quantiles is None or parts.ndim != 1 or parts.dtype.kind != "U":
        raise DataError(f"{path}: 'feedback_parts' and 'feedback_quantiles' must be part names and "
                        f"[parts, {len(SCORE_LEVELS)}] quantiles; rebuild it with search.py index")
    unknown = sorted(set(parts.tolist()) - set(PARTS))
    if unknown:
        raise DataError(f"{path}: 'feedback_parts' names unknown parts {', '.join(unknown)}")
    return check_quantile_rows(parts, quantiles, "feedback_quantiles", path)


def read_variation_arrays(arrays, path):
    """The variation of each part between recordings of one sign (None for an index made before it was
    stored); the parts are the calibration's."""
    if "feedback_variation" not in arrays:
        return None
    if "feedback_parts" not in arrays:
        raise DataError(f"{path}: has 'feedback_variation' but not 'feedback_parts'; rebuild it with search.py index")
    return check_quantile_rows(arrays["feedback_parts"], arrays["feedback_variation"], "feedback_variation", path)


def band(score, unusual=None):
    """The verdict of a part: on its ``unusual`` value where the index stores the variation, else on its score."""
    if unusual is not None:
        close, off = unusual < USUAL, unusual < RARE
    else:
        close, off = score >= CLOSE, score >= SOMEWHAT
    if close:
        return "close to the reference"
    return "somewhat off" if off else "far from the reference"


def share_below(distance, quantiles):
    """The share of a calibration's pairs (its 101 ``quantiles``) that lie closer than ``distance``. Where
    many pairs lie exactly as far (a speed part is often exactly the reference's pace), the share below them
    all: a clip against itself is closer than every pair, not than half of them."""
    quantiles = np.asarray(quantiles, dtype=np.float64)
    return float(np.interp(-distance, -quantiles[::-1], SCORE_LEVELS[::-1]))


def part_score(distance, quantiles):
    """0-100: the share of the calibration's different-sign pairs that lie at least as far apart (the
    practice score's reading, :func:`retrieval.practice.practice_score`, with ties counted as above)."""
    return 100.0 * (1.0 - share_below(distance, quantiles))


def unusualness(distance, quantiles):
    """The percentage of pairs of recordings of one sign whose part differs less than ``distance`` (the 101
    ``quantiles`` of :func:`calibrate_variation`); beyond the farthest pair, 100 times the distance over
    that pair's, so that two parts past every pair still come in order."""
    top = float(quantiles[-1])
    if distance > top:
        return 100.0 * distance / top if top > 0 else np.inf
    return 100.0 * share_below(distance, quantiles)


def location_hint(attempt, reference, path):
    """Which way the attempt's hands sit from the reference's, from their mean offset along the path."""
    dx, dy, count = 0.0, 0.0, 0
    for side in SIDES:
        for i, j in path:
            offset = attempt[side]["location"][i] - reference[side]["location"][j]
            if np.isfinite(offset).all():
                dx, dy, count = dx + float(offset[0]), dy + float(offset[1]), count + 1
    if not count:
        return "keep both hands in view"
    if abs(dy) >= abs(dx):
        return "your hands are higher than the reference's" if dy < 0 else "your hands are lower than the reference's"
    return f"your hands are further {'left' if dx < 0 else 'right'} in the picture than the reference's"


def speed_hint(attempt, reference, path):
    """Which way to change the pace; said only of a speed that is not close, so always one way or the other
    (most pairs of takes keep the same pace, so a pace 20% off is already unusual)."""
    if tempo(attempt, reference, path) > 1:
        return "move faster: yours is slower than the reference"
    return "move slower: yours is faster than the reference"


def movement_hint(attempt, reference, path):
    """The other way round (the paths' displacements point against each other on the whole), or elsewhere."""
    dots = 0.0
    for a, r in track_pairs(attempt, reference, path):
        for (ax, ay), (rx, ry) in zip(a.tolist(), r.tolist()):
            dots += ax * rx + ay * ry
    return "your hands move the other way round" if dots < 0 else "follow the reference's path"


def sentence(part, score, unusual, attempt, reference, path):
    """The part's verdict in plain words, with what to change when it is not close."""
    verdict = f"{PART_NAMES[part]}: {band(score, unusual)}"
    if band(score, unusual) == "close to the reference":
        return verdict + "."
    if part in ("right_hand_shape", "left_hand_shape"):
        side = "right" if part == "right_hand_shape" else "left"
        seen = attempt[side]["present"].any()
        hint = "check the fingers" if seen else f"the {side} hand was not seen; keep it in view"
    elif part == "hand_location":
        hint = location_hint(attempt, reference, path)
    elif part == "speed":
        hint = speed_hint(attempt, reference, path)
    else:
        hint = movement_hint(attempt, reference, path)
    return f"{verdict}; {hint}."


def unseen_hand(part, distance):
    """A hand the reference uses that the attempt never shows beside it: a shape no distance can measure."""
    return part in SHAPE_PARTS.values() and not np.isfinite(distance)


def compare(attempt, reference, attempt_fps, reference_fps):
    """One reference's comparison: the two clips' features (the attempt mirrored where
    :func:`matched_hands` says), whether it was, the alignment and :func:`path_costs`."""
    reference = clip_features(reference, reference_fps)
    attempt, swapped = matched_hands(clip_features(attempt, attempt_fps), reference)
    path = warp(frame_costs(attempt, reference))
    return {"attempt": attempt, "reference": reference, "swapped": swapped, "path": path,
            "parts": path_costs(attempt, reference, path)}


def closest_per_part(comparisons):
    """Per part some comparison measures: the position of the comparison where it is closest (the first on a
    tie, and the first that has the part where none measures it: a hand the attempt never shows)."""
    chosen = {}
    for position, comparison in enumerate(comparisons):
        for part, (distance, _) in comparison["parts"].items():
            if part not in chosen:
                chosen[part] = position
                continue
            best = comparisons[chosen[part]]["parts"][part][0]
            if np.isfinite(distance) and not best <= distance:
                chosen[part] = position
    return chosen


def part_entry(part, comparison, position, quantiles, variation):
    """The feedback on one part from the comparison (at ``position`` among the references) that measured it
    closest; None where the calibration cannot score it."""
    distance, costs = comparison["parts"][part]
    measured = np.isfinite(distance)
    if quantiles is None or not np.isfinite(quantiles).all() or not (measured or unseen_hand(part, distance)):
        return None
    score = part_score(float(distance), quantiles) if measured else 0.0
    spread = None if variation is None else variation.get(part)
    unusual = None
    if spread is not None and np.isfinite(spread).all():
        unusual = unusualness(float(distance), spread) if measured else np.inf
    return {"part": part, "name": PART_NAMES[part], "score": score,
            "distance": float(distance) if measured else None,
            "unusual": None if unusual is None or not np.isfinite(unusual) else unusual,
            "band": band(score, unusual), "sentence": sentence(part, score, unusual, comparison["attempt"], comparison["reference"],
                                 comparison["path"]),
            "worst_frames": worst_frames(costs, comparison["path"]), "reference": position}


def fix_first(entry):
    """Sort key: the most unusual part first (a hand never shown before all), by score where a part has no
    variation; ties in :data:`PARTS` order."""
    if entry["distance"] is None:
        return (0, -np.inf, PARTS.index(entry["part"]))
    if entry["unusual"] is not None:
        return (0, -entry["unusual"], PARTS.index(entry["part"]))
    return (1, entry["score"], PARTS.index(entry["part"]))


def part_feedback(attempt, reference, calibration, attempt_fps=DEFAULT_FPS, reference_fps=DEFAULT_FPS,
                  variation=None, others=()):
    """Feedback on an attempt (raw clip) against a reference clip of its gloss: ``{"parts": [{"part",
    "name", "score", "distance", "unusual", "band", "sentence", "worst_frames", "reference"}], "path": [[attempt
    frame, reference frame], ...], "swapped_hands": whether the attempt was mirrored (:func:`matched_hands`)}``.
    ``variation`` (:func:`calibrate_variation`) orders the parts, what to fix first first, and words them;
    without it they come worst score first. ``others``: further reference clips of the gloss as ``(clip,
    fps)``; each part is then measured against every reference and the closest kept (``reference``: 0 for
    ``reference``, k for the k-th of ``others``); path and mirroring are ``reference``'s. A hand the
    reference uses and the attempt never shows scores 0 (distance and unusual None); other parts that do
    not apply or that the calibration cannot score are left out."""
    comparisons = [compare(attempt, reference, attempt_fps, reference_fps)]
    comparisons += [compare(attempt, clip, attempt_fps, fps) for clip, fps in others]
    parts = []
    for part, position in closest_per_part(comparisons).items():
        entry = part_entry(part, comparisons[position], position, calibration.get(part), variation)
        if entry is not None:
            parts.append(entry)
    parts.sort(key=fix_first)
    first = comparisons[0]
    return {"parts": parts, "path": [[i, j] for i, j in first["path"]], "swapped_hands": first["swapped"]}


# ---- against an index ----

def nearest_reference(index, gloss, embedding):
    """Position (in ``index.references``) of the reference clip of ``gloss`` nearest ``embedding``; None
    when the index stores none of it."""
    positions = index.references.of_rows(np.flatnonzero(index.labels == gloss))
    if not len(positions):
        return None
    rows = index.references.rows[positions]
    distances = np.linalg.norm(index.embeddings[rows] - np.asarray(embedding, dtype=np.float32), axis=1)
    return int(positions[np.argmin(distances)])


def index_feedback(index, gloss, attempt, embedding, attempt_fps=DEFAULT_FPS):
    """Per-part feedback on ``attempt`` against the reference clip of ``gloss`` nearest its ``embedding``:
    :func:`part_feedback`'s result (ordered on the index's variation) with ``reference`` (clip_id, name,
    signer, fps) added, or ``{"note": why there is none}`` for an index made before references and their
    calibration were stored. One reference, not the gloss's every one: measured against several, the closest
    kept per part, the changed part came first less often (docs/practice.md)."""
    if index.references is None or index.feedback_calibration is None:
        return {"note": f"{index.source}: made before reference clips were stored; no reference can be shown and no "
                        f"per-part feedback given (rebuild it with search.py index)"}
    position = nearest_reference(index, gloss, embedding)
    if position is None:
        return {"note": f"{index.source}: holds no reference clip of {gloss!r}"}
    row = int(index.references.rows[position])
    signer = None if index.signers is None else str(index.signers[row])
    fps = float(index.references.fps[position])
    result = part_feedback(attempt, index.references.clip(position), index.feedback_calibration, attempt_fps, fps,
                           index.feedback_variation)
    result["reference"] = {"clip_id": str(index.clip_ids[row]), "signer": signer, "fps": fps,
                           "name": readable_name(gloss, str(index.clip_ids[row]), signer)}
    return result
