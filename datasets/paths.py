"""Where data files are: a path as given, else under ``$BASE_DATA_FOLDER/<dataset_name>`` as in the reference
code; and the bundled default training set."""
import os
from pathlib import Path

from utils.errors import DataError

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_TRAINING_SET = REPOSITORY / "data" / "asl_mit" / "asl_mit.csv.gz"
BASE_DATA_FOLDER_ENV = "BASE_DATA_FOLDER"


def resolve_path(path, dataset_name="", data_folder=None):
    """A direct path if it exists, else ``<data_folder>/<path>``, where the data folder defaults to
    ``$BASE_DATA_FOLDER/<dataset_name>`` as in the reference code."""
    direct = Path(path)
    if direct.exists():
        return direct
    folder = Path(data_folder) if data_folder else Path(os.environ.get(BASE_DATA_FOLDER_ENV, "data")) / dataset_name
    nested = folder / path
    if nested.exists():
        return nested
    raise DataError(f"{path}: file not found" + ("" if nested == direct else f" (also looked for {nested})"))
