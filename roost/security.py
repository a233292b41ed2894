"""Tokens, the pool signing key, and the authentication of gRPC calls.

A token is like an HTCondor IDTOKEN: a JWT signed with the pool's Ed25519 key (PyJWT), whose
claims name an identity (``sub``: ``alice@pool``, ``startd@node1.example.org``) and what it
may do (``scope``, space-separated).  Only the holder of the private key (the central
manager) can make one; any host holding the public key (``pool.pub``) can check one.
Every call to a daemon carries one as ``authorization: Bearer <token>`` metadata;
``AuthInterceptor`` checks it, and the servicer reads who is calling with
``current_identity()``.

Scopes follow HTCondor's access levels: ``admin`` implies every scope, and ``submit``,
``advertise-startd``, ``advertise-schedd`` and ``negotiate`` each imply ``read``.

A job credential is a token of another kind (header ``kid`` ``JOB``) that a schedd makes
for one run of one job with a key of its own, so that no other daemon takes it: it names
the job's owner (``alice@job``), the job, the run and the workflow the job may submit
into (``JobGrant``).  ``AuthInterceptor`` takes such tokens only when given that key, and
leaves what they may do to its ``admit`` check.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import getpass
import hashlib
import logging
import math
import os
import pwd
import re
import secrets
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from roost.errors import RoostError

log = logging.getLogger("roost.security")

SCOPES = ("read", "submit", "advertise-startd", "advertise-schedd", "negotiate", "admin")

# The scopes each scope grants, itself included (HTCondor: ADMINISTRATOR implies all,
# WRITE and the ADVERTISE_* levels imply READ).
_GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "submit": frozenset({"submit", "read"}),
    "advertise-startd": frozenset({"advertise-startd", "read"}),
    "advertise-schedd": frozenset({"advertise-schedd", "read"}),
    "negotiate": frozenset({"negotiate", "read"}),
    "admin": frozenset(SCOPES),
}

# What `roost pool up` gives the user who runs the pool.
LOCAL_SCOPES = ("read", "submit", "admin")

ISSUER = "roost"

# The longest a token may live: a century is forever for a pool, and its expiry is still a
# date that every tool can print.
MAX_LIFETIME = 100 * 365 * 86400.0
_LAST_EXPIRY = 253402300799  # 9999-12-31T23:59:59Z

# How many verified tokens an interceptor remembers; a pool has few distinct tokens, and
# only ones with a good signature get in, so the bound is a backstop, not a policy.
_CACHE_SIZE = 4096

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

ALGORITHM = "EdDSA"  # Ed25519 (RFC 8037)
JOB_KID = "JOB"  # the header's kid of a job credential (a pool token's: its key's fingerprint)
# What a job credential grants before its schedd's own checks (``AuthInterceptor``'s
# ``admit``) narrow it to the job's workflow.
JOB_SCOPES = ("read", "submit")

# What a pool key file of roost before Ed25519 holds: 32 raw bytes of HMAC secret.
_HS256_KEY_BYTES = 32


def _utc(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_scope(scope: str) -> None:
    if scope not in _GRANTS:
        raise ValueError(f"unknown scope {scope!r} (known: {', '.join(SCOPES)})")


# -- The keys ----------------------------------------------------------------------------


class VerifyKey:
    """The pool key's public half: it verifies tokens and cannot make one, so every host
    may hold it."""

    __slots__ = ("_public",)

    def __init__(self, public: Ed25519PublicKey) -> None:
        self._public = public

    def __repr__(self) -> str:
        return f"VerifyKey({self.fingerprint})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and self.raw() == other.raw()

    def __hash__(self) -> int:
        return hash(self.raw())

    def raw(self) -> bytes:
        return self._public.public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)

    def pem(self) -> bytes:
        return self._public.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        """"SHA256:" and the first 16 hex digits of the SHA-256 of the raw key: the ``kid``
        of every token the key signs, and what a person compares."""
        return "SHA256:" + hashlib.sha256(self.raw()).hexdigest()[:16]

    @classmethod
    def from_pem(cls, data: bytes, where: str = "the public key") -> VerifyKey:
        try:
            public = serialization.load_pem_public_key(data)
        except ValueError:
            raise RoostError(f"{where} is not a PEM public key") from None
        if not isinstance(public, Ed25519PublicKey):
            raise RoostError(f"{where} is not an Ed25519 key")
        return cls(public)

    @classmethod
    def load(cls, path: Path) -> VerifyKey:
        """The public key in ``path`` (PEM); a one-line RoostError if it is not one."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise RoostError(f"cannot read the pool's public key {path}: "
                             f"{error.strerror}") from None
        return cls.from_pem(data, f"the pool's public key {path}")


