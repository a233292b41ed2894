"""The token each pilot carries: minted by ``roost glidein submit`` (or the factory) on the
central manager, recorded with the pilot's batch job id, revoked when the pilot is
cancelled.

A pilot's token names ``startd@glidein-TAG-*`` (scope advertise-startd): its startds, named
``glidein-TAG-JOBID.NODE``, may advertise their own slots and no other host's (the
collector's rule, ``matchmaker.collector_service.refusal``).  It lives as long as the
pilot may wait in the queue and then run (``QUEUE_WAIT`` plus its walltime).  Which token
went to which pilot is kept in ``HOME/glidein/pilots`` (a line ``JOBID TOKEN_ID EXPIRY``),
so that cancelling a pilot revokes its token (``roost.revocation``) and an ended pilot's
token can be refused as well.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from roost import revocation, security
from roost.errors import RoostError
from startd.glidein.pilot import SCRIPT_DIR

QUEUE_WAIT = 7 * 86400.0  # the longest a pilot's token waits for its pilot to start
PLACEHOLDER = "TOKEN-MINTED-AT-SUBMIT"  # what a dry run's script carries instead


@dataclass(frozen=True)
class PilotToken:
    token: str
    token_id: str
    expires: float
    public_key: str  # the pool's, PEM
    tag: str  # the pilot's startds are glidein-TAG-JOBID.NODE


def pilots_path(home: Path) -> Path:
    return Path(home) / SCRIPT_DIR / "pilots"


def pool_key(home: Path) -> security.SigningKey:
    """The pool key in ``home``, which signs the pilots' tokens (a one-line RoostError where
    there is none to read: only the central manager mints)."""
    path = security.key_path(home)
    try:
        return security.SigningKey.load(path)
    except FileNotFoundError:
        raise RoostError(f"no pool key at {path}: pilots get their tokens from the central "
                         "manager; start the pool first ('roost pool up --startds 0')") from None
    except OSError as error:
        raise RoostError(f"cannot read the pool key {path}: {error.strerror}") from None


def mint(home: Path, walltime: int) -> PilotToken:
    """A token for one pilot, signed with the pool key in ``home``."""
    key = pool_key(home)
    tag = secrets.token_hex(4)
    token = security.create_token(key, f"startd@glidein-{tag}-*", ["advertise-startd"],
                                  QUEUE_WAIT + walltime)
    identity = security.decode_token(token)
    return PilotToken(token, identity.token_id, identity.expires,
                      key.public.pem().decode("ascii"), tag)


def placeholder() -> PilotToken:
    """What a dry run's script shows in place of a real token (none is minted for it)."""
    return PilotToken(PLACEHOLDER, "", 0.0, "", "dryrun")


def record(home: Path, job_id: str, pilot: PilotToken) -> None:
    """Remember that batch job ``job_id`` carries ``pilot``'s token."""
    path = pilots_path(home)
    try:
        with path.open("a", encoding="ascii") as stream:
            stream.write(f"{job_id} {pilot.token_id} {pilot.expires:.0f}\n")
    except OSError as error:
        raise RoostError(f"cannot record pilot {job_id}'s token in {path}: "
                         f"{error.strerror}") from None


def revoke(home: Path, job_ids: Iterable[str]) -> int:
    """Revoke the tokens of the pilots ``job_ids``; how many were revoked (pilots submitted
    with a token file of their own have none here)."""
    wanted = set(job_ids)
    try:
        lines = pilots_path(home).read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return 0
    revoked = 0
    now = time.time()
    for line in lines:
        words = line.split()
        if len(words) == 3 and words[0] in wanted and float(words[2]) > now:
            revoked += revocation.revoke(revocation.revocation_path(home), words[1],
                                         float(words[2]))
    return revoked
