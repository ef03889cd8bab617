"""Files of a training run: its folder, the JSON-lines metrics file and small JSON documents."""
import json
import os
from pathlib import Path

from utils.atomic import atomic_path, same_file
from utils.errors import DataError


def write_json(path, document):
    """Write JSON atomically: readers never see a half-written file."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(document, f, indent=2)


def append_metrics(path, record):
    """Append one epoch's record as a JSON line (flushed, so a killed run keeps every finished epoch)."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_metrics(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def truncate_metrics(path, epochs):
    """Keep only the records of the first ``epochs`` epochs (used when resuming)."""
    if Path(path).exists():
        kept = [record for record in read_metrics(path) if record["epoch"] <= epochs]
        with atomic_path(path) as tmp:
            Path(tmp).write_text("".join(json.dumps(record) + "\n" for record in kept))


def check_output_file(flag, output):
    """Refuse, before any work, an output file that cannot be written: a folder, a path under a file, or one
    in a folder that is not writable. Missing folders are fine (the writers make them)."""
    if not output:
        return
    output = Path(output)
    if output.is_dir():
        raise DataError(f"{flag} {output}: is a folder; expected a file name")
    folder = output.parent
    while not folder.exists() and folder != folder.parent:  # the nearest that exists is where writing starts
        folder = folder.parent
    if not folder.is_dir():
        raise DataError(f"{flag} {output}: {folder} is a file, so nothing can be written under it")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{flag} {output}: folder {folder} is not writable")


def refuse_overwriting_inputs(flag, output, inputs):
    """Refuse an output path that is one of the command's inputs (``{flag: path}``), before anything runs."""
    if not output:
        return
    for input_flag, path in inputs.items():
        # Same path also when neither exists yet: the command would still write over what it reads.
        if path and (same_file(output, path) or Path(output).resolve() == Path(path).resolve()):
            raise DataError(f"{flag} {output}: is the input of {input_flag}; writing there would destroy it, "
                            f"choose another file")