class SigningKey:
    """A private key (Ed25519) that signs tokens, and only its holder can make one: the
    pool's, which the central manager holds and which signs every token but job
    credentials, or a schedd's job key, which signs those."""

    __slots__ = ("_private",)

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    def __repr__(self) -> str:
        return "SigningKey(<secret>)"

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> VerifyKey:
        return VerifyKey(self._private.public_key())

    def _pem(self) -> bytes:
        return self._private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """The key in ``path``.  OSError if it cannot be read; RoostError if other users
        may read it, or it is not a key (an HS256 secret of an older roost included)."""
        with open(path, "rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode & 0o777
            if mode & 0o077:
                raise RoostError(
                    f"the signing key {path} is open to other users (mode {mode:04o}); "
                    f"refusing it (fix with: chmod 600 {path})"
                )
            data = stream.read(64 * 1024)
        if len(data) == _HS256_KEY_BYTES and not data.startswith(b"-----"):
            raise RoostError(
                f"the signing key {path} is an HS256 secret of an older roost; tokens are "
                f"Ed25519 now: move it aside (mv {path} {path}.hs256), start the central "
                "manager to make a new key, and make new tokens with roost token create"
            )
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise RoostError(f"the signing key {path} is damaged (not a PEM private "
                             "key)") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise RoostError(f"the signing key {path} is not an Ed25519 key")
        return cls(private)

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key in ``path``, made (a new Ed25519 key, mode 0600) if there is none; its
        public half is written beside it (``public_key_path``) for the hosts that only
        verify.

        Daemons starting at the same moment all end up with the one key that was written
        first.  Failures are one-line RoostErrors.
        """
        path = Path(path)
        try:
            key = cls.load(path)
        except FileNotFoundError:
            key = cls._create(path)
        except OSError as error:
            raise RoostError(f"cannot read the signing key {path}: {error.strerror}") from None
        key._write_public(public_key_path_of(path))
        return key

    @classmethod
    def _create(cls, path: Path) -> SigningKey:
        key = cls.generate()
        # The key is written whole to a private file made with O_EXCL, then linked to its
        # name.  link() never replaces a file, so of two racing daemons exactly one key
        # wins, and the loser reads a complete file, never a half-written one (creating
        # the key's own name with O_EXCL and then writing would allow that).
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(key._pem())
                stream.flush()
                os.fsync(stream.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                return cls.load(path)
        except OSError as error:
            raise RoostError(f"cannot create the signing key {path}: {error.strerror}") from None
        finally:
            temporary.unlink(missing_ok=True)
        log.info("created the signing key %s", path)
        return key

    def _write_public(self, path: Path) -> None:
        """The public half at ``path`` (mode 0644), unless it is there already."""
        public = self.public
        with contextlib.suppress(OSError, RoostError):
            if VerifyKey.load(path) == public:
                return
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(public.pem())
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise RoostError(f"cannot write the pool's public key {path}: "
                             f"{error.strerror}") from None


def key_path(home: Path) -> Path:
    """Where the pool signing key lives: ``HOME/keys/pool.key`` (directory 0700)."""
    return Path(home) / "keys" / "pool.key"


def public_key_path_of(key_file: Path) -> Path:
    """Where the public half of the key in ``key_file`` is kept: ``pool.pub`` beside it."""
    return Path(key_file).with_suffix(".pub")


def token_dir(home: Path) -> Path:
    """Where users' tokens live: ``HOME/tokens`` (made 0700 by whoever first writes one)."""
    return Path(home) / "tokens"


# -- Tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobGrant:
    """What a job credential was made for: one run of one job, and the workflow whose
    jobs the run may add to."""

    job_id: str  # "12.0"
    run: int  # the job's NumJobStarts once this run has started
    workflow: int  # a DAG's id, or the cluster id of a workflow's first job


@dataclass(frozen=True)
class Identity:
    """Who a verified token says is calling, and what it may do."""

    name: str  # "alice@pool", "startd@node1.example.org", "alice@job"
    scopes: frozenset[str]
    expires: float  # seconds since the epoch
    token_id: str  # the token's jti, for logs and revocation
    job: JobGrant | None = None  # set for a job credential

    def allows(self, scope: str) -> bool:
        """Whether the identity has ``scope``, directly or through a scope that implies it."""
        _check_scope(scope)
        return any(scope in _GRANTS.get(held, ()) for held in self.scopes)

    @property
    def host(self) -> str:
        """The part of the name after "@" ("node1.example.org"); "" if there is none."""
        return self.name.partition("@")[2]


class AuthError(Exception):
    """A call that cannot be allowed.  ``code`` is "missing", "malformed",
    "bad-signature", "expired", "revoked" (all: not authenticated) or "scope" (not
    permitted)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def create_token(
    key: SigningKey,
    identity: str,
    scopes: Iterable[str],
    lifetime: float,
    now: float | None = None,
) -> str:
    """A token for ``identity`` with ``scopes``, valid for ``lifetime`` seconds from ``now``
    (default: the current time): a JWT signed with the pool's Ed25519 key."""
    if not identity or any(c.isspace() or not c.isprintable() for c in identity):
        raise ValueError(f"an identity is a name without spaces, not {identity!r}")
    wanted = set(scopes)
    for scope in sorted(wanted):
        _check_scope(scope)
    if not wanted:
        raise ValueError("a token needs at least one scope")
    # A lifetime of 0 or less makes a token that has already expired, which grants
    # nothing and is how tests get one.
    if not -math.inf < lifetime <= MAX_LIFETIME:
        raise ValueError(f"a token's lifetime must be at most a century, not {lifetime} s")
    now = time.time() if now is None else now
    claims = {
        "sub": identity,
        "scope": " ".join(scope for scope in SCOPES if scope in wanted),
        "iat": int(now),
        "exp": math.ceil(now + lifetime),
        "jti": secrets.token_hex(16),
        "iss": ISSUER,
    }
    return jwt.encode(claims, key._private, algorithm=ALGORITHM,
                      headers={"kid": key.public.fingerprint})


def create_job_token(key: SigningKey, owner: str, grant: JobGrant, lifetime: float,
                     now: float | None = None) -> str:
    """A job credential: ``owner``'s, for the run and workflow ``grant`` names, signed with
    a schedd's job key (not the pool key: no other daemon takes it)."""
    if not owner or any(c.isspace() or c == "@" or not c.isprintable() for c in owner):
        raise ValueError(f"a job's owner is a user name, not {owner!r}")
    now = time.time() if now is None else now
    claims = {
        "sub": f"{owner}@job",
        "scope": " ".join(JOB_SCOPES),
        "iat": int(now),
        "exp": math.ceil(now + min(lifetime, MAX_LIFETIME)),
        "jti": secrets.token_hex(16),
        "iss": ISSUER,
        "job": grant.job_id,
        "run": grant.run,
        "wf": grant.workflow,
    }
    return jwt.encode(claims, key._private, algorithm=ALGORITHM, headers={"kid": JOB_KID})


def daemon_token(key: SigningKey, identity: str, scopes: Iterable[str], lifetime: float) -> str:
    """A token for a daemon (``startd@HOST``, ...); daemons on the pool's own host read the
    key file and make their own."""
    return create_token(key, identity, scopes, lifetime)


def _identity(claims: object, job: bool = False) -> Identity:
    """The identity the token's claims name, once their shape is checked (``job``: a job
    credential's, with its grant)."""
    if not isinstance(claims, dict):
        raise AuthError("malformed", "malformed token: its claims are not a JSON object")
    for claim, kind in (("sub", str), ("scope", str), ("exp", (int, float)), ("jti", str)):
        value = claims.get(claim)
        if not isinstance(value, kind) or isinstance(value, bool) or value == "":
            raise AuthError("malformed", f"malformed token: no valid {claim!r} claim")
    if not 0 <= claims["exp"] <= _LAST_EXPIRY:  # also refuses NaN, which JSON allows
        raise AuthError("malformed", "malformed token: its 'exp' claim is not a date")
    if claims.get("iss") != ISSUER:
        raise AuthError("malformed", f"malformed token: issued by {claims.get('iss')!r}")
    return Identity(
        name=claims["sub"],
        scopes=frozenset(claims["scope"].split()),
        expires=float(claims["exp"]),
        token_id=claims["jti"],
        job=_job_grant(claims) if job else None,
    )


def _job_grant(claims: dict) -> JobGrant:
    job, run, workflow = claims.get("job"), claims.get("run"), claims.get("wf")
    if not (isinstance(job, str) and re.fullmatch(r"\d+\.\d+", job)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                    for n in (run, workflow))):
        raise AuthError("malformed", "malformed job credential: no valid job, run or workflow")
    return JobGrant(job, run, workflow)


