"""Tokens, the signing key, the gRPC interceptor, TLS, and ``roost token``."""

import base64
import io
import json
import math
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from concurrent import futures

import grpc
import jwt
import pytest

from roost import cli, security, token_cli
from roost.errors import RoostError
from roost.security import (
    AuthError,
    AuthInterceptor,
    Identity,
    SigningKey,
    create_token,
    current_identity,
    verify_token,
)

HOUR = 3600.0
NOW = 1_600_000_000.0  # 2020-09-13T12:26:40Z


@pytest.fixture
def key():
    return SigningKey.generate()


def parts(token):
    """The decoded header and claims of a token."""
    header, claims, _ = token.split(".")
    return [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in (header, claims)]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- Tokens ------------------------------------------------------------------------------


def test_token_round_trip(key):
    token = create_token(key, "alice@pool", ["submit", "read"], HOUR, now=NOW)
    header, claims = parts(token)
    assert header == {"alg": "EdDSA", "kid": key.public.fingerprint, "typ": "JWT"}
    assert claims["sub"] == "alice@pool"
    assert claims["scope"] == "read submit"
    assert (claims["iat"], claims["exp"], claims["iss"]) == (NOW, NOW + HOUR, "roost")
    identity = verify_token(key, token, now=NOW + 1)
    assert identity == Identity(
        "alice@pool", frozenset({"read", "submit"}), NOW + HOUR, claims["jti"]
    )
    assert identity.host == "pool"
    assert create_token(key, "alice@pool", ["read"], HOUR, now=NOW) != create_token(
        key, "alice@pool", ["read"], HOUR, now=NOW
    ), "every token has its own jti"


def test_tampered_payload_is_a_bad_signature(key):
    header, claims, signature = create_token(key, "alice@pool", ["read"], HOUR).split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload["scope"] = "admin"
    forged = f"{header}.{b64(json.dumps(payload).encode())}.{signature}"
    with pytest.raises(AuthError) as refused:
        verify_token(key, forged)
    assert refused.value.code == "bad-signature"
    assert str(refused.value) == "token signature does not match the pool's signing key"


def test_token_of_another_key_is_a_bad_signature(key):
    token = create_token(SigningKey.generate(), "alice@pool", ["read"], HOUR)
    with pytest.raises(AuthError) as refused:
        verify_token(key, token)
    assert refused.value.code == "bad-signature"


def test_expired_token(key):
    token = create_token(key, "alice@pool", ["read"], HOUR, now=NOW)
    assert verify_token(key, token, now=NOW + HOUR - 1).name == "alice@pool"
    with pytest.raises(AuthError) as refused:
        verify_token(key, token, now=NOW + HOUR)
    assert refused.value.code == "expired"
    assert str(refused.value) == "token expired at 2020-09-13T13:26:40Z"


NAN_EXPIRY = json.dumps({"sub": "a@pool", "scope": "admin", "exp": math.nan, "jti": "x"}).encode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "a.b",
        "a.b.c.d",
        "a!.b.c",
        f"{b64(b'{}')}.{b64(b'[1]')}.{b64(b'sig')}",
        f"{b64(b'not json')}.{b64(b'{}')}.{b64(b'sig')}",
        # "alg": "none" is the classic JWT forgery; only HS256 is accepted.
        f"{b64(json.dumps({'alg': 'none'}).encode())}.{b64(b'{}')}.{b64(b'sig')}",
        # JSON allows NaN, which would compare as never expired.
        f"{b64(json.dumps({'alg': 'HS256'}).encode())}.{b64(NAN_EXPIRY)}.{b64(b'sig')}",
    ],
)
def test_malformed_tokens(key, token):
    with pytest.raises(AuthError) as refused:
        verify_token(key, token)
    assert refused.value.code == "malformed"
    assert str(refused.value).startswith("malformed token: ")


