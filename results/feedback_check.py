"""Is the per-part feedback right? Change one part of real clips and count how often it is named first.

Each sampled clip of DATA (an "attempt") is compared, after one change, with: the clip itself before the
change (does the feedback name the part that was changed?); up to ``--per-gloss`` other takes of its gloss
by its signer (default 1); and up to that many clips of its gloss by other signers (what a learner meets:
the nearest of the index's reference clips of the gloss; with several, each part is measured against every
one and the closest kept).
The changes:

  hand shape   the attempt's hand replaced, frame by frame, by the hand shape of a clip of another gloss
               (the donor's hand scaled to the attempt's hand and put on the attempt's wrist, so the hand
               stays where it was); the right hand, or the left where the clip shows that one more, as the
               bundled data's landmark detector often labels a signer's one hand left
  hands up     both hands (and the body's wrists) moved up by a head's height, taken as the median distance
               from the nose to the neck (the shoulders' midpoint)
  backwards    the clip played from its last frame to its first
  half speed   the clip played at half speed (twice the frames, each new one halfway between two old ones)

and the feedback of ``retrieval/feedback.py`` (its scores calibrated here on pairs of DATA's clips of
different glosses by different signers, its order on pairs of different clips of the same gloss, as
``search.py index`` calibrates both on an index's clips) is asked which part to fix first. The expected
part: the shape of the hand changed (as the reference's side it is compared with, when the feedback swapped
the attempt's hand labels), where the hands are, the movement or speed, the movement or speed. Played
backwards or slowed, a sign that hardly moves is the same sign: those two changes count only attempts whose
wrists move at least ``--min-speed`` shoulder widths a second on average (how many that leaves is printed).
The unchanged attempts are scored too: how often each part comes first without a change is the baseline.
No model is needed: the feedback compares keypoints.

    python -m results.feedback_check [--data ../shared/data/signs/asl.npz] [--clips 1000] [--seed 0]
        [--per-gloss 1] [--order variation|score]
"""
import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from datasets import read_signs
from retrieval import feedback
from utils import layout
from utils.cli import comma_list, format_table, run_command
from utils.errors import DataError

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPOSITORY.parent / "shared" / "data" / "signs" / "asl.npz"
CHANGES = ("hand shape", "hands up", "backwards", "half speed")
EXPECTED = {"hands up": ("hand_location",), "backwards": ("movement", "speed"), "half speed": ("movement", "speed")}
REFERENCE_TEXT = {"itself": "the attempt itself before the change",
                  "same signer": "other takes of the gloss by the attempt's signer",
                  "other signer": "clips of the gloss by other signers"}
# A clip must show the hand to be changed in this share of its frames for its shape to be swapped.
MIN_HAND_SHARE = 0.5


def hand_present(clip, side):
    hand = clip[:, feedback.HAND_SLICES[side]]
    return np.isfinite(hand).all(axis=(1, 2))


def main_side(clip):
    """The hand the clip shows in more frames (right on a tie)."""
    return "left" if hand_present(clip, "left").sum() > hand_present(clip, "right").sum() else "right"


def hand_size(hand):
    """Per frame, the side of the hand's square box."""
    return np.maximum(np.ptp(hand[..., 0], axis=-1), np.ptp(hand[..., 1], axis=-1))


def nearest_present(present, wanted):
    """For each wanted frame index, the nearest frame where ``present``."""
    frames = np.flatnonzero(present)
    return frames[np.abs(frames[None] - np.asarray(wanted)[:, None]).argmin(axis=1)]


def swap_hand_shape(clip, donor, side, donor_side):
    """``clip`` with its ``side`` hand shaped, frame by frame, as ``donor``'s ``donor_side`` hand (its frames
    stretched over the clip's), kept on the clip's wrist at the clip's hand size."""
    changed = clip.copy()
    hands, donor_hands = clip[:, feedback.HAND_SLICES[side]], donor[:, feedback.HAND_SLICES[donor_side]]
    frames = np.flatnonzero(hand_present(clip, side))
    stretched = np.rint(frames * (len(donor) - 1) / max(len(clip) - 1, 1)).astype(int)
    shapes = donor_hands[nearest_present(hand_present(donor, donor_side), stretched)]
    scale = hand_size(hands[frames]) / np.maximum(hand_size(shapes), feedback.MIN_SCALE)
    moved = hands[frames, :1] + (shapes - shapes[:, :1]) * scale[:, None, None]
    changed[frames, feedback.HAND_SLICES[side]] = moved
    return changed


def head_height(clip):
    return float(np.nanmedian(feedback.point_distance(clip[:, layout.NOSE], clip[:, layout.NECK])))


