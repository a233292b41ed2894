"""roost: a Condor-style high-throughput scheduler in Python.

This package is the product's face: the ``roost`` command line, configuration, security, the
runtime the daemons share, and the Python client API.  Importing it stays cheap, so that the
command line starts at once: each module imports what it needs itself.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # The client classes pull in grpc; they are loaded on first use so that
    # ``import roost`` (and so every ``roost VERB --help``) stays cheap.
    if name in ("Collector", "Schedd", "JobAction", "SubmitResult"):
        from roost import client

        return getattr(client, name)
    raise AttributeError(f"module 'roost' has no attribute {name!r}")