def test_unknown_scope_and_bad_arguments_are_refused(key):
    with pytest.raises(ValueError, match="unknown scope 'superuser'"):
        create_token(key, "alice@pool", ["read", "superuser"], HOUR)
    with pytest.raises(ValueError, match="at least one scope"):
        create_token(key, "alice@pool", [], HOUR)
    with pytest.raises(ValueError, match="lifetime"):
        create_token(key, "alice@pool", ["read"], math.inf)
    with pytest.raises(AuthError, match="expired"):
        verify_token(key, create_token(key, "alice@pool", ["read"], -10))
    with pytest.raises(ValueError, match="identity"):
        create_token(key, "alice smith@pool", ["read"], HOUR)
    with pytest.raises(ValueError, match="unknown scope 'write'"):
        Identity("alice@pool", frozenset({"admin"}), NOW, "x").allows("write")


@pytest.mark.parametrize(
    ("held", "allowed"),
    [
        ({"read"}, {"read"}),
        ({"submit"}, {"submit", "read"}),
        ({"advertise-startd"}, {"advertise-startd", "read"}),
        ({"advertise-schedd"}, {"advertise-schedd", "read"}),
        ({"negotiate"}, {"negotiate", "read"}),
        ({"admin"}, set(security.SCOPES)),
        ({"submit", "negotiate"}, {"submit", "negotiate", "read"}),
    ],
)
def test_scope_implications(held, allowed):
    identity = Identity("x@pool", frozenset(held), NOW, "id")
    assert {scope for scope in security.SCOPES if identity.allows(scope)} == allowed


# -- The signing key ---------------------------------------------------------------------


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_is_created_0600_and_reused(tmp_path):
    path = security.key_path(tmp_path / "home")
    assert path == tmp_path / "home" / "keys" / "pool.key"
    first = SigningKey.load_or_create(path)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = SigningKey.load_or_create(path)
    assert again.public == first.public
    public = security.public_key_path_of(path)
    assert (public, mode(public)) == (path.parent / "pool.pub", 0o644)
    assert security.VerifyKey.load(public) == first.public
    assert sorted(os.listdir(path.parent)) == ["pool.key", "pool.pub"], \
        "no temporary file is left behind"
    assert repr(first) == "SigningKey(<secret>)", "the secret never shows in logs"


def test_the_public_key_verifies_and_cannot_sign(key, tmp_path):
    token = create_token(key, "alice@pool", ["read"], HOUR)
    assert verify_token(key.public, token).name == "alice@pool"
    with pytest.raises(AttributeError):
        create_token(key.public, "mallory@pool", ["admin"], HOUR)
    other = SigningKey.generate()
    with pytest.raises(AuthError) as refused:
        verify_token(other.public, token)
    assert refused.value.code == "bad-signature"
    (tmp_path / "x.pub").write_bytes(b"not a key")
    with pytest.raises(RoostError, match=r"x.pub is not a PEM public key$"):
        security.VerifyKey.load(tmp_path / "x.pub")


def test_an_hs256_key_of_an_older_roost_is_refused_saying_what_to_do(tmp_path):
    path = tmp_path / "pool.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    with pytest.raises(RoostError) as refused:
        SigningKey.load_or_create(path)
    assert str(refused.value) == (
        f"the signing key {path} is an HS256 secret of an older roost; tokens are Ed25519 "
        f"now: move it aside (mv {path} {path}.hs256), start the central manager to make a "
        "new key, and make new tokens with roost token create")


def test_an_hs256_token_of_an_older_roost_is_refused_saying_what_to_do(key):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": "a@pool", "scope": "admin", "exp": 2e9, "jti": "x",
                             "iss": "roost"}).encode())
    with pytest.raises(AuthError) as refused:
        verify_token(key, f"{header}.{claims}.{b64(b'x' * 32)}")
    assert refused.value.code == "malformed"
    assert str(refused.value) == ("malformed token: its algorithm is not EdDSA (a token of "
                                  "an older roost: make a new one with roost token create)")