def hands_up(clip):
    """Both hands and the body's wrists moved up (image y falls) by a head's height."""
    changed = clip.copy()
    for points in (layout.LEFT_HAND, layout.RIGHT_HAND, [layout.LEFT_WRIST, layout.RIGHT_WRIST]):
        changed[:, points, 1] -= head_height(clip)
    return changed


def backwards(clip):
    return clip[::-1].copy()


def half_speed(clip):
    """Twice as slow: every frame kept, a frame halfway between each two (missing where either is)."""
    slowed = np.empty((2 * len(clip) - 1, *clip.shape[1:]), dtype=clip.dtype)
    slowed[0::2] = clip
    slowed[1::2] = (clip[:-1] + clip[1:]) / 2
    return slowed


def mean_wrist_speed(clip):
    """Mean speed of the clip's wrists (shoulder widths a second), over the frames where it is known."""
    features = feedback.clip_features(clip)
    speeds = [feedback.point_distance(features[side]["velocity"], np.zeros(2)) for side in feedback.SIDES]
    speeds = np.concatenate(speeds)
    speeds = speeds[np.isfinite(speeds)]
    return float(speeds.mean()) if len(speeds) else 0.0


def reference_candidates(data, row, kind):
    """Rows that may serve as the reference of attempt ``row``: the clip itself; another take of its gloss by
    its signer; or a clip of its gloss by another signer."""
    if kind == "itself":
        return np.array([row])
    same_gloss = (data.labels == data.labels[row]) & (np.arange(len(data)) != row)
    same_signer = data.signers == data.signers[row]
    return np.flatnonzero(same_gloss & (same_signer if kind == "same signer" else ~same_signer))


def sample_attempts(data, count, kind, per_gloss, rng):
    """Up to ``count`` (attempt row, [reference rows]) pairs, up to ``per_gloss`` references as ``kind``
    says (the first is the one the feedback's path and mirroring follow)."""
    pairs = []
    for row in rng.permutation(len(data)):
        candidates = reference_candidates(data, int(row), kind)
        if len(candidates):
            pairs.append((int(row), [int(r) for r in rng.permutation(candidates)[:per_gloss]]))
        if len(pairs) == count:
            break
    return pairs


def first_part(attempt, references, scales):
    """The part the feedback puts first, and the feedback; ``scales``: (calibration, variation or None)."""
    calibration, variation = scales
    others = [(reference, feedback.DEFAULT_FPS) for reference in references[1:]]
    result = feedback.part_feedback(attempt, references[0], calibration, variation=variation, others=others)
    return result["parts"][0]["part"] if result["parts"] else None, result


def shape_change(data, attempt_row, rng):
    """The hand-shape change of an attempt, or None when the clip does not show a hand enough."""
    clip = data.clip(attempt_row)
    side = main_side(clip)
    if hand_present(clip, side).mean() < MIN_HAND_SHARE:
        return None, side
    donors = np.flatnonzero(data.labels != data.labels[attempt_row])
    for donor_row in rng.permutation(donors)[:20]:
        donor = data.clip(int(donor_row))
        donor_side = main_side(donor)
        if hand_present(donor, donor_side).mean() >= MIN_HAND_SHARE:
            return swap_hand_shape(clip, donor, side, donor_side), side
    return None, side


ALTERATIONS = {"hands up": hands_up, "backwards": backwards, "half speed": half_speed}
# Changes of the movement, which a sign that hardly moves does not show.
MOVEMENT_CHANGES = ("backwards", "half speed")


def changed_clip(data, row, change, rng):
    """``(the clip at row with the change made, or None where it cannot be, the side of its main hand)``."""
    if change == "hand shape":
        return shape_change(data, row, rng)
    clip = data.clip(row)
    return ALTERATIONS[change](clip), main_side(clip)


def expected_part(change, side, result):
    """The part the change should put first; a hand's shape as the reference's side it is compared with."""
    if change != "hand shape":
        return EXPECTED[change]
    if result["swapped_hands"]:
        side = "left" if side == "right" else "right"
    return (feedback.SHAPE_PARTS[side],)


def run_check(data, scales, pairs, min_speed, rng):
    """Per change: [counted, changed part named first, named first before the change, its scores before,
    its scores after]; and the counter of parts named first without a change."""
    counts = {change: [0, 0, 0, [], []] for change in CHANGES}
    baseline = Counter()
    for attempt_row, reference_rows in pairs:
        clip, references = data.clip(attempt_row), [data.clip(row) for row in reference_rows]
        unchanged, before = first_part(clip, references, scales)
        baseline[unchanged] += 1
        moving = mean_wrist_speed(clip) >= min_speed
        for change in CHANGES:
            if change in MOVEMENT_CHANGES and not moving:
                continue
            altered, side = changed_clip(data, attempt_row, change, rng)
            if altered is None:
                continue
            named, after = first_part(altered, references, scales)
            wanted = expected_part(change, side, after)
            scores = [min((p["score"] for p in result["parts"] if p["part"] in wanted), default=np.nan)
                      for result in (before, after)]
            count = counts[change]
            count[0] += 1
            count[1] += named in wanted
            count[2] += unchanged in wanted
            count[3].append(scores[0])
            count[4].append(scores[1])
    return counts, baseline


