"""``roost token``: make and inspect the tokens that authenticate calls to the pool.

``roost token create`` signs a token with the pool signing key, so only someone who can
read the key (the pool's administrator) can make one; ``roost token show`` prints what a
token claims, and checks its signature with the pool's public key; ``roost token revoke``
lists a token as revoked (``roost.revocation``), for the collector and the schedds to
refuse.

The security module (and with it gRPC) is imported only when a sub-verb runs, so
``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from roost.arguments import Parser, parse
from roost.config import load_config
from roost.errors import RoostError, UsageError

PROG = "roost token"
DEFAULT_LIFETIME_DAYS = 90.0
MAX_LIFETIME_DAYS = 36500.0  # security.MAX_LIFETIME
SECONDS_PER_DAY = 86400.0
# security.SCOPES, spelled out so that --help need not import gRPC (a test keeps them equal).
SCOPES_HELP = "read, submit, advertise-startd, advertise-schedd, negotiate, admin"


def _parser() -> Parser:
    parser = Parser(
        prog=PROG, description="Make and inspect the tokens that authenticate calls to the pool."
    )
    verbs = parser.add_subparsers(dest="verb", metavar="{create,show,revoke}", required=True)
    create = verbs.add_parser(
        "create",
        help="sign a new token (needs the pool signing key)",
        description="Sign a token for an identity with the pool signing key and print it.",
    )
    create.add_argument(
        "--identity",
        required=True,
        metavar="NAME",
        help="who the token speaks for, e.g. alice@pool or startd@node1.example.org",
    )
    create.add_argument(
        "--scope",
        required=True,
        action="append",
        metavar="S",
        dest="scopes",
        help=f"what the token may do (repeatable): {SCOPES_HELP}",
    )
    create.add_argument(
        "--lifetime",
        type=float,
        default=DEFAULT_LIFETIME_DAYS,
        metavar="DAYS",
        help=f"days until the token expires (default {DEFAULT_LIFETIME_DAYS:g})",
    )
    create.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the token, and the pool's public key after it, to FILE (mode 0600) "
        "instead of printing the token: the one file a host needs to join the pool",
    )
    show = verbs.add_parser(
        "show",
        help="print the identity, scopes and expiry of a token",
        description="Print what a token claims; its signature is checked if the pool "
        "signing key is readable.",
    )
    show.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the token file, or - for standard input (default: your token in the roost home)",
    )
    revoke = verbs.add_parser(
        "revoke",
        help="refuse a token from now on (needs the pool signing key)",
        description="Revoke a token, named by its id (roost token show prints it) or given "
        "as a file: the collector refuses it at once, the schedds within "
        "security.revocation_interval seconds.",
    )
    revoke.add_argument("token", metavar="ID|FILE",
                        help="the token's id, or a file holding the token")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``roost token`` with the arguments ``argv``; return the exit status."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    return {"create": create, "show": show, "revoke": revoke}[args.verb](args)


def _signing_key(path: Path):
    """The pool signing key at ``path``, which only the pool's administrator can read."""
    from roost import security

    try:
        return security.SigningKey.load(path)
    except FileNotFoundError:
        raise RoostError(
            f"no signing key at {path} (the pool makes it when it first starts)"
        ) from None
    except PermissionError:
        raise RoostError(
            f"only a pool administrator can create or revoke tokens: cannot read {path}"
        ) from None
    except OSError as error:
        raise RoostError(f"cannot read the signing key {path}: {error.strerror}") from None


def create(args: argparse.Namespace) -> int:
    from roost import security

    if not 0 < args.lifetime <= MAX_LIFETIME_DAYS:
        raise UsageError(
            f"--lifetime must be more than 0 and at most {MAX_LIFETIME_DAYS:g} days "
            f"(see '{PROG} create --help')"
        )
    key = _signing_key(security.key_path(load_config().home))
    try:
        token = security.create_token(
            key, args.identity, args.scopes, args.lifetime * SECONDS_PER_DAY
        )
    except ValueError as error:
        raise UsageError(f"{error} (see '{PROG} create --help')") from None
    if args.out is None:
        print(token)
        return 0
    # With the pool's public key after it: all a host that joins the pool needs to check
    # the tokens of its callers.
    security.write_token(args.out, token, key.public)
    identity = security.decode_token(token)
    print(
        f"wrote a token for {identity.name} ({_scopes(identity)}), "
        f"expiring {_when(identity.expires)}, and the pool's public key to {args.out}"
    )
    return 0


def show(args: argparse.Namespace) -> int:
    from roost import security

    home = load_config().home
    if args.file == "-":
        source, token = "standard input", sys.stdin.read().strip()
    else:
        source = args.file or security.local_token_path(home)
        token = security.load_token(Path(source))
    try:
        identity = security.decode_token(token)
    except security.AuthError as error:
        raise RoostError(f"{source}: {error}") from None
    print(f"identity:  {identity.name}")
    print(f"scopes:    {_scopes(identity)}")
    print(f"expires:   {_when(identity.expires)}")
    print(f"id:        {identity.token_id}")
    print(f"signature: {_signature(token, security.key_path(home))}")
    return 0


def revoke(args: argparse.Namespace) -> int:
    from roost import revocation, security

    home = load_config().home
    _signing_key(security.key_path(home))  # only the pool's administrator revokes
    given = Path(args.token)
    if given.is_file():
        try:
            identity = security.decode_token(security.load_token(given))
        except security.AuthError as error:
            raise RoostError(f"{given}: {error}") from None
        token_id, expires = identity.token_id, identity.expires
        what = f"token {token_id} ({identity.name}, expiring {_when(expires)})"
    else:
        # An id alone: its expiry is unknown, so it stays listed for a token's longest life.
        token_id, expires = args.token, time.time() + security.MAX_LIFETIME
        what = f"token {token_id}"
    try:
        added = revocation.revoke(revocation.revocation_path(home), token_id, expires)
    except ValueError as error:
        raise UsageError(f"{error} (see '{PROG} revoke --help')") from None
    except OSError as error:
        raise RoostError(f"cannot write the revoked tokens: {error.strerror}") from None
    print(f"revoked {what}" if added else f"{what} was revoked already")
    return 0


def _scopes(identity) -> str:
    """The scopes of ``identity`` in the order of ``SCOPES``, then any this version does
    not know (a token from a newer roost)."""
    from roost import security

    known = [scope for scope in security.SCOPES if scope in identity.scopes]
    return " ".join(known + sorted(identity.scopes.difference(security.SCOPES)))


def _signature(token: str, key_file: Path) -> str:
    """Whether the pool key at ``key_file`` signed ``token``, checked with its public half
    (``pool.pub``, which any user may read)."""
    from roost import security

    public_file = security.public_key_path_of(key_file)
    try:
        key = security.VerifyKey.load(public_file)
    except RoostError as error:
        return f"not checked ({error})"
    try:
        security.verify_token(key, token)
    except security.AuthError as error:
        # Expiry is checked after the signature, so an expired token was signed well.
        if error.code != "expired":
            return f"INVALID for the pool key {public_file} ({error})"
    return f"valid (signed by the pool key {public_file})"


def _when(timestamp: float) -> str:
    """ "2026-11-22T10:00:00Z (in 29 days)", or "(expired)"."""
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
    left = timestamp - time.time()
    if left <= 0:
        return f"{moment} (expired)"
    if left < SECONDS_PER_DAY:
        return f"{moment} (in {left / 3600:.1f} hours)"
    return f"{moment} (in {left / SECONDS_PER_DAY:.0f} days)"
