"""The project's one error type for bad input; the command-line boundary (:mod:`utils.cli`) prints it as one line.

It is deliberately not a ``ValueError``: a ``ValueError`` escaping from numpy, torch or our own code is a bug
and keeps its traceback, while a :class:`DataError` is the user's file or flag, named in its message.
"""


class DataError(Exception):
    """Bad input: the message names the file (and where known the row and column) or the flag."""


class SettingError(DataError):
    """A setting (a command-line flag) outside its accepted range; the message names the flag."""