def test_key_file_open_to_others_is_refused(tmp_path):
    path = tmp_path / "pool.key"
    SigningKey.load_or_create(path)
    path.chmod(0o640)
    with pytest.raises(RoostError) as refused:
        SigningKey.load_or_create(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"the signing key {path} is open to other users (mode 0640); "
        f"refusing it (fix with: chmod 600 {path})"
    )


def test_damaged_key_file_is_refused(tmp_path):
    path = tmp_path / "pool.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(RoostError, match=r"damaged \(not a PEM private key\)$"):
        SigningKey.load_or_create(path)


def test_key_creation_that_loses_the_race_uses_the_winners_key(tmp_path, monkeypatch):
    path = tmp_path / "pool.key"
    winner = SigningKey.generate()
    link = os.link

    def another_daemon_links_first(source, destination):
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, winner._pem())
        os.close(descriptor)
        link(source, destination)

    monkeypatch.setattr(os, "link", another_daemon_links_first)
    key = SigningKey.load_or_create(path)
    assert key.public == winner.public
    assert sorted(os.listdir(tmp_path)) == ["pool.key", "pool.pub"]


RACER = """
import pathlib, sys, time
from roost.security import SigningKey
print("ready", flush=True)
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.0005)
print(SigningKey.load_or_create(pathlib.Path(sys.argv[1])).public.fingerprint)
"""


def test_daemons_creating_the_key_at_once_share_one_key(tmp_path):
    path = tmp_path / "home" / "keys" / "pool.key"
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(path), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for racer in racers:
        assert racer.stdout.readline() == "ready\n"
    go.touch()
    signatures = {racer.communicate(timeout=20)[0].strip() for racer in racers}
    assert [racer.returncode for racer in racers] == [0, 0, 0, 0]
    assert signatures == {SigningKey.load_or_create(path).public.fingerprint}
    assert sorted(os.listdir(path.parent)) == ["pool.key", "pool.pub"]


# -- Token files -------------------------------------------------------------------------


def test_local_token_is_made_kept_and_renewed(tmp_path, key):
    home = tmp_path / "home"
    path = security.ensure_local_token(home, key, 30 * 24 * HOUR)
    assert path == security.local_token_path(home)
    assert path.parent == security.token_dir(home)
    assert path.name.endswith(".token")
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    token = security.load_token(path)
    identity = verify_token(key, token)
    assert identity.name == f"{path.stem}@pool"
    assert identity.scopes == {"read", "submit", "admin"}

    assert security.ensure_local_token(home, key, 30 * 24 * HOUR) == path
    assert security.load_token(path) == token, "a good token is kept"

    other_key = SigningKey.generate()
    security.ensure_local_token(home, other_key, 30 * 24 * HOUR)
    assert verify_token(other_key, security.load_token(path)).name == identity.name

    expired = create_token(other_key, identity.name, ["read"], HOUR, now=NOW)
    security.write_token(path, expired)
    security.ensure_local_token(home, other_key, 30 * 24 * HOUR)
    assert verify_token(other_key, security.load_token(path)).scopes == identity.scopes


def test_missing_token_is_one_line(tmp_path):
    path = tmp_path / "tokens" / "alice.token"
    with pytest.raises(RoostError) as refused:
        security.load_token(path)
    assert str(refused.value).startswith(f"no token at {path} (is the pool up? ")
    assert "roost token create" in str(refused.value)
    path.parent.mkdir()
    path.write_text("\n")
    with pytest.raises(RoostError, match="is empty"):
        security.load_token(path)


# -- The interceptor, on a real server ---------------------------------------------------

SERVICE = "roost.test.Echo"
KINDS = ("Unary", "ServerStream", "ClientStream", "BidiStream")
HEALTH = "/grpc.health.v1.Health/Check"


def _who() -> bytes:
    try:
        return current_identity().name.encode()
    except RuntimeError:
        return b"nobody"


def _unary(request, context):
    return _who()


def _server_stream(request, context):
    for _ in range(3):
        yield _who()


