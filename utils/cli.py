"""Small argument types shared by the command-line scripts."""


def comma_list(value):
    """``"a,b,,c"`` -> ``["a", "b", "c"]``; an empty string gives an empty list."""
    return [item for item in value.split(",") if item]


def none_or_str(value):
    """The reference code's spelling of "no value": None, none or an empty string."""
    return None if value in ("None", "none", "") else value


def optional_int(value):
    """An integer, or None spelled as :func:`none_or_str` accepts it."""
    return None if none_or_str(value) is None else int(value)