def _header(token: str) -> dict:
    try:
        return jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise AuthError("malformed", "malformed token: bad base64 or JSON") from None


def _shaped(token: str) -> str:
    """``token`` stripped, once it has the shape of a JWS."""
    token = token.strip()
    if _TOKEN_SHAPE.fullmatch(token) is None:
        raise AuthError("malformed", "malformed token: not three base64url parts joined by '.'")
    return token


def _wrong_algorithm(header: dict) -> AuthError:
    """The refusal of a token whose header names another algorithm than Ed25519."""
    algorithm = header.get("alg")
    older = (" (a token of an older roost: make a new one with roost token create)"
             if algorithm == "HS256" else "")
    return AuthError("malformed", f"malformed token: its algorithm is not {ALGORITHM}{older}")


# PyJWT checks the signature, nothing else: the claims are checked here, expiry by the
# caller (an interceptor caches a verified token and checks its expiry at every call).
_SIGNATURE_ONLY = {"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                   "verify_aud": False, "verify_iss": False, "verify_sub": False,
                   "verify_jti": False}


def _verified(key: SigningKey | VerifyKey, token: str,
              job_key: SigningKey | None = None) -> Identity:
    """The identity of ``token`` if ``key`` (or the private key whose public half it is)
    signed it (a job credential: ``job_key``); expiry is the caller's to check."""
    token = _shaped(token)
    header = _header(token)
    job = header.get("kid") == JOB_KID
    if job and job_key is None:
        raise AuthError("bad-signature", "a job's credential is taken only by the schedd "
                        "that runs the job")
    signer = job_key if job else key
    public = signer.public if isinstance(signer, SigningKey) else signer
    try:
        claims = jwt.decode(token, public._public, algorithms=[ALGORITHM],
                            options=_SIGNATURE_ONLY)
    except jwt.InvalidAlgorithmError:
        raise _wrong_algorithm(header) from None
    except jwt.InvalidSignatureError:
        what = "the schedd's job key" if job else "the pool's signing key"
        raise AuthError("bad-signature", f"token signature does not match {what}") from None
    except jwt.DecodeError:
        raise AuthError("malformed", "malformed token: bad base64 or JSON") from None
    return _identity(claims, job)


