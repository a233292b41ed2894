"""The cluster that ``roost submit`` queued last from a roost home, for ``roost wait``.

``roost submit X && roost wait`` must report on X even when X's jobs have all left the
queue before ``roost wait`` looks, so each submit records its cluster (and its owner:
another token used from the same home is another user) in a small file under the roost
home.  The file is written whole under another name and renamed over the old one, so a
reader sees one record or the other, never a mix, even while submits race.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from roost.errors import RoostError

NAME = "last-submit.json"


def path(home: Path) -> Path:
    """Where the record of ``home``'s last submit lives."""
    return Path(home) / NAME


def record(home: Path, cluster: int, owner: str) -> None:
    """Record that ``owner`` just queued ``cluster`` from ``home``; a RoostError if the
    file cannot be written (the old record, if any, is left as it was)."""
    target = path(home)
    partial = target.with_name(f".{NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"ClusterId": cluster, "Owner": owner}) + "\n",
                           encoding="utf-8")
        os.replace(partial, target)
    except OSError as error:
        with contextlib.suppress(OSError):  # never made, if its directory is not one
            partial.unlink()
        raise RoostError(f"cannot record the submit in {target}: {error.strerror}") from None


def last_cluster(home: Path, owner: str) -> int | None:
    """The cluster ``owner`` queued last from ``home``; None if there is no record of
    theirs (none yet, another user's, or not one that this module wrote)."""
    try:
        found = json.loads(path(home).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(found, dict) or found.get("Owner") != owner:
        return None
    cluster = found.get("ClusterId")
    if not isinstance(cluster, int) or isinstance(cluster, bool) or cluster < 1:
        return None
    return cluster