def _client_stream(requests, context):
    return _who() + b" %d" % sum(1 for _ in requests)


def _bidi_stream(requests, context):
    for _ in requests:
        yield _who()


def _echo_handlers():
    return [
        grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Unary": grpc.unary_unary_rpc_method_handler(_unary),
                "ServerStream": grpc.unary_stream_rpc_method_handler(_server_stream),
                "ClientStream": grpc.stream_unary_rpc_method_handler(_client_stream),
                "BidiStream": grpc.stream_stream_rpc_method_handler(_bidi_stream),
            },
        ),
        grpc.method_handlers_generic_handler(
            "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(_unary)}
        ),
    ]


def start_server(key, credentials=None):
    """A server of the echo service behind AuthInterceptor on 127.0.0.1; (server, port).

    One worker thread, so a call that leaked its identity would leak it to the next."""
    scopes = {f"/{SERVICE}/{kind}": "advertise-startd" for kind in KINDS}
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=1),
        handlers=_echo_handlers(),
        interceptors=[AuthInterceptor(key, scopes)],
    )
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, port


def call(channel, kind, metadata=()):
    """Call the echo method ``kind``; the list of responses."""
    method = f"/{SERVICE}/{kind}"
    options = {"metadata": metadata, "timeout": 5}
    if kind == "Unary":
        return [channel.unary_unary(method)(b"x", **options)]
    if kind == "ServerStream":
        return list(channel.unary_stream(method)(b"x", **options))
    if kind == "ClientStream":
        return [channel.stream_unary(method)(iter([b"a", b"b"]), **options)]
    return list(channel.stream_stream(method)(iter([b"a", b"b"]), **options))


EXPECTED = {
    "Unary": [b"startd@node1"],
    "ServerStream": [b"startd@node1"] * 3,
    "ClientStream": [b"startd@node1 2"],
    "BidiStream": [b"startd@node1"] * 2,
}


@pytest.fixture(scope="module")
def echo():
    """(key, channel, address) of a running echo server."""
    key = SigningKey.generate()
    server, port = start_server(key)
    address = f"127.0.0.1:{port}"
    with grpc.insecure_channel(address) as channel:
        yield key, channel, address
    server.stop(None)


def bearer(token):
    return security.call_metadata(token)


@pytest.mark.parametrize("kind", KINDS)
def test_good_token_reaches_the_servicer_as_its_identity(echo, kind):
    key, channel, _ = echo
    token = create_token(key, "startd@node1", ["advertise-startd"], HOUR)
    assert call(channel, kind, bearer(token)) == EXPECTED[kind]
    # The only worker thread has just served that call: the identity must not linger.
    assert channel.unary_unary(HEALTH)(b"", timeout=5) == b"nobody"


def _refusals(key):
    """(metadata, status, details) of calls the interceptor must refuse."""
    good = create_token(key, "alice@pool", ["submit"], HOUR)
    forged = create_token(SigningKey.generate(), "startd@node1", ["admin"], HOUR)
    expired = create_token(key, "startd@node1", ["advertise-startd"], HOUR, now=NOW)
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    return {
        "no token": (
            (),
            unauthenticated,
            "no token: the call has no 'authorization: Bearer' metadata",
        ),
        "not bearer": (
            (("authorization", f"Basic {good}"),),
            unauthenticated,
            "malformed token: authorization is not 'Bearer TOKEN'",
        ),
        "forged": (
            bearer(forged),
            unauthenticated,
            "token signature does not match the pool's signing key",
        ),
        "expired": (bearer(expired), unauthenticated, "token expired at 2020-09-13T13:26:40Z"),
        "wrong scope": (
            bearer(good),
            grpc.StatusCode.PERMISSION_DENIED,
            "identity alice@pool lacks scope advertise-startd for Echo/{kind}",
        ),
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["no token", "not bearer", "forged", "expired", "wrong scope"])
def test_refused_calls(echo, kind, case):
    key, channel, _ = echo
    metadata, status, details = _refusals(key)[case]
    with pytest.raises(grpc.RpcError) as refused:
        call(channel, kind, metadata)
    assert refused.value.code() == status
    assert refused.value.details() == details.format(kind=kind)


