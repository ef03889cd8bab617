"""The folder of a training run, written so that nothing already there is lost.

A new run (fresh, or ``--overwrite``) writes into a hidden staging folder beside its final place; only once
its first epoch is saved does :meth:`RunFolder.commit` replace the old folder, wholly (no file of the old run
survives beside the new one). A run that fails or is stopped before that leaves the old folder as it was,
and its staging folder is removed. ``--resume`` writes in place, after :func:`check_resumable` has compared
``last.pt`` with the new run's model, data and recipe.
"""
import os
import shutil
import tempfile
from pathlib import Path

from training.checkpoint import load_checkpoint
from utils.atomic import make_folder, remove_stale_temporaries
from utils.errors import DataError


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
            remove_stale_temporaries(self.final)
            self.path, self.committed = self.final, True
            return
        if holds_run and not overwrite:
            raise DataError(f"{self.final} already holds a run; pass --resume to continue it, --overwrite to "
                            f"replace it, or choose another --experiment_name")
        make_folder(self.final.parent)
        self.path = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}.new-"))
        self.committed = False

    def commit(self):
        """Put the new run in the final place (replacing an old run wholly); returns the final folder."""
        if not self.committed:
            old = None
            if self.final.exists():
                old = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}.old-"))
                os.replace(self.final, old / self.final.name)
            os.replace(self.path, self.final)
            if old is not None:
                shutil.rmtree(old)
            self.path, self.committed = self.final, True
        return self.path

    def discard(self):
        """Remove the staging folder of a run that never committed (the old run stays as it was)."""
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)


def _differences(stored, current):
    return [(key, stored.get(key), current[key]) for key in sorted(current) if stored.get(key) != current[key]]


def check_resumable(path, model_config, recipe, data_fingerprint):
    """Refuse to resume ``path`` (a last.pt) with another model, recipe or training data, naming what differs."""
    state = load_checkpoint(path)
    if "recipe" not in state or "data" not in state:
        raise DataError(f"{path}: written by an older version (no recipe and data record); it cannot be resumed")
    changed = _differences(type(model_config).completed(state["config"]), model_config.to_dict())
    stored_recipe = {key: list(value) if isinstance(value, tuple) else value
                     for key, value in type(recipe).completed(state["recipe"]).items()}
    current_recipe = {key: list(value) if isinstance(value, tuple) else value
                      for key, value in recipe.must_match_on_resume().items()}
    changed += _differences(stored_recipe, current_recipe)
    if changed:
        shown = "; ".join(f"--{key} {new!r} (the run has {old!r})" for key, old, new in changed[:4])
        raise DataError(f"--resume {path}: settings differ from the run's: {shown}; resume with the run's values, "
                        f"or start a new run (--overwrite or another --experiment_name)")
    if state["data"] != data_fingerprint:
        raise DataError(f"--resume {path}: the training or validation data differ from the run's (content "
                        f"fingerprint {data_fingerprint} != {state['data']}); resume on the same data")
    return state
