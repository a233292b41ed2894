"""The roost home: the directory that holds databases, logs, keys and sandboxes."""

import os
from pathlib import Path


def roost_home() -> Path:
    """``$ROOST_HOME``, or ``~/.roost`` when it is unset or empty."""
    configured = os.environ.get("ROOST_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".roost"
