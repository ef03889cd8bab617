"""One way to run a command: the parser, the logging set-up and the error boundary of every entry point.

- :class:`Parser`: flags are spelled with underscores (``--batch_size``); the hyphenated spelling of any flag
  (``--batch-size``) is accepted as an alias, also in ``@file`` arguments. A bad flag ends in one line.
- :func:`run_command`: logging, then the command; a :class:`~utils.errors.DataError` (bad file or flag) ends
  in one line on stderr and exit code 2, Ctrl-C in one line and 130; any other exception is a bug and keeps
  its traceback.
- Small argument types and the plain-text table shared by the scripts.
"""
import argparse
import logging
import sys

from utils.errors import DataError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
USAGE_ERROR = 2
INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with one spelling per flag (hyphens accepted for underscores) and
    one-line errors."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def _canonical(self, token):
        if not token.startswith("--") or "-" not in token[2:].partition("=")[0]:
            return token
        name, equals, value = token.partition("=")
        candidates = [name, "--" + name[2:].replace("-", "_")]
        if name.startswith("--no-"):  # BooleanOptionalAction's negative form keeps its hyphen
            candidates.append("--no-" + name[5:].replace("-", "_"))
        for candidate in candidates:
            if candidate in self._option_string_actions:
                return candidate + equals + value
        return token

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args([self._canonical(str(token)) for token in args], namespace)

    def convert_arg_line_to_args(self, arg_line):
        return [self._canonical(arg_line)] if arg_line.strip() else []

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def setup_logging(level=logging.INFO):
    logging.basicConfig(level=level, format=LOG_FORMAT)


def one_line(error):
    return " ".join(str(error).split())


def run_command(command, parser, argv=None):
    """Parse ``argv`` with ``parser`` and run ``command(args)`` inside the error boundary; returns its result."""
    setup_logging()
    args = parser.parse_args(argv)
    try:
        return command(args)
    except DataError as error:
        print(f"{parser.prog}: error: {one_line(error)}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted: every file written so far is complete; run the same command again "
              f"to continue", file=sys.stderr)
        sys.exit(INTERRUPTED)


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
