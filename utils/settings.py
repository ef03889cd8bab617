"""Settings declared once, as dataclass fields: default, help, accepted values and command-line flag.

``models.ModelConfig`` and ``training.recipe.RecipeConfig`` declare every field with :func:`setting`;
:func:`add_flags` turns the fields into argparse flags of the same name, and :func:`validate` (called from
each config's ``__post_init__``) refuses a value outside its range with a message naming the flag.
The same :class:`Check` objects validate the flags of the other entry points (:func:`checked`).
"""
import argparse
import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields

from utils.cli import comma_list
from utils.errors import SettingError


def setting(default, help, check=None, group=None, free_on_resume=False, **flag):
    """A config field: ``check`` (a :class:`Check`) says what is accepted, ``group`` the --help section,
    ``free_on_resume`` that a resumed run may change it, ``flag`` extra argparse keywords (``choices``,
    ``type``, ``metavar``)."""
    metadata = {"help": help, "check": check, "group": group, "flag": flag, "free_on_resume": free_on_resume}
    return field(default=default, metadata=metadata)


class Check:
    """What a setting accepts: ``accepts(value)`` and a description for the error message."""

    def accepts(self, value):
        raise NotImplementedError

    def __str__(self):
        raise NotImplementedError


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Range(Check):
    """A finite number between ``low`` and ``high`` (open ends excluded); ``integer`` asks for a whole
    number; ``also`` lists special values accepted as well (e.g. -1 for "never", None for "off")."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    also: tuple = ()

    def accepts(self, value):
        if any(value is special or (value == special and type(value) is type(special)) for special in self.also):
            return True
        if not _is_number(value) or not math.isfinite(value) or (self.integer and value != int(value)):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self):
        kind = "an integer" if self.integer else "a finite number"
        show = (lambda bound: f"{bound:d}" if bound == int(bound) else f"{bound:g}") if self.integer else "{:g}".format
        if math.isinf(self.low) and math.isinf(self.high):
            text = kind
        elif math.isinf(self.high):
            text = f"{kind} {'>' if self.low_open else '>='} {show(self.low)}"
        elif math.isinf(self.low):
            text = f"{kind} {'<' if self.high_open else '<='} {show(self.high)}"
        else:
            text = (f"{kind} in {'(' if self.low_open else '['}{show(self.low)}, {show(self.high)}"
                    f"{')' if self.high_open else ']'}")
        return text + "".join(f" or {special}" for special in self.also)


def at_least(low, integer=True, also=()):
    return Range(low=low, integer=integer, also=also)


POSITIVE = Range(low=0, low_open=True)
NON_NEGATIVE = Range(low=0)
FINITE = Range()
PROBABILITY = Range(0, 1)
SEED = Range(0, 2**31 - 1, integer=True)


@dataclass(frozen=True)
class CountOrFraction(Check):
    """A whole count >= 1, or a fraction strictly between 0 and 1 (0 would silently mean "at least one")."""

    def accepts(self, value):
        return _is_number(value) and math.isfinite(value) and (0 < value < 1 or (value >= 1 and value == int(value)))

    def __str__(self):
        return "a whole count >= 1 or a fraction in (0, 1)"


@dataclass(frozen=True)
class Pattern(Check):
    regex: str
    description: str

    def accepts(self, value):
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def __str__(self):
        return self.description


DEVICE = Pattern(r"auto|cpu|cuda(:\d+)?|mps", "auto, cpu, cuda or cuda:N")
NAME = Pattern(r"[^/\\\0]+", "a non-empty name without path separators")


def flag_name(name):
    return f"--{name}"


def refuse(name, value, expected):
    raise SettingError(f"{flag_name(name)} {value!r}: expected {expected}")


def validate(config):
    """Check every field of a settings dataclass against its ``check``; the first bad one is refused."""
    for setting_field in fields(config):
        check = setting_field.metadata.get("check")
        value = getattr(config, setting_field.name)
        if check is not None and not check.accepts(value):
            refuse(setting_field.name, value, check)


def checked(parse, check, name=None):
    """An argparse ``type`` that parses with ``parse`` and refuses what ``check`` does not accept."""
    def convert(text):
        value = parse(text)
        if not check.accepts(value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {check}")
        return value

    convert.__name__ = name or getattr(parse, "__name__", "value")
    return convert


def _parser_type(kind):
    if kind in (float, "float"):
        return float
    if kind in (int, "int", int | None):
        return int
    return None


def add_flag(group, name, kind, default, metadata):
    """``--<name>`` for one setting: its default, help, parser and accepted values (refused in one line)."""
    if kind in (bool, "bool"):
        group.add_argument(flag_name(name), action=argparse.BooleanOptionalAction, default=default,
                           help=metadata["help"])
        return
    extra = dict(metadata["flag"])
    # An alias comes first, so that --help shows it as the flag's spelling; the field keeps its stored name.
    spellings = [flag_name(alias) for alias in extra.pop("aliases", ())] + [flag_name(name)]
    parse = extra.pop("type", None) or _parser_type(kind)
    if metadata["check"] is not None:
        parse = checked(parse or str, metadata["check"])
    if parse is not None:
        extra["type"] = parse
    group.add_argument(*spellings, dest=name, default=default, help=metadata["help"], **extra)


def add_setting(group, name, kind, definition):
    """A flag from a standalone :func:`setting` (a field shared by several commands, e.g. the seed)."""
    add_flag(group, name, kind, definition.default, definition.metadata)


def add_flags(parser, config_class, default_group=None, groups=None):
    """One flag per field of ``config_class``: ``--<name>``, its default, help and accepted values.

    Fields land in the argument group named by their ``group`` metadata (created on first use, kept in
    ``groups`` so several config classes can share sections); booleans get a ``--no-<name>`` form."""
    groups = {} if groups is None else groups
    for setting_field in fields(config_class):
        name = setting_field.metadata["group"] or default_group
        if name not in groups:
            groups[name] = parser.add_argument_group(name) if name else parser
        default = setting_field.default if setting_field.default is not MISSING else setting_field.default_factory()
        add_flag(groups[name], setting_field.name, setting_field.type, default, setting_field.metadata)
    return groups


# The last commit with the settings that were measured, left off and then removed (``Settings.REMOVED``).
REMOVED_IN = "9533c63"


class Settings:
    """Base of the settings dataclasses: built from parsed arguments or a stored dict, stored as a plain dict.
    ``WHAT`` names the config in messages."""

    WHAT = "settings"
    # Settings added after configs were first stored, each with the value that older configs behaved as, so a
    # config stored before a setting existed still loads and means what it meant.
    ADDED_LATER = {}
    # Settings removed since, each with the value that turned it off: a stored config holding that value
    # behaves as today's code does; one holding another value needs the removed code, and is refused.
    REMOVED = {}

    @classmethod
    def from_args(cls, args):
        """The fields among parsed command-line arguments (same names)."""
        return from_args(cls, args)

    @classmethod
    def completed(cls, values):
        """A stored plain dict with the settings added since it was stored, at the values it behaved as, and
        without the settings removed since; a removed setting that was on is refused by name."""
        for name in sorted(cls.REMOVED.keys() & values.keys()):
            if values[name] != cls.REMOVED[name]:
                raise SettingError(f"{cls.WHAT}: {flag_name(name)} {values[name]!r} was removed (commit "
                                   f"{REMOVED_IN} has it); only its old default {cls.REMOVED[name]!r} still loads")
        kept = {name: value for name, value in values.items() if name not in cls.REMOVED}
        return {**cls.ADDED_LATER, **kept}

    @classmethod
    def from_dict(cls, values):
        """From a stored plain dict; a dict of another version of the config is refused by name."""
        return from_dict(cls, cls.completed(values), cls.WHAT)

    def to_dict(self):
        return asdict(self)


def from_args(config_class, args):
    """The fields of ``config_class`` among parsed arguments (same names), validated by the class."""
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class)})


def from_dict(config_class, values, what):
    """From a stored plain dict; a dict of another version of the config is refused by name."""
    known = {f.name for f in fields(config_class)}
    missing, unknown = sorted(known - set(values)), sorted(set(values) - known)
    if missing or unknown:
        raise SettingError(f"{what} does not match this version: missing {missing}, unknown {unknown}")
    return config_class(**values)


# The one source of asl.npz that spells with two hands (British fingerspelling: letters are held with both hands
# in 79% of its letter frames, against 0-1% for the other two sources that fingerspell).
BSL_FINGERSPELLERS = ("F1zzy/HackNottProject",)

# Settings that several entry points share, defined once: same flag, help and accepted values everywhere.
_COMMON = {
    "seed": (int, 379, "seed of every random choice (splits, shuffling, augmentation, draws)", SEED, {}),
    "device": (str, "auto", "auto (CUDA if available), cpu, cuda or cuda:N", DEVICE, {}),
    "cache_dir": (str, "", "parsed-data cache; empty: $SPOTER_CACHE_DIR or ~/.cache/spoter-embeddings", None, {}),
    "exclude_labels": (list, ("_idle",), "comma-separated labels to drop; '' keeps all", None, {"type": comma_list}),
    "bsl_letters": (list, BSL_FINGERSPELLERS, "comma-separated signers whose letter_x clips are British two-handed "
                    "fingerspelling, relabelled bsl_letter_x (not ASL's one-handed letter_x); '' relabels none",
                    None, {"type": comma_list}),
    "no_progress": (bool, False, "no progress bars (logs only)", None, {}),
}


def common(name, group=None, default=MISSING, help=None, **options):
    """The shared setting ``name`` as a config field (optionally with another default or help)."""
    _, shared_default, shared_help, check, flag = _COMMON[name]
    return setting(shared_default if default is MISSING else default, help or shared_help, check, group,
                   **{**flag, **options})


def add_common(group, *names, **defaults):
    """Flags for the shared settings ``names`` (``defaults`` replaces some defaults, e.g. ``seed=0``)."""
    for name in names:
        add_setting(group, name, _COMMON[name][0], common(name, default=defaults.get(name, MISSING)))
