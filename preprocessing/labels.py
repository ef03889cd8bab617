"""Label, signer and official split of each clip, from a dataset's metadata or its file naming.

A labeller maps a clip (its folder and path) to a :class:`ClipLabel`, or to None for a clip that is not
part of the chosen dataset (e.g. a WLASL video outside WLASL100).
"""
import json
import re
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

from datasets.formats.clip_files import class_folder, clip_id
from utils.errors import DataError

SPLITS = ("train", "val", "test")
LSA64_NAME = re.compile(r"^(\d{3})_(\d{3})_(\d{3})$")
_SIGN_NAME_LINE = re.compile(r"^\s*(\d+)\s*\|\s*([^|]+?)\s*\|")


@dataclass(frozen=True)
class ClipLabel:
    gloss: str
    signer: str | None = None
    split: str | None = None  # the dataset's official split, one of SPLITS


@dataclass
class Labeller:
    name: str  # default prefix of the output files
    label: Callable  # (folder, path) -> ClipLabel or None
    classes: list | None = None  # official class order (class id = position); None: sorted glosses
    has_splits: bool = False


def _load_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not a readable JSON file ({error})") from None


def _wlasl_entries(path, document):
    if not isinstance(document, list):
        raise DataError(f"{path}: expected WLASL metadata: a list of {{'gloss', 'instances'}} entries")
    for position, entry in enumerate(document):
        if not isinstance(entry, dict) or "gloss" not in entry or not isinstance(entry.get("instances"), list):
            raise DataError(f"{path}: entry {position}: expected an object with 'gloss' and a list 'instances'")
    return document


def _wlasl_instance(path, gloss, instance):
    try:
        video, split = str(instance["video_id"]), instance["split"]
    except (KeyError, TypeError):
        raise DataError(f"{path}: gloss {gloss!r}: an instance lacks 'video_id' or 'split'") from None
    if split not in SPLITS:
        raise DataError(f"{path}: video {video}: split {split!r}; expected one of {', '.join(SPLITS)}")
    signer = instance.get("signer_id")
    return video, ClipLabel(gloss, None if signer is None else str(signer), split)


def wlasl_labeller(metadata_path, num_classes=None):
    """Clips named by WLASL video id (``<video_id>.mp4`` -> ``<video_id>.npz``), labelled from WLASL's JSON
    metadata with its official splits. ``num_classes`` keeps the first N glosses (100: WLASL100)."""
    entries = _wlasl_entries(metadata_path, _load_json(metadata_path))
    if num_classes is not None:
        if not 1 <= num_classes <= len(entries):
            raise DataError(f"{metadata_path}: --num_classes {num_classes}: the metadata has {len(entries)} glosses")
        entries = entries[:num_classes]
    videos = dict(
        _wlasl_instance(metadata_path, entry["gloss"], instance)
        for entry in entries for instance in entry["instances"]
    )
    return Labeller(
        name=f"wlasl{len(entries)}",
        label=lambda folder, path: videos.get(Path(clip_id(folder, path)).name),
        classes=[entry["gloss"] for entry in entries],
        has_splits=True,
    )


def read_sign_names(path):
    """Sign number -> name from lines ``<number>|<name>|...`` (the table of ../shared/data/meta/lsa64_signs.md)."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable text file ({error})") from None
    names = {int(m.group(1)): m.group(2) for m in map(_SIGN_NAME_LINE.match, lines) if m}
    if not names:
        raise DataError(f"{path}: no lines like '01|Opaque|R|' (sign number | name | ...)")
    return names


def parse_lsa64_name(path):
    """``SSS_PPP_RRR`` (sign, signer, repetition) -> (sign number, signer)."""
    match = LSA64_NAME.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: expected an LSA64 name SSS_PPP_RRR (sign, signer, repetition), e.g. 001_003_005")
    return int(match.group(1)), match.group(2)


def lsa64_labeller(sign_names_path=None):
    """Clips named ``SSS_PPP_RRR``: gloss from the sign number (its name when a table is given), signer PPP."""
    names = read_sign_names(sign_names_path) if sign_names_path else {}

    def label(folder, path):
        sign, signer = parse_lsa64_name(path)
        if names and sign not in names:
            raise DataError(f"{path}: sign {sign} is not in {sign_names_path}")
        return ClipLabel(names.get(sign, f"{sign:03d}"), signer)

    classes = [names[number] for number in sorted(names)] if names else None
    return Labeller(name="lsa64", label=label, classes=classes)


def folder_labeller():
    """One folder per class: the gloss is the name of the first-level subfolder holding the clip."""
    return Labeller(name="signs", label=lambda folder, path: ClipLabel(class_folder(folder, path)))