def table(counts):
    rows = []
    for change, (counted, right, already, before, after) in counts.items():
        if not counted:
            rows.append([change, 0, "-", "-", "-"])
            continue
        rows.append([change, counted, f"{right} ({100 * right / counted:.0f}%)", f"{100 * already / counted:.0f}%",
                     f"{np.nanmedian(before):.0f} -> {np.nanmedian(after):.0f}"])
    return format_table(["change", "clips", "changed part named first", "named first unchanged",
                         "its median score (unchanged -> changed)"], rows)


def get_args_parser():
    parser = argparse.ArgumentParser(prog="python -m results.feedback_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="clips with glosses and signers (default %(default)s)")
    parser.add_argument("--clips", type=int, default=1000,
                        help="attempts sampled per kind of reference (default %(default)s)")
    parser.add_argument("--calibration-pairs", type=int, default=feedback.CALIBRATION_PAIRS,
                        help="pairs of different signs by different signers the scores are calibrated on "
                             "(default %(default)s, as search.py index)")
    parser.add_argument("--min-speed", type=float, default=1.0,
                        help="least mean wrist speed (shoulder widths a second) of an attempt played backwards or "
                             "slowed (default %(default)s)")
    parser.add_argument("--per-gloss", type=int, default=1,
                        help="reference clips per attempt, other than itself, each part measured against every one "
                             "and the closest kept (default %(default)s, as search.py practice and the page; the "
                             "index keeps up to 3 a gloss)")
    parser.add_argument("--order", choices=("variation", "score"), default="variation",
                        help="order the parts by how unusual each is among recordings of the same sign (default; "
                             "as search.py index stores) or by their score (as an index without the variation)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--references", type=comma_list, default=list(REFERENCE_TEXT),
                        help=f"comma-separated kinds of reference: {', '.join(REFERENCE_TEXT)} (default: all)")
    return parser


def check_args(args):
    unknown = sorted(set(args.references) - set(REFERENCE_TEXT))
    if unknown or not args.references:
        raise DataError(f"--references {','.join(args.references)}: expected some of {', '.join(REFERENCE_TEXT)}")
    if args.clips < 1 or args.calibration_pairs < 1 or args.per_gloss < 1:
        raise DataError(f"--clips {args.clips}, --calibration-pairs {args.calibration_pairs}, --per-gloss "
                        f"{args.per_gloss}: expected integers >= 1")
    if not np.isfinite(args.min_speed) or args.min_speed < 0:
        raise DataError(f"--min-speed {args.min_speed}: expected a number >= 0")


def run(args):
    check_args(args)
    data = read_signs(args.data)
    if data.signers is None:
        raise DataError(f"{args.data}: names no signers; the check compares attempts with other signers' clips")
    rng = np.random.default_rng(args.seed)
    calibration = feedback.calibrate(data, pairs=args.calibration_pairs)
    variation = feedback.calibrate_variation(data, pairs=args.calibration_pairs) if args.order == "variation" else None
    print(f"{args.data}, seed {args.seed}; scores calibrated on {args.calibration_pairs} pairs of different signs by "
          f"different signers; parts ordered by " + ("score" if variation is None else
          f"how unusual each is among {args.calibration_pairs} pairs of different clips of the same sign"))
    for kind in args.references:
        pairs = sample_attempts(data, args.clips, kind, 1 if kind == "itself" else args.per_gloss, rng)
        shown = "" if kind == "itself" or args.per_gloss == 1 else \
            f", up to {args.per_gloss} references an attempt, the closest kept per part"
        print(f"\nreference: {REFERENCE_TEXT[kind]} ({len(pairs)} attempts{shown})")
        if not pairs:
            print("no clip of the data has such a reference")
            continue
        counts, baseline = run_check(data, (calibration, variation), pairs, args.min_speed, rng)
        print(table(counts))
        print("without a change, the part named first: " +
              ", ".join(f"{part} {100 * n / len(pairs):.0f}%" for part, n in baseline.most_common()))


def main(argv=None):
    return run_command(run, get_args_parser(), argv)


if __name__ == "__main__":
    main()
