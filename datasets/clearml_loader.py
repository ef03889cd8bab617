"""``--dataset_loader clearml``: a local copy of a ClearML dataset, whose files train.py then reads as the
local loader does (``--training_set_path`` and ``--validation_set_path`` name files inside the copy).

Imported only for that loader, so a local run never imports ``clearml``.
"""
from clearml import Dataset, Task
from clearml.backend_api import Session
from clearml.backend_api.session.defs import MissingConfigError

from utils.errors import DataError

CONFIGURE = (
    "configure a server with `clearml-init` (it writes ~/clearml.conf; in Docker mount it with "
    "-v $HOME/clearml.conf:/root/clearml.conf), or read local files with --dataset_loader local"
)


def _server_problem():
    """Why no server answers, or None when one is configured; ``Dataset.get`` hides this behind
    "could not find the dataset"."""
    try:
        Session()
    except MissingConfigError:
        return "ClearML has no server configured on this machine"
    except Exception as error:  # login and connection failures come as many unrelated types
        return f"the ClearML server did not answer ({error})"
    return None


def download_dataset(project, name):
    """The folder of a local copy of the latest ClearML dataset ``name`` in ``project``."""
    where = f"--dataset_loader clearml (--dataset_project {project!r}, --dataset_name {name!r})"
    if not name:
        raise DataError(f"{where}: --dataset_name is required")
    if Task.is_offline():
        raise DataError(f"{where}: ClearML is in offline mode (CLEARML_OFFLINE_MODE), so no dataset can be "
                        f"fetched; copy the files and use --dataset_loader local")
    try:
        dataset = Dataset.get(dataset_project=project, dataset_name=name)
    except ValueError as error:
        problem = _server_problem()
        if problem:
            raise DataError(f"{where}: {problem}; {CONFIGURE}") from None
        raise DataError(f"{where}: {error}") from None
    return dataset.get_local_copy()
