"""The folder of a training run, written so that nothing already there is lost.

A new run (fresh, or ``--overwrite``) writes into a hidden staging folder beside its final place; only once
its first epoch is saved does :meth:`RunFolder.commit` replace the old folder, wholly (no file of the old run
survives beside the new one). A run that fails or is stopped before that leaves the old folder as it was,
and its staging folder is removed. ``--resume`` writes in place, after :func:`check_resumable` has compared
``last.pt`` with the new run's model, data and recipe. A folder that could not be written or replaced is
refused before any work (:func:`check_writable`), not when the first epoch is saved.
"""
import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from models.checkpoint import load_checkpoint
from utils.atomic import make_folder, remove_stale_temporaries
from utils.errors import DataError, SettingError

log = logging.getLogger(__name__)


class RunFolder:
    def __init__(self, final, resume=False, overwrite=False):
        self.final = Path(final)
        if self.final.exists() and not self.final.is_dir():
            raise DataError(f"{self.final}: is a file; expected a run folder (choose another --output_dir or "
                            f"--experiment_name)")
        holds_run = self.final.is_dir() and any(self.final.iterdir())
        if resume:
            if not (self.final / "last.pt").is_file():
                raise DataError(f"{self.final}: no run to resume (no last.pt); start it without --resume")
            check_writable(self.final, "--resume writes the run in place")
            remove_stale_temporaries(self.final)
            self.path, self.committed = self.final, True
            return
        if holds_run and not overwrite:
            raise DataError(f"{self.final} already holds a run; pass --resume to continue it, --overwrite to "
                            f"replace it, or choose another --experiment_name")
        make_folder(self.final.parent)
        if self.final.exists():
            check_writable(self.final, "--overwrite must remove its files and move it aside")
        self.path = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}.new-"))
        self.committed = self.kept = False

    def commit(self):
        """Put the new run in the final place (replacing an old run wholly); returns the final folder."""
        if not self.committed:
            self.kept = True  # until it is in place, a failure keeps the new run (its epochs) where it is
            try:
                self._swap_in()
            except OSError as error:  # checked before the run started, so something changed since
                raise DataError(f"{self.final}: the new run cannot take its place ({error.strerror or error}); "
                                f"it is kept in {self.path}") from None
            self.path, self.committed, self.kept = self.final, True, False
        return self.path

    def _swap_in(self):
        """Move the old run aside, the new one in its place, then delete the old one. On failure the old run
        is put back and no aside folder is left; the new run stays in its staging folder."""
        if not self.final.exists():
            os.replace(self.path, self.final)
            return
        aside = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}.old-"))
        try:
            os.replace(self.final, aside / self.final.name)
            try:
                os.replace(self.path, self.final)
            except OSError as error:
                self._put_back(aside / self.final.name, error)
                raise
        finally:
            with contextlib.suppress(OSError):  # removes only an empty folder, never a run put aside
                aside.rmdir()
        try:
            shutil.rmtree(aside)
        except OSError as error:  # the new run is in place; the old one is not lost, only left aside
            log.warning("%s: the old run could not be deleted (%s); it is kept there", aside, error)

    def _put_back(self, old, error):
        try:
            os.replace(old, self.final)
        except OSError:
            raise DataError(f"{self.final}: the new run cannot take its place ({error.strerror or error}), nor "
                            f"the old run go back: the old run is in {old}, the new one in {self.path}") from None

    def discard(self):
        """Remove the staging folder of a run that never committed (the old run stays as it was), unless a
        failed commit kept the new run there."""
        if not self.committed and not self.kept:
            shutil.rmtree(self.path, ignore_errors=True)


def check_writable(folder, why):
    """Refuse, before any work, a run folder whose files cannot be written or removed (permissions, an
    immutable attribute): otherwise it fails after a whole epoch, when the first checkpoint is saved."""
    for place, _, _ in os.walk(folder):
        if not os.access(place, os.W_OK | os.X_OK):
            raise DataError(f"{place}: not writable, but {why}; make it writable (chmod u+w, or chattr -i when it "
                            f"is immutable) or choose another --output_dir or --experiment_name")


def _differences(stored, current):
    return [(key, stored.get(key), current[key]) for key in sorted(current) if stored.get(key) != current[key]]


DATA_FLAGS = ("dataset_name", "training_set_path", "extra_training_path", "validation_set_path")


def describe_data(flags, fingerprint, class_count):
    """The data of a run as its flags name it, its class count and fingerprint: what a user recognises."""
    named = [f"--{flag} {flags[flag]}" for flag in DATA_FLAGS if flags.get(flag)]
    if not flags.get("training_set_path"):
        named.insert(0, "the bundled training data")
    classes = "" if class_count is None else f"{class_count} classes, "
    return f"{' '.join(named)} ({classes}content fingerprint {fingerprint[:12]})"


def check_same_data(path, state, recipe, data_fingerprint, class_count):
    """Checked before the settings: other data change the class count, hence ``num_classes``, which the user
    never passed; naming that setting would send them looking in the wrong place."""
    if state["data"] == data_fingerprint:
        return
    stored_classes = len(state["class_names"]) if "class_names" in state else None
    now = describe_data(recipe.to_dict(), data_fingerprint, class_count)
    raise DataError(f"--resume {path}: the data are not the run's: {now}; "
                    f"the run trained on {describe_data(state['recipe'], state['data'], stored_classes)}; resume on "
                    f"the run's data (same files, same content), or start a new run (--overwrite or another "
                    f"--experiment_name)")


def check_resumable(path, model_config, recipe, data_fingerprint, class_count=None):
    """Refuse to resume ``path`` (a last.pt) with other training data (``class_count`` classes), another model
    or recipe, naming what differs."""
    state = load_checkpoint(path)
    if "recipe" not in state or "data" not in state:
        raise DataError(f"{path}: written by an older version (no recipe and data record); it cannot be resumed")
    check_same_data(path, state, recipe, data_fingerprint, class_count)
    try:  # a run that used a setting removed since cannot continue without its code
        stored_config = type(model_config).completed(state["config"])
        stored_recipe = {key: list(value) if isinstance(value, tuple) else value
                         for key, value in type(recipe).completed(state["recipe"]).items()}
    except SettingError as error:
        raise DataError(f"--resume {path}: {error}") from None
    changed = _differences(stored_config, model_config.to_dict())
    current_recipe = {key: list(value) if isinstance(value, tuple) else value
                      for key, value in recipe.must_match_on_resume().items()}
    changed += _differences(stored_recipe, current_recipe)
    if changed:
        shown = "; ".join(f"--{key} {new!r} (the run has {old!r})" for key, old, new in changed[:4])
        raise DataError(f"--resume {path}: settings differ from the run's: {shown}; resume with the run's values, "
                        f"or start a new run (--overwrite or another --experiment_name)")
    return state
