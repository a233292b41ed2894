"""Daemon logs: one file per daemon under the roost home, rotated by size, and stderr as well
when the daemon runs in the foreground."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from roost.config import Config
from roost.errors import RoostError

# The handlers setup_logging put on the root logger, replaced by the next call.
_installed: list[logging.Handler] = []


def log_path(name: str, config: Config) -> Path:
    """The log file of daemon ``name``: ``<home>/log/<name>.log``."""
    return config.home / "log" / f"{name}.log"


def setup_logging(name: str, config: Config, foreground: bool) -> logging.Logger:
    """Send every logger's records to daemon ``name``'s log file (and to stderr when
    ``foreground``), at the level of ``[log] level``; return the daemon's own logger.

    Calling it again replaces what the last call installed rather than adding to it.
    """
    path = log_path(name, config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers: list[logging.Handler] = [
            logging.handlers.RotatingFileHandler(
                path,
                maxBytes=config.get("log", "max_bytes"),
                backupCount=config.get("log", "backups"),
                encoding="utf-8",
            )
        ]
    except OSError as error:
        raise RoostError(f"cannot open the log {path}: {error.strerror}") from None
    if foreground:
        handlers.append(logging.StreamHandler(sys.stderr))
    # The daemon's name is part of the format rather than of each record, so the records of
    # every module's logger (roost.collector, grpc) say which daemon wrote them.
    formatter = logging.Formatter(
        f"%(asctime)s {name.replace('%', '%%')} %(levelname)s %(name)s: %(message)s"
    )
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed[:] = handlers
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(config.get("log", "level"))
    logging.captureWarnings(True)
    return logging.getLogger(f"roost.{name}")