def test_health_check_needs_no_token(echo):
    _, channel, _ = echo
    assert channel.unary_unary(HEALTH)(b"", timeout=5) == b"nobody"


def test_verified_tokens_are_cached_but_expiry_is_checked_each_time(key):
    interceptor = AuthInterceptor(key, {})
    token = create_token(key, "alice@pool", ["read"], HOUR, now=NOW)
    metadata = bearer(token)
    assert interceptor.authenticate(metadata, now=NOW).name == "alice@pool"
    assert interceptor.authenticate(metadata, now=NOW + 10).name == "alice@pool"
    with pytest.raises(AuthError, match="expired"):
        interceptor.authenticate(metadata, now=NOW + HOUR)


def test_interceptor_refuses_an_unknown_scope_in_its_table(key):
    with pytest.raises(ValueError, match="unknown scope 'write'"):
        AuthInterceptor(key, {"/roost.rpc.Collector/Advertise": "write"})


def test_current_identity_outside_a_call_and_acting_as():
    with pytest.raises(RuntimeError, match="only while a servicer"):
        current_identity()
    alice = Identity("alice@pool", frozenset({"read"}), NOW, "id")
    with security.acting_as(alice):
        assert current_identity() is alice
    with pytest.raises(RuntimeError):
        current_identity()


def test_describe_rpc_error(echo):
    key, channel, address = echo
    token = create_token(key, "alice@pool", ["read"], HOUR)
    with pytest.raises(grpc.RpcError) as refused:
        call(channel, "Unary", bearer(token))
    assert security.describe_rpc_error(refused.value, "collector", address) == (
        f"permission denied by the collector at {address}: "
        "identity alice@pool lacks scope advertise-startd for Echo/Unary"
    )
    with pytest.raises(grpc.RpcError) as refused:
        call(channel, "Unary")
    assert security.describe_rpc_error(refused.value, "collector", address) == (
        f"the collector at {address} did not accept the token: "
        "no token: the call has no 'authorization: Bearer' metadata"
    )

    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    with grpc.insecure_channel(closed) as nowhere, pytest.raises(grpc.RpcError) as refused:
        call(nowhere, "Unary", bearer(token))
    assert security.describe_rpc_error(refused.value, "collector", closed) == (
        f"cannot reach the collector at {closed} (is the pool up?)"
    )


# -- TLS ---------------------------------------------------------------------------------


def test_tls_channel_with_a_token_and_no_plaintext(tmp_path, key, make_certificates):
    ca_pem, key_pem, cert_pem = make_certificates(tmp_path)
    server, port = start_server(key, security.server_credentials(key_pem, cert_pem))
    address = f"127.0.0.1:{port}"
    token = create_token(key, "startd@node1", ["advertise-startd"], HOUR)
    try:
        assert security.channel_credentials(None) is None
        with grpc.secure_channel(address, security.channel_credentials(ca_pem)) as channel:
            for kind in KINDS:
                assert call(channel, kind, bearer(token)) == EXPECTED[kind]
        with grpc.insecure_channel(address) as plaintext, pytest.raises(grpc.RpcError) as refused:
            call(plaintext, "Unary", bearer(token))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        # A client that trusts another CA is told the handshake failed, and why.
        (tmp_path / "other").mkdir()
        other_ca = security.channel_credentials(make_certificates(tmp_path / "other")[0])
        with (
            grpc.secure_channel(address, other_ca) as channel,
            pytest.raises(grpc.RpcError) as refused,
        ):
            call(channel, "Unary", bearer(token))
        assert security.describe_rpc_error(refused.value, "collector", address) == (
            f"TLS handshake with the collector at {address} failed: "
            "CERTIFICATE_VERIFY_FAILED: unable to get local issuer certificate"
        )
    finally:
        server.stop(None)