def _check_unexpired(identity: Identity, now: float | None) -> None:
    if (time.time() if now is None else now) >= identity.expires:
        raise AuthError("expired", f"token expired at {_utc(identity.expires)}")


def verify_token(key: SigningKey | VerifyKey, token: str, now: float | None = None, *,
                 job_key: SigningKey | None = None) -> Identity:
    """The identity ``token`` names, if ``key`` signed it (a job credential: ``job_key``)
    and it has not expired by ``now``; AuthError otherwise (a bad signature is reported
    before expiry)."""
    identity = _verified(key, token, job_key)
    _check_unexpired(identity, now)
    return identity


def decode_token(token: str) -> Identity:
    """The identity ``token`` claims, checking neither signature nor expiry: for display
    only, never to grant anything."""
    token = _shaped(token)
    header = _header(token)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError:
        raise AuthError("malformed", "malformed token: bad base64 or JSON") from None
    if header.get("alg") != ALGORITHM:
        raise _wrong_algorithm(header)
    return _identity(claims, header.get("kid") == JOB_KID)


# -- Token files -------------------------------------------------------------------------


def _login_name() -> str:
    # The password database, not $USER, names the account the pool runs as; containers
    # may run as a uid it does not know, and then the environment is all there is.
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return getpass.getuser()


