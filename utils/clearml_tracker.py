"""The ClearML tracker (``--tracker clearml``): one ClearML task per training run.

Scalars keep the series names of the published spoter-embeddings, so its dashboards and comparisons still
work. With ``CLEARML_OFFLINE_MODE=1`` nothing is sent: ClearML records the session under
``~/.clearml/cache/offline/`` (a folder and a zip) for ``clearml-task --import-offline-session`` later.

This module imports ``clearml``; ``utils.trackers.build_tracker`` imports it only for ``--tracker clearml``.
It does not import ``utils.trackers`` (no import cycle): it implements the same methods.
"""
import sys
from pathlib import Path

from clearml import Task
from clearml.backend_api.session.defs import MissingConfigError

from utils.errors import DataError

PROJECT_NAME = "spoter"  # the project of the published spoter-embeddings runs

# metrics-file key -> (title, series); the first seven are the published names
SERIES = {
    "train_loss": ("train_loss", "loss"),
    "silhouette_train": ("silhouette_coefficient", "train"),
    "silhouette_val": ("silhouette_coefficient", "val"),
    "valid_triplets": ("triplets", "valid_triplets"),
    "used_triplets": ("triplets", "used_triplets"),
    "pct_used": ("triplets_pct", "pct_used"),
    "lr": ("lr", "lr"),
    "val_accuracy": ("acc", "val"),
    "val_top1": ("nearest_class_accuracy", "val_top1"),
    "val_top5": ("nearest_class_accuracy", "val_top5"),
    "mining_threshold": ("mining", "threshold"),
    "steps": ("steps", "steps"),
    "seconds": ("seconds", "epoch"),
}
SECTION_SECONDS_PREFIX = "seconds_"

NOT_CONFIGURED = (
    "--tracker clearml: ClearML has no server configured on this machine. Run `clearml-init` (or write "
    "~/clearml.conf with the api.credentials of your server), set CLEARML_OFFLINE_MODE=1 to record the run "
    "locally and import it later, or use --tracker none"
)


def series_of(key):
    """The (title, series) a metrics-file key is reported under."""
    if key in SERIES:
        return SERIES[key]
    if key.startswith(SECTION_SECONDS_PREFIX):
        return "seconds", key[len(SECTION_SECONDS_PREFIX):]
    return key, key


def scalar_items(record):
    """The record's values worth plotting: numbers, without the epoch (the x axis) and without NaN,
    which ClearML would otherwise draw as 0 (a silhouette is NaN when undefined, not zero)."""
    for key, value in record.items():
        if key != "epoch" and isinstance(value, (int, float)) and value == value:
            yield key, value


class ClearMLTracker:
    """Implements every method of :class:`utils.trackers.Tracker` (a test checks the two stay alike)."""

    def __init__(self, args):
        self.queue = args.execute_remotely
        if self.queue and Task.is_offline():
            raise DataError(
                f"--execute_remotely {self.queue}: enqueueing needs a ClearML server, but ClearML is in "
                f"offline mode (CLEARML_OFFLINE_MODE); unset it or drop --execute_remotely"
            )
        try:
            self.task = Task.init(
                project_name=PROJECT_NAME,
                task_name=args.experiment_name,
                reuse_last_task_id=False,
                # log_config connects the arguments: train.py parses them before clearml is imported
                auto_connect_arg_parser=False,
                auto_connect_frameworks={
                    # hooking torch.save would upload every last.pt; log_model registers the best checkpoint
                    "pytorch": False,
                    # repository detection also asks updates.clear.ml for a newer clearml, even offline
                    "detect_repository": not Task.is_offline(),
                },
            )
        except MissingConfigError:
            raise DataError(NOT_CONFIGURED) from None
        self.logger = self.task.get_logger()
        self.epoch = 0

    def log_config(self, config):
        """Connect every argument (the "Args" section); with ``--execute_remotely``, then enqueue the task and
        end this process, so the agent starts from exactly these arguments."""
        self.task.connect(config, name="Args")
        if self.queue:
            self.task.execute_remotely(queue_name=self.queue, exit_process=True)

    def log_metrics(self, epoch, metrics):
        self.epoch = epoch
        for key, value in scalar_items(metrics):
            title, series = series_of(key)
            self.logger.report_scalar(title, series, value=value, iteration=epoch)

    def log_figure(self, title, figure):
        self.logger.report_plotly(title=title, series=title, figure=figure, iteration=self.epoch)

    def log_artifact(self, name, path):
        self.task.upload_artifact(name, artifact_object=Path(path), wait_on_upload=True)

    def log_model(self, path, name):
        if self.task.is_offline():
            # clearml 2.1.12 cannot register an output model offline (OutputModel.update_weights reads a
            # "published" flag its offline placeholder lacks), so offline the checkpoint is an artifact
            self.log_artifact(name, path)
            return
        self.task.update_output_model(model_path=str(path), name=name, auto_delete_file=False)

    def close(self, failed=False):
        if failed:
            # Task.close() marks the task completed, and a server refuses failed -> completed, so marking it
            # failed first keeps the failure; train.py calls this while handling the exception
            error = sys.exc_info()[1]
            reason = f"{type(error).__name__}: {error}" if error else "training failed"
            self.task.mark_failed(status_reason=reason, force=True)
        self.task.close()
