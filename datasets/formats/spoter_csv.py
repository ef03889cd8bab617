"""SPOTER's keypoint CSV format, read in bulk and written by the converter.

One row per clip: a ``labels`` column (an integer class id or a gloss), optional ``video_*`` columns, an
optional ``signer`` column (our addition, for signer-disjoint splits), and for each of the 54 points two
columns ``<name>_X`` and ``<name>_Y`` whose cells are Python-style lists of per-frame floats. A point at
0.0, 0.0 was not detected. ``neck`` may be absent: it is then the midpoint of the shoulders.
"""
import dataclasses
import json
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from datasets.sign_data import SignData
from utils import layout
from utils.atomic import atomic_path
from utils.cli import one_line
from utils.errors import DataError

READER_VERSION = "csv1"
CSV_SUFFIXES = (".csv", ".csv.gz")
LABEL_COLUMN = "labels"
SIGNER_COLUMN = "signer"
CLIP_COLUMN = "clip_id"
_NECK_COLUMNS = ("neck_X", "neck_Y")
_FIRST_DATA_LINE = 2  # header is line 1


def _row_line(row):
    return row + _FIRST_DATA_LINE


def _read_table(path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({one_line(error)})") from None
    except (OSError, EOFError, zlib.error) as error:  # gzip: truncated or not gzip at all
        raise DataError(f"{path}: cannot be decompressed: truncated or damaged ({one_line(error)})") from None
    table = _without_duplicate_columns(path, table)
    required = [LABEL_COLUMN] + [c for c in layout.CSV_COLUMNS if c not in _NECK_COLUMNS]
    missing = [c for c in required if c not in table.columns]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise DataError(f"{path}: missing column(s) {shown}; expected SPOTER's keypoint CSV layout")
    if len(table) == 0:
        raise DataError(f"{path}: no rows")
    return table


def _without_duplicate_columns(path, table):
    """pandas renames a repeated column ``x`` to ``x.1``: a repeat with the same values is dropped, one with
    other values is refused (which one is right cannot be known)."""
    for column in list(table.columns):
        base, dot, number = column.rpartition(".")
        if dot and number.isdigit() and base in table.columns:
            if not table[column].equals(table[base]):
                differ = int(np.flatnonzero((table[column] != table[base]).to_numpy())[0])
                raise DataError(f"{path}: column {base} appears twice with different values (first at line "
                                f"{_row_line(differ)}); keep one")
            table = table.drop(columns=column)
    return table


def _list_bodies(path, table, column):
    """The text inside each cell's brackets, after checking every cell is a bracketed list."""
    cells = table[column].str.strip()
    is_list = cells.str.startswith("[") & cells.str.endswith("]")
    if not is_list.all():
        row = int(np.flatnonzero(~is_list.to_numpy())[0])
        raise DataError(
            f"{path}: line {_row_line(row)}, column {column}: expected a list of numbers like "
            f"'[0.1, 0.2]', got {cells.iloc[row][:40]!r}"
        )
    return cells.str.slice(1, -1).str.strip()


def _cell_lengths(bodies):
    return np.where(bodies.str.len().to_numpy() == 0, 0, bodies.str.count(",").to_numpy() + 1)


def _locate_unparseable(path, bodies, column):
    for row, body in enumerate(bodies):
        try:
            [float(v) for v in body.split(",")]
        except ValueError:
            raise DataError(
                f"{path}: line {_row_line(row)}, column {column}: not a list of numbers: [{body[:40]}...]"
            ) from None
    raise DataError(f"{path}: column {column}: could not parse the lists of numbers")


def _parse_column(path, bodies, lengths, column):
    # numpy warns (and will raise) when text stops parsing early. The count of values alone misses stray text at
    # the very end ("[0.1, 0.5.5]" in the last row reads as 0.1, 0.5): the warning is an error here too.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(",".join(bodies), sep=",", dtype=np.float64)
        except (ValueError, DeprecationWarning):
            values = None
    if values is None or values.size != lengths.sum():
        _locate_unparseable(path, bodies, column)
    return values


def _check_finite(path, values, offsets, column):
    """No NaN or infinity, and nothing float32 (the clip's type) cannot hold."""
    bad = ~np.isfinite(values)
    too_large = np.abs(np.where(bad, 0, values)) > np.finfo(np.float32).max
    for problem, mask in (("NaN or infinite value", bad), ("value beyond float32's range (|x| > 3.4e+38)", too_large)):
        if mask.any():
            row = int(np.searchsorted(offsets, np.flatnonzero(mask)[0], side="right") - 1)
            raise DataError(f"{path}: line {_row_line(row)}, column {column}: {problem}")


def _frame_counts(path, table):
    lengths = None
    for column in layout.CSV_COLUMNS:
        if column not in table.columns:
            continue
        column_lengths = _cell_lengths(_list_bodies(path, table, column))
        if lengths is None:
            lengths, first = column_lengths, column
            empty = np.flatnonzero(lengths == 0)
            if empty.size:
                raise DataError(f"{path}: line {_row_line(int(empty[0]))}, column {column}: empty sequence")
            continue
        differ = np.flatnonzero(column_lengths != lengths)
        if differ.size:
            row = int(differ[0])
            raise DataError(
                f"{path}: line {_row_line(row)}, column {column}: {column_lengths[row]} frames, but column "
                f"{first} has {lengths[row]}; every keypoint list of a row must have the same length"
            )
    return lengths


def read_spoter_csv(path):
    """Parse a SPOTER keypoint CSV into :class:`SignData` (no cache; see :func:`datasets.read_signs`)."""
    table = _read_table(path)
    lengths = _frame_counts(path, table)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    keypoints = np.full((offsets[-1], layout.NUM_KEYPOINTS, 2), np.nan, dtype=np.float32)
    for point, name in enumerate(layout.KEYPOINT_NAMES):
        for axis, suffix in enumerate(("X", "Y")):
            column = f"{name}_{suffix}"
            if column in table.columns:
                values = _parse_column(path, _list_bodies(path, table, column), lengths, column)
                _check_finite(path, values, offsets, column)
                keypoints[:, point, axis] = values
    undetected = (keypoints == 0).all(axis=2)
    keypoints[undetected] = np.nan
    if not set(_NECK_COLUMNS) <= set(table.columns):
        layout.with_neck(keypoints)
    labels = table[LABEL_COLUMN].str.strip().to_numpy(dtype=str)
    blank = np.flatnonzero(labels == "")
    if blank.size:
        raise DataError(f"{path}: line {_row_line(int(blank[0]))}, column {LABEL_COLUMN}: empty label")
    clip_ids = (
        table[CLIP_COLUMN].to_numpy(dtype=str) if CLIP_COLUMN in table.columns
        else np.array([f"{Path(path).name}:{_row_line(r)}" for r in range(len(table))])
    )
    signers = table[SIGNER_COLUMN].to_numpy(dtype=str) if SIGNER_COLUMN in table.columns else None
    return SignData(keypoints, offsets, labels, clip_ids, signers, source=str(path))


def gloss_map(path):
    """The id -> gloss JSON beside a CSV (``id_to_label.json`` as published, or ``<name>_id_to_gloss.json`` of
    ``preprocess.py create``), or None."""
    folder = Path(path).parent
    candidates = sorted(folder.glob("*id_to_label.json")) + sorted(folder.glob("*id_to_gloss.json"))
    for candidate in candidates:
        try:
            mapping = json.loads(candidate.read_text())
        except (OSError, ValueError) as error:
            raise DataError(f"{candidate}: not a readable id -> gloss JSON ({one_line(error)})") from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise DataError(f"{candidate}: expected a JSON object of class id -> gloss name")
        return candidate, mapping
    return None


def name_integer_labels(data, path):
    """Integer labels become gloss names when an id -> gloss JSON lies beside the file and names them all."""
    if not all(label.lstrip("-").isdigit() for label in np.unique(data.labels)):
        return data
    found = gloss_map(path)
    if found is None:
        return data
    source, mapping = found
    unknown = sorted(set(data.labels.tolist()) - set(mapping), key=int)
    if unknown:
        raise DataError(f"{path}: label(s) {', '.join(unknown[:5])} are not in {source.name}")
    return dataclasses.replace(data, labels=np.array([mapping[label] for label in data.labels]))


def write_spoter_csv(data, path, decimals=5):
    """Write SignData as a SPOTER CSV (missing points as 0.0), atomically."""
    path = Path(path)
    keypoints = np.nan_to_num(data.keypoints, nan=0.0)
    flat = keypoints.reshape(len(keypoints), -1).T.tolist()
    number = f"%.{decimals}f".__mod__
    columns = {LABEL_COLUMN: data.labels}
    for values, column in zip(flat, layout.CSV_COLUMNS):
        columns[column] = [
            "[" + ", ".join(map(number, values[start:stop])) + "]"
            for start, stop in zip(data.offsets[:-1].tolist(), data.offsets[1:].tolist())
        ]
    if data.signers is not None:
        columns[SIGNER_COLUMN] = data.signers
    columns[CLIP_COLUMN] = data.clip_ids
    with atomic_path(path) as tmp:
        pd.DataFrame(columns).to_csv(tmp, index=False, compression="gzip" if path.suffix == ".gz" else None)