def local_token_path(home: Path) -> Path:
    """The token of the user running this process: ``HOME/tokens/<login name>.token``."""
    return token_dir(home) / f"{_login_name()}.token"


def _read_token_file(path: Path) -> tuple[str, str]:
    """The token in the file ``path`` and what follows it (a join file's public key)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise RoostError(
            f"no token at {path} (is the pool up? roost token create --identity NAME "
            f"--scope SCOPE --out {path} makes one)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not a token file"
        raise RoostError(f"cannot read the token {path}: {reason}") from None
    if not text:
        raise RoostError(f"the token file {path} is empty")
    token, _, rest = text.partition("\n")
    return token.strip(), rest.strip()


def load_token(path: Path) -> str:
    """The token in the file ``path`` (its first line); a one-line RoostError if there is
    none."""
    return _read_token_file(path)[0]


def load_join_file(path: Path) -> tuple[str, VerifyKey | None]:
    """The token in the file ``path`` and the pool's public key, if the file carries it
    (``roost token create --out`` writes both: all a host that joins the pool needs)."""
    token, rest = _read_token_file(path)
    return token, VerifyKey.from_pem(rest.encode("ascii"), f"the public key in {path}") \
        if rest else None


def write_token(path: Path, token: str, public: VerifyKey | None = None) -> None:
    """Write ``token`` to ``path`` (mode 0600), and after it the pool's ``public`` key if
    given (a join file), replacing any file there in one step; a missing directory is
    made with mode 0700."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(token + "\n")
            if public is not None:
                stream.write(public.pem().decode("ascii"))
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise RoostError(f"cannot write the token {path}: {error.strerror}") from None


def ensure_local_token(home: Path, key: SigningKey, lifetime: float) -> Path:
    """Make sure the user running the pool has a token (identity ``<login name>@pool``,
    scopes read, submit and admin); returns its path.

    The token there is kept unless it is unreadable, signed by another key, expired, or
    in the last half of ``lifetime`` (so that starting the pool also renews a token
    before it runs out under a user's feet).
    """
    path = local_token_path(home)
    with contextlib.suppress(RoostError, AuthError):
        identity = verify_token(key, load_token(path))
        if identity.expires - time.time() > lifetime / 2:
            return path
    write_token(path, create_token(key, f"{_login_name()}@pool", LOCAL_SCOPES, lifetime))
    return path


# -- gRPC: the server side ---------------------------------------------------------------

_CURRENT: contextvars.ContextVar[Identity] = contextvars.ContextVar("roost_identity")

