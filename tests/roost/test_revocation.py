"""``roost.revocation``: the list of revoked tokens on the central manager, the copies the
daemons keep, and the interceptor refusing what they name."""

from __future__ import annotations

import pytest

from roost import revocation, security
from roost.errors import RoostError
from roost.revocation import FileWatch, Revoked

NOW = 1_700_000_000.0
HOUR = 3600.0


def test_revoked_ids_are_listed_until_their_tokens_expire(tmp_path):
    path = revocation.revocation_path(tmp_path / "home")
    assert path == tmp_path / "home" / "keys" / "revoked"
    assert revocation.read_list(path) == {}
    assert revocation.revoke(path, "a1", NOW + HOUR, now=NOW)
    assert not revocation.revoke(path, "a1", NOW + HOUR, now=NOW), "listed already"
    assert revocation.revoke(path, "b2", NOW + 2 * HOUR, now=NOW)
    assert revocation.read_list(path, now=NOW) == {"a1": NOW + HOUR, "b2": NOW + 2 * HOUR}
    # An entry whose token has expired needs no revoking: it is dropped at the next write.
    assert revocation.read_list(path, now=NOW + HOUR) == {"b2": NOW + 2 * HOUR}
    revocation.revoke(path, "c3", NOW + 3 * HOUR, now=NOW + HOUR)
    assert "a1" not in path.read_text() and "b2" in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["revoked", "revoked.lock"]
    with pytest.raises(ValueError, match="no spaces"):
        revocation.revoke(path, "a b", NOW, now=NOW)


def test_a_damaged_list_is_one_line_naming_the_file_and_line(tmp_path):
    path = tmp_path / "revoked"
    path.write_text("# comment\nok 9999999999\nbad line-here\n")
    with pytest.raises(RoostError) as refused:
        revocation.read_list(path)
    assert str(refused.value) == f"{path}:3: not 'ID EXPIRY'"


def test_the_watch_reads_the_file_when_it_changes_and_no_more_than_it_must(tmp_path):
    path = tmp_path / "revoked"
    now = [0.0]
    changes = []
    revoked = Revoked()
    watch = FileWatch(path, revoked, on_change=lambda: changes.append(sorted(revoked.ids)),
                      every=1.0, clock=lambda: now[0])
    assert "x" not in watch and changes == []
    revocation.revoke(path, "x", 2e9)
    assert "x" not in watch, "looked at less than a second ago"
    now[0] = 1.5
    assert "x" in watch and changes == [["x"]]
    now[0] = 3.0
    assert "x" in watch and changes == [["x"]], "unchanged: not read again"
    path.write_text("bad line-here\n")
    now[0] = 5.0
    assert "x" in watch, "a damaged list revokes nothing anew and forgets nothing"


def test_the_interceptor_refuses_a_revoked_token_at_every_call():
    key = security.SigningKey.generate()
    token = security.create_token(key, "alice@pool", ["read"], HOUR)
    revoked = Revoked()
    interceptor = security.AuthInterceptor(key.public, {}, revoked=revoked)
    metadata = security.call_metadata(token)
    assert interceptor.authenticate(metadata).name == "alice@pool"
    revoked.replace({security.decode_token(token).token_id})
    with pytest.raises(security.AuthError) as refused:
        interceptor.authenticate(metadata)  # verified before, and cached: refused all the same
    assert refused.value.code == "revoked"
    assert str(refused.value) == f"token {security.decode_token(token).token_id} was revoked"
