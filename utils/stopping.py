"""Graceful stop: SIGTERM (a preempted or cancelled job) and SIGINT (Ctrl-C) ask a run to stop at its next
safe point instead of killing it mid-write."""
import logging
import signal

log = logging.getLogger("train")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """While entered, SIGTERM and SIGINT set :attr:`signal_name` instead of ending the process.

    A repeated signal only logs again: launchers such as torchrun forward a signal their process group
    already received, so a second one does not mean "stop now". ``kill -9`` still does."""

    def __init__(self):
        self.signal_name = None
        self._previous = {}

    @property
    def requested(self):
        return self.signal_name is not None

    def _handle(self, signum, frame):
        repeated = self.requested
        self.signal_name = signal.Signals(signum).name
        if not repeated:
            log.warning("%s received: finishing the current step, then writing last.pt", self.signal_name)

    def __enter__(self):
        self._previous = {number: signal.signal(number, self._handle) for number in SIGNALS}
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        return False

    @property
    def exit_code(self):
        """The shell's convention for a process ended by the signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + signal.Signals[self.signal_name].value


def ignore_interrupts(worker_id=None):
    """For data-loading worker processes: Ctrl-C reaches the whole process group, and the main process
    alone decides when to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