_STATUS = {
    "missing": grpc.StatusCode.UNAUTHENTICATED,
    "malformed": grpc.StatusCode.UNAUTHENTICATED,
    "bad-signature": grpc.StatusCode.UNAUTHENTICATED,
    "expired": grpc.StatusCode.UNAUTHENTICATED,
    "revoked": grpc.StatusCode.UNAUTHENTICATED,
    "scope": grpc.StatusCode.PERMISSION_DENIED,
}


def current_identity() -> Identity:
    """Who is calling: set while a servicer behind ``AuthInterceptor`` runs."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise RuntimeError(
            "current_identity() is set only while a servicer behind AuthInterceptor runs"
        ) from None


@contextlib.contextmanager
def acting_as(identity: Identity) -> Iterator[Identity]:
    """Make ``identity`` the ``current_identity()`` inside the block: what the interceptor
    does around a servicer, and how a test calls a servicer without gRPC."""
    reset = _CURRENT.set(identity)
    try:
        yield identity
    finally:
        _CURRENT.reset(reset)


class _ActingAs:
    """A response stream whose every step runs as ``identity``.

    The identity is set around each ``next()`` rather than once around a generator, so it
    never leaks to the next call served by the same worker thread, even when the client
    goes away and the stream is dropped half-read.
    """

    __slots__ = ("_identity", "_responses")

    def __init__(self, responses: Iterator, identity: Identity) -> None:
        self._responses = responses
        self._identity = identity

    def __iter__(self) -> _ActingAs:
        return self

    def __next__(self):
        with acting_as(self._identity):
            return next(self._responses)


# The health service's methods: every daemon serves them to anyone.
HEALTH_METHODS = ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch")


class AuthInterceptor(grpc.ServerInterceptor):
    """Authenticates every call by its token and checks the scope of its method.

    ``method_scopes`` maps full method names ("/roost.rpc.Collector/Advertise") to the
    scope they need; other methods need ``default_scope``; ``exempt`` methods (the health
    service) need no token.  Job credentials are taken only with ``job_key`` (the key that
    signed them); ``admit(identity, method)``, if given, is asked of every call whose scope
    holds and may refuse it with an AuthError (what a job credential may do, and whether
    its run still lives, are the schedd's to say).  ``revoked`` holds the ids of tokens
    refused whatever their signature.  A refused call ends with UNAUTHENTICATED (no token,
    a malformed, forged, expired or revoked one) or PERMISSION_DENIED (a missing scope)
    and a details line saying why.
    """

    def __init__(
        self,
        key: SigningKey | VerifyKey,
        method_scopes: Mapping[str, str],
        default_scope: str = "read",
        exempt: Iterable[str] = HEALTH_METHODS,
        revoked: Container[str] = frozenset(),
        *,
        job_key: SigningKey | None = None,
        admit: Callable[[Identity, str], None] | None = None,
    ) -> None:
        for scope in (*method_scopes.values(), default_scope):
            _check_scope(scope)
        self._key = key
        self._revoked = revoked  # token ids (roost.revocation), checked at every call
        self._job_key = job_key
        self._admit = admit
        self._method_scopes = dict(method_scopes)
        self._default_scope = default_scope
        self._exempt = frozenset(exempt)
        self._verified: dict[str, Identity] = {}

    def authenticate(
        self,
        metadata: Iterable[tuple[str, str]],
        now: float | None = None,
    ) -> Identity:
        """The identity of the bearer token in call ``metadata``; AuthError if there is no
        valid one.  A token's signature is checked once; its expiry and whether it was
        revoked every time."""
        token = _bearer_token(metadata)
        identity = self._verified.get(token)
        if identity is None:
            identity = _verified(self._key, token, self._job_key)
            if len(self._verified) >= _CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = identity
        _check_unexpired(identity, now)
        if identity.token_id in self._revoked:
            raise AuthError("revoked", f"token {identity.token_id} was revoked")
        return identity

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method in self._exempt:
            return handler
        scope = self._method_scopes.get(method, self._default_scope)

        def authorize(context: grpc.ServicerContext) -> Identity:
            try:
                identity = self.authenticate(context.invocation_metadata())
                if not identity.allows(scope):
                    raise AuthError(
                        "scope",
                        f"identity {identity.name} lacks scope {scope} for "
                        f"{short_method(method)}",
                    )
                if self._admit is not None:
                    self._admit(identity, method)
            except AuthError as refusal:
                log.warning("refused %s from %s: %s", method, context.peer(), refusal)
                context.abort(_STATUS[refusal.code], str(refusal))
            return identity

        return _wrap(handler, authorize)


def _bearer_token(metadata: Iterable[tuple[str, str]]) -> str:
    for name, value in metadata:
        if name == "authorization":
            kind, _, token = value.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise AuthError("malformed", "malformed token: authorization is not 'Bearer TOKEN'")
            return token.strip()
    raise AuthError("missing", "no token: the call has no 'authorization: Bearer' metadata")


def short_method(method: str) -> str:
    """ "/roost.rpc.Collector/Advertise" -> "Collector/Advertise"."""
    service, _, name = method.lstrip("/").rpartition("/")
    return f"{service.rpartition('.')[2]}/{name}"


def _wrap(handler: grpc.RpcMethodHandler, authorize) -> grpc.RpcMethodHandler:
    """``handler`` with its behaviour run only for authorized callers, as their identity.

    The wrapped behaviour runs in the worker thread that serves the call, so that is where
    the identity is set; a response stream also gets it at each step.
    """
    if handler.request_streaming and handler.response_streaming:
        behavior, make = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        behavior, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        behavior, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        behavior, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler

    if handler.response_streaming:

        def authorized(request, context):
            identity = authorize(context)
            with acting_as(identity):
                return _ActingAs(iter(behavior(request, context)), identity)

    else:

        def authorized(request, context):
            with acting_as(authorize(context)):
                return behavior(request, context)

    return make(
        authorized,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def server_credentials(key_pem: bytes, cert_pem: bytes) -> grpc.ServerCredentials:
    """TLS for a daemon's port, from its private key and certificate (chain) in PEM.

    Clients are not asked for certificates: their tokens say who they are.
    """
    return grpc.ssl_server_credentials([(key_pem, cert_pem)])


# -- gRPC: the client side ---------------------------------------------------------------


def call_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata that carries ``token`` with a call."""
    return (("authorization", f"Bearer {token.strip()}"),)


def channel_credentials(ca_pem: bytes | None) -> grpc.ChannelCredentials | None:
    """TLS trusting the certificate authority ``ca_pem``; None (plaintext) without one."""
    if ca_pem is None:
        return None
    return grpc.ssl_channel_credentials(root_certificates=ca_pem)


# The useful part of gRPC's "Tls handshake failed ... OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:
# unable to get local issuer certificate: OK".
_TLS_REASON = re.compile(r"OPENSSL_internal:([A-Z_]+(?:: [^:]+)?)")


def describe_rpc_error(err: grpc.RpcError, what: str, address: str) -> str:
    """One line for the command line about a failed call to the ``what`` at ``address``."""
    code = err.code()
    details = err.details() or code.name
    where = f"the {what} at {address}"
    if code == grpc.StatusCode.UNAVAILABLE:
        if "handshake failed" in details.lower():
            reason = _TLS_REASON.search(details)
            return f"TLS handshake with {where} failed: {reason[1] if reason else details}"
        return f"cannot reach {where} (is the pool up?)"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"{where} did not accept the token: {details}"
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return f"permission denied by {where}: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{where} did not answer in time"
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:  # out of room: its own words say which
        return f"{where} refused the call: {details}"
    return f"{where} failed the call ({code.name.lower()}): {details}"
