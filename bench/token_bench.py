"""Token benchmark: what Ed25519 tokens cost beside the HS256 tokens roost used before.

Measured in one process, each the best of ``--repeat`` rounds of ``--tokens`` distinct
tokens (so that nothing is cached where caching is not the point):

  (a) sign     ``security.create_token`` (Ed25519, PyJWT) against PyJWT's HS256 with the
               same claims and a 32-byte secret, as roost's pool key was
  (b) verify   ``security.verify_token`` with the pool's public key against PyJWT's HS256
               decode of the same claims with the same checks (signature only, then the
               claims' shape)
  (c) per call ``AuthInterceptor.authenticate``, as every gRPC call runs it: a token seen
               before is taken from the interceptor's cache of verified tokens (the
               signature is checked once per token, the expiry every call), so a daemon
               pays (b) once per distinct token, not per call

Each line prints tokens (or calls) per second and the ratio to its reference.

    python bench/token_bench.py [--tokens 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from roost import security  # noqa: E402

HOUR = 3600.0
SCOPES = ("read", "submit")


def best_rate(work: Callable[[], int], repeat: int) -> float:
    """The most items per second of ``repeat`` runs of ``work`` (which returns its count)."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        count = work()
        best = max(best, count / (time.perf_counter() - start))
    return best


def hs256_token(secret: bytes, identity: str) -> str:
    """An HS256 token with the claims roost's tokens carry."""
    now = time.time()
    return jwt.encode({"sub": identity, "scope": " ".join(SCOPES), "iat": int(now),
                       "exp": int(now + HOUR), "jti": os.urandom(16).hex(),
                       "iss": security.ISSUER}, secret, algorithm="HS256")


def hs256_verify(secret: bytes, token: str) -> None:
    claims = jwt.decode(token, secret, algorithms=["HS256"], options=security._SIGNATURE_ONLY)
    security._identity(claims)


def line(what: str, rate: float, reference: float, unit: str = "tokens/s") -> None:
    print(f"  {what:<34} {rate:>11,.0f} {unit}   ratio to reference {rate / reference:.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    key = security.SigningKey.generate()
    public = key.public
    secret = os.urandom(32)
    names = [f"user{i}@pool" for i in range(args.tokens)]

    ed_sign = best_rate(lambda: len([security.create_token(key, n, SCOPES, HOUR)
                                     for n in names]), args.repeat)
    hs_sign = best_rate(lambda: len([hs256_token(secret, n) for n in names]), args.repeat)
    print("(a) sign")
    line("HS256 (reference)", hs_sign, hs_sign)
    line("Ed25519", ed_sign, hs_sign)

    ed_tokens = [security.create_token(key, n, SCOPES, HOUR) for n in names]
    hs_tokens = [hs256_token(secret, n) for n in names]

    def ed_verify() -> int:
        for token in ed_tokens:
            security.verify_token(public, token)
        return len(ed_tokens)

    def hs_verify() -> int:
        for token in hs_tokens:
            hs256_verify(secret, token)
        return len(hs_tokens)

    ed_rate, hs_rate = best_rate(ed_verify, args.repeat), best_rate(hs_verify, args.repeat)
    print("(b) verify, every token new")
    line("HS256 (reference)", hs_rate, hs_rate)
    line("Ed25519 with the public key", ed_rate, hs_rate)

    interceptor = security.AuthInterceptor(public, {})
    calls = [security.call_metadata(token) for token in ed_tokens[:50]]
    for metadata in calls:  # each token verified once
        interceptor.authenticate(metadata)

    def cached() -> int:
        for _ in range(args.tokens // len(calls) or 1):
            for metadata in calls:
                interceptor.authenticate(metadata)
        return (args.tokens // len(calls) or 1) * len(calls)

    def uncached() -> int:
        fresh = security.AuthInterceptor(public, {})
        for token in ed_tokens:
            fresh.authenticate(security.call_metadata(token))
        return len(ed_tokens)

    cached_rate, uncached_rate = best_rate(cached, args.repeat), best_rate(uncached,
                                                                           args.repeat)
    print("(c) per call, through AuthInterceptor.authenticate")
    line("Ed25519, each token new (reference)", uncached_rate, uncached_rate, "calls/s")
    line("Ed25519, 50 tokens seen before", cached_rate, uncached_rate, "calls/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