# -- roost token -------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    return home


def test_token_create_prints_a_token_signed_by_the_pool_key(home, capsys):
    key = SigningKey.load_or_create(security.key_path(home))
    argv = ["create", "--identity", "startd@node1", "--scope", "advertise-startd"]
    assert token_cli.main([*argv, "--scope", "read", "--lifetime", "2"]) == 0
    identity = verify_token(key, capsys.readouterr().out.strip())
    assert identity.name == "startd@node1"
    assert identity.scopes == {"advertise-startd", "read"}
    assert abs(identity.expires - (time.time() + 2 * 24 * HOUR)) < 60


def test_token_create_out_writes_a_private_file(home, tmp_path, capsys):
    key = SigningKey.load_or_create(security.key_path(home))
    out = tmp_path / "startd.token"
    argv = ["create", "--identity", "startd@node1", "--scope", "admin", "--out", str(out)]
    assert token_cli.main(argv) == 0
    assert mode(out) == 0o600
    assert verify_token(key, security.load_token(out)).scopes == {"admin"}
    assert capsys.readouterr().out.startswith("wrote a token for startd@node1 (admin), expiring ")


def test_token_create_needs_the_key(home, monkeypatch, capsys):
    argv = ["token", "create", "--identity", "alice@pool", "--scope", "read"]
    path = security.key_path(home)
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (
        f"roost: no signing key at {path} (the pool makes it when it first starts)\n"
    )
    SigningKey.load_or_create(path)

    def unreadable(cls, path):
        # What open() raises for a user other than the key's owner (root reads anything,
        # so chmod cannot show it in a test that may run as root).
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(SigningKey, "load", classmethod(unreadable))
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (
        f"roost: only a pool administrator can create or revoke tokens: cannot read {path}\n"
    )


