"""The failures the ``roost`` command reports in one line instead of a traceback."""


class RoostError(Exception):
    """An expected failure: bad input, a file that cannot be read, a refused call.

    The ``roost`` command prints ``roost: <message>`` and exits with ``exit_code``.
    """

    exit_code = 1


class UsageError(RoostError):
    """A command line that does not parse; exits 2, as argparse does."""

    exit_code = 2
