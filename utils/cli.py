"""Small argument types and the plain-text table shared by the command-line scripts."""
import argparse


def comma_list(value):
    """``"a,b,,c"`` -> ``["a", "b", "c"]``; an empty string gives an empty list."""
    return [item for item in value.split(",") if item]


def int_list(value):
    """``"1,2,5"`` -> ``[1, 2, 5]``; an empty string gives an empty list."""
    try:
        return [int(item) for item in comma_list(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}") from None


def none_or_str(value):
    """The reference code's spelling of "no value": None, none or an empty string."""
    return None if value in ("None", "none", "") else value


def optional_int(value):
    """An integer, or None spelled as :func:`none_or_str` accepts it."""
    return None if none_or_str(value) is None else int(value)


def _part_of(value, part, example):
    """``"K/N"`` -> ``(K - 1, N)``: ``part`` K (1-based) of N."""
    try:
        number, parts = (int(item) for item in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N ({part} K of N, e.g. {example}), got {value!r}") from None
    if not 1 <= number <= parts:
        raise argparse.ArgumentTypeError(f"{part} {number} of {parts}: K must be between 1 and N")
    return number - 1, parts


def fold_spec(value):
    """``"K/N"`` -> ``(K - 1, N)``: fold K (1-based) of N signer folds."""
    return _part_of(value, "fold", "2/5")


def shard_spec(value):
    """``"K/N"`` -> ``(K - 1, N)``: shard K (1-based) of N."""
    return _part_of(value, "shard", "3/16")


def format_table(header, rows):
    """Columns padded to their widest cell, a dashed rule under the header; short rows end in blanks."""
    rows = [[str(cell) for cell in row] + [""] * (len(header) - len(row)) for row in [header] + list(rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