def test_token_create_unknown_scope_is_a_usage_error(home, capsys):
    SigningKey.load_or_create(security.key_path(home))
    assert cli.main(["token", "create", "--identity", "a@pool", "--scope", "root"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("roost: unknown scope 'root' (known: read, submit, ")
    assert err.count("\n") == 1
    assert cli.main(["token", "create", "--scope", "read"]) == 2
    assert "--identity" in capsys.readouterr().err
    argv = ["token", "create", "--identity", "a@pool", "--scope", "read", "--lifetime", "-1"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == (
        "roost: --lifetime must be more than 0 and at most 36500 days "
        "(see 'roost token create --help')\n"
    )
    assert token_cli.MAX_LIFETIME_DAYS * token_cli.SECONDS_PER_DAY == security.MAX_LIFETIME


def test_token_create_out_writes_a_join_file(home, tmp_path, capsys):
    key = SigningKey.load_or_create(security.key_path(home))
    out = tmp_path / "desk1.token"
    assert token_cli.main(["create", "--identity", "startd@desk1", "--scope",
                           "advertise-startd", "--out", str(out)]) == 0
    assert "and the pool's public key to" in capsys.readouterr().out
    token, public = security.load_join_file(out)
    assert public == key.public and security.load_token(out) == token
    assert verify_token(public, token).name == "startd@desk1"
    assert mode(out) == 0o600
    assert token_cli.main(["show", str(out)]) == 0
    assert "identity:  startd@desk1" in capsys.readouterr().out


def test_token_show(home, tmp_path, capsys, monkeypatch):
    key = SigningKey.load_or_create(security.key_path(home))
    security.ensure_local_token(home, key, 10 * 24 * HOUR)
    assert token_cli.main(["show"]) == 0
    out = capsys.readouterr().out
    assert f"identity:  {security.local_token_path(home).stem}@pool\n" in out
    assert "scopes:    read submit admin\n" in out
    assert "(in 10 days)" in out
    public = security.public_key_path_of(security.key_path(home))
    assert f"signature: valid (signed by the pool key {public})" in out

    expired = create_token(key, "alice@pool", ["read"], HOUR, now=NOW)
    monkeypatch.setattr(sys, "stdin", io.StringIO(expired + "\n"))
    assert token_cli.main(["show", "-"]) == 0
    out = capsys.readouterr().out
    assert "expires:   2020-09-13T13:26:40Z (expired)\n" in out
    assert "signature: valid" in out

    foreign = tmp_path / "foreign.token"
    security.write_token(foreign, create_token(SigningKey.generate(), "x@y", ["read"], HOUR))
    assert token_cli.main(["show", str(foreign)]) == 0
    assert "signature: INVALID for the pool key" in capsys.readouterr().out

    public = security.public_key_path_of(security.key_path(home))
    public.unlink()
    assert token_cli.main(["show", str(foreign)]) == 0
    assert (f"signature: not checked (cannot read the pool's public key {public}: "
            in capsys.readouterr().out)


def test_token_help_is_instant(capsys):
    assert token_cli.main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: roost token")
    assert ", ".join(security.SCOPES) == token_cli.SCOPES_HELP
    script = textwrap.dedent(
        """
        import contextlib, io, sys
        from roost.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["token", "create", "--help"]) == 0
        print("grpc" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "False\n")


# -- job credentials ---------------------------------------------------------------------

GRANT = security.JobGrant("12.0", run=3, workflow=10)


def test_job_token_round_trip(key):
    job_key = SigningKey.generate()
    token = security.create_job_token(job_key, "alice", GRANT, HOUR, now=NOW)
    identity = verify_token(key, token, NOW + 1, job_key=job_key)
    assert identity.name == "alice@job"
    assert identity.scopes == frozenset({"read", "submit"})
    assert identity.job == GRANT
    assert not identity.allows("admin")
    assert parts(token)[0]["kid"] == "JOB"


def test_a_job_token_is_refused_without_its_key_and_by_the_pool_key(key):
    job_key = SigningKey.generate()
    token = security.create_job_token(job_key, "alice", GRANT, HOUR, now=NOW)
    with pytest.raises(AuthError, match="taken only by the schedd") as refused:
        verify_token(key, token, NOW)
    assert refused.value.code == "bad-signature"
    with pytest.raises(AuthError, match="does not match the schedd's job key"):
        verify_token(key, token, NOW, job_key=SigningKey.generate())
    # A pool token is not taken for a job's, nor the other way round.
    with pytest.raises(AuthError, match="pool's signing key"):
        verify_token(job_key, create_token(key, "alice@pool", ["submit"], HOUR, now=NOW), NOW,
                     job_key=job_key)


def test_a_job_token_without_its_grant_is_malformed(key):
    token = security.create_job_token(key, "alice", GRANT, HOUR, now=NOW)
    body = parts(token)[1]
    del body["run"]
    signed = jwt.encode(body, key._private, algorithm="EdDSA", headers={"kid": "JOB"})
    with pytest.raises(AuthError, match="malformed job credential") as refused:
        verify_token(key, signed, NOW, job_key=key)
    assert refused.value.code == "malformed"


def test_job_token_owner_must_be_a_user_name(key):
    for owner in ("", "a b", "alice@pool"):
        with pytest.raises(ValueError, match="a job's owner is a user name"):
            security.create_job_token(key, owner, GRANT, HOUR)


def test_interceptor_takes_job_tokens_only_with_their_key(key):
    job_key = SigningKey.generate()
    token = security.create_job_token(job_key, "alice", GRANT, HOUR)
    assert AuthInterceptor(key, {}, job_key=job_key).authenticate(bearer(token)).job == GRANT
    pool_token = create_token(key, "a@pool", ["read"], HOUR)
    assert AuthInterceptor(key, {}, job_key=job_key).authenticate(bearer(pool_token)).job \
        is None
    with pytest.raises(AuthError, match="taken only by the schedd"):
        AuthInterceptor(key, {}).authenticate(bearer(token))
