"""Experiment trackers behind one small interface; ``--tracker none`` (the default) records nothing."""


class Tracker:
    """The no-op tracker, and the interface every tracker implements."""

    def log_config(self, config):
        """Every argument of the run, as plain values."""

    def log_metrics(self, epoch, metrics):
        """One epoch's scalars, keyed as in the metrics file."""

    def log_figure(self, title, figure):
        """A plotly figure."""

    def log_artifact(self, name, path):
        """A file produced by the run."""

    def log_model(self, path, name):
        """A checkpoint file."""

    def close(self, failed=False):
        """End of the run; ``failed`` when training raised."""


def build_tracker(args):
    if args.tracker == "none":
        return Tracker()
    if args.tracker == "clearml":
        from utils.clearml_tracker import ClearMLTracker

        return ClearMLTracker(args)
    raise ValueError(f"--tracker {args.tracker!r}: expected none or clearml")
