"""The accountant: user priorities with a fake clock, and its store on a real SQLite file."""

import math
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchmaker.accountant import MIN_PRIORITY, Account, Accountant
from matchmaker.accountant_store import AccountantStore, default_url

DAY = 86400.0
T0 = 1_700_000_000.0


@pytest.fixture
def acct():
    accountant = Accountant(now=T0)
    yield accountant
    accountant.validate()


def test_a_new_submitter_starts_at_the_minimum_with_the_default_factor(acct):
    assert acct.account("alice@pool") == Account(
        name="alice@pool", real_priority=0.5, factor=1000.0, effective_priority=500.0,
        resources_in_use=0.0, weighted_hours=0.0, begin_usage=None, last_usage=None,
    )
    assert acct.effective_priority("alice@pool") == 500.0
    assert "alice@pool" not in acct and acct.accounts() == []

    acct.update({"alice@pool": 4}, now=T0 + 60)
    alice = acct.account("alice@pool")
    assert alice.resources_in_use == 4
    beta = 0.5 ** (60 / DAY)
    assert alice.real_priority == pytest.approx(0.5 * beta + 4 * (1 - beta))
    assert alice.weighted_hours == 0  # nothing was held before this update
    assert alice.begin_usage == alice.last_usage == T0 + 60
    assert [account.name for account in acct.accounts()] == ["alice@pool"]


def test_priority_halves_after_one_half_life_without_usage(acct):
    acct.set_priority("alice@pool", 100.0)
    acct.update({}, now=T0 + DAY)
    assert acct.account("alice@pool").real_priority == 50.0
    acct.update({}, now=T0 + 3 * DAY)
    assert acct.account("alice@pool").real_priority == 12.5


def test_half_life_is_configurable():
    acct = Accountant(half_life=3600.0, now=0.0)
    acct.set_priority("alice@pool", 8.0)
    acct.update({}, now=7200.0)
    assert acct.account("alice@pool").real_priority == 2.0


def test_steady_usage_approaches_the_cores_in_use(acct):
    now = T0
    for _ in range(30 * 24):  # a month of hourly cycles holding 16 cores
        now += 3600
        acct.update({"alice@pool": 16}, now)
    assert acct.account("alice@pool").real_priority == pytest.approx(16, rel=1e-6)
    assert acct.account("alice@pool").real_priority <= 16


def test_priority_never_goes_below_the_minimum(acct):
    acct.set_priority("alice@pool", 0.75)
    acct.set_factor("alice@pool", 10)  # keeps the record
    acct.update({}, now=T0 + DAY)
    assert acct.account("alice@pool").real_priority == MIN_PRIORITY
    acct.update({}, now=T0 + 100 * DAY)
    assert acct.account("alice@pool").real_priority == MIN_PRIORITY
    with pytest.raises(ValueError):
        acct.set_priority("alice@pool", 0.4)


def test_equal_usage_with_factors_1000_and_2000_differs_twofold(acct):
    acct.set_factor("bob@pool", 2000)
    now = T0
    for _ in range(48):
        now += 1800
        acct.update({"alice@pool": 8, "bob@pool": 8}, now)
    alice, bob = acct.account("alice@pool"), acct.account("bob@pool")
    assert alice.real_priority == bob.real_priority
    assert bob.effective_priority == pytest.approx(2 * alice.effective_priority)
    assert alice.effective_priority == alice.real_priority * 1000
    assert [account.name for account in acct.accounts()] == ["alice@pool", "bob@pool"]


def test_accounts_are_ordered_by_effective_priority_then_name(acct):
    acct.update({"carol@pool": 1, "alice@pool": 2, "bob@pool": 2, "dave@pool": 0}, now=T0 + 1)
    acct.update({"carol@pool": 1, "alice@pool": 2, "bob@pool": 2}, now=T0 + DAY)
    acct.set_factor("carol@pool", 5000)
    names = [account.name for account in acct.accounts()]
    # dave had nothing at all: his record went at the second update.
    assert names == ["alice@pool", "bob@pool", "carol@pool"]
    eups = [account.effective_priority for account in acct.accounts()]
    assert eups == sorted(eups)
    assert acct.effective_priority("alice@pool") < acct.effective_priority("carol@pool")


def test_weighted_hours_charge_what_was_held_during_the_interval(acct):
    acct.update({"alice@pool": 4}, now=T0)  # now == last: records what is in use only
    assert acct.account("alice@pool").weighted_hours == 0
    acct.update({"alice@pool": 2}, now=T0 + 3600)  # 4 cores for an hour
    assert acct.account("alice@pool").weighted_hours == 4.0
    acct.update({}, now=T0 + 3600 + 1800)  # 2 cores for half an hour
    alice = acct.account("alice@pool")
    assert alice.weighted_hours == 5.0
    assert alice.resources_in_use == 0
    assert alice.begin_usage == T0 + 3600 and alice.last_usage == T0 + 5400
    acct.update({}, now=T0 + 2 * DAY)
    alice = acct.account("alice@pool")
    assert alice.weighted_hours == 5.0 and alice.last_usage == T0 + 5400  # kept


def test_an_update_without_time_passing_only_records_use(acct):
    acct.set_priority("alice@pool", 10.0)
    acct.update({"alice@pool": 3}, now=T0)
    assert acct.account("alice@pool").real_priority == 10.0
    acct.update({"alice@pool": 3}, now=T0 - 600)  # the clock went back: no charge
    assert acct.account("alice@pool").weighted_hours == 0
    assert acct.last_update == T0 - 600
    acct.update({"alice@pool": 3}, now=T0 + 3000)  # charged from where the clock went
    assert acct.account("alice@pool").weighted_hours == 3.0


def test_set_factor_set_priority_reset_usage(acct):
    acct.update({"alice@pool": 4}, now=T0)
    acct.update({"alice@pool": 4}, now=T0 + DAY)
    acct.set_factor("alice@pool", 1)
    acct.set_priority("alice@pool", 7.5)
    alice = acct.account("alice@pool")
    assert (alice.factor, alice.real_priority, alice.effective_priority) == (1.0, 7.5, 7.5)
    for bad in (0.5, 0, -3, math.nan, math.inf):
        with pytest.raises(ValueError):
            acct.set_factor("alice@pool", bad)
    assert acct.account("alice@pool").factor == 1.0
    acct.reset_usage("alice@pool")
    alice = acct.account("alice@pool")
    assert alice.real_priority == 0.5 and alice.weighted_hours == 0 and alice.begin_usage is None
    assert alice.factor == 1.0 and alice.resources_in_use == 4  # the rest stays
    acct.reset_usage("nobody@pool")
    assert "nobody@pool" not in acct


def test_floor_ceiling_and_delete(acct):
    acct.set_floor("alice@pool", 2)
    acct.set_ceiling("alice@pool", 64)
    acct.update({}, now=T0 + DAY)  # a floor or a ceiling keeps a record
    alice = acct.account("alice@pool")
    assert (alice.floor, alice.ceiling) == (2.0, 64.0)
    with pytest.raises(ValueError):
        acct.set_ceiling("alice@pool", -1)
    acct.delete("alice@pool")
    acct.delete("alice@pool")
    assert "alice@pool" not in acct and acct.account("alice@pool").floor == 0


def test_an_unset_factor_follows_the_configured_default():
    acct = Accountant(default_factor=100.0, now=T0)
    acct.update({"alice@pool": 1}, now=T0 + 1)
    assert acct.account("alice@pool").factor == 100.0
    changed = Accountant.restore(acct.snapshot(), default_factor=10.0)
    assert changed.account("alice@pool").factor == 10.0
    with pytest.raises(ValueError):
        Accountant(default_factor=0.5, now=T0)


def test_bad_updates_change_nothing(acct):
    acct.update({"alice@pool": 2}, now=T0)
    for bad in ({"bob@pool": -1}, {"bob@pool": math.nan}, {"": 1}):
        with pytest.raises(ValueError):
            acct.update({"alice@pool": 8, **bad}, now=T0 + 60)
    assert acct.account("alice@pool").resources_in_use == 2 and acct.last_update == T0


def test_snapshot_round_trip(acct):
    acct.update({"alice@pool": 4, "group_a.bob@pool": 1.5}, now=T0)
    acct.update({"alice@pool": 4}, now=T0 + 5000)
    acct.set_factor("group_a.bob@pool", 3)
    acct.set_floor("alice@pool", 1)
    copy = Accountant.restore(acct.snapshot())
    assert copy.accounts() == acct.accounts()
    assert copy.last_update == acct.last_update


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.floats(min_value=0, max_value=10 * DAY),
    st.dictionaries(st.sampled_from(["a@p", "b@p", "c@p"]), st.floats(min_value=0, max_value=1e4)),
), max_size=30))
def test_priority_stays_between_the_minimum_and_the_most_used(steps):
    acct = Accountant(half_life=3600.0, now=0.0)
    now, most = 0.0, {}
    for step, in_use in steps:
        now += step
        acct.update(in_use, now)
        for name, used in in_use.items():
            most[name] = max(most.get(name, 0.0), used)
        for account in acct.accounts():
            assert MIN_PRIORITY <= account.real_priority <= max(MIN_PRIORITY, most[account.name])
        acct.validate()


# -- the store ----------------------------------------------------------------------------


def test_default_url_makes_the_directory(tmp_path):
    url = default_url(tmp_path / "home")
    assert url == f"sqlite:///{tmp_path / 'home' / 'matchmaker' / 'accountant.db'}"
    assert (tmp_path / "home" / "matchmaker").is_dir()


def test_save_and_load_keep_everything(tmp_path):
    acct = Accountant(now=T0)
    acct.update({"alice@pool": 4, "group_a.bob@pool": 1.5, "carol@pool": 0}, now=T0)
    acct.update({"alice@pool": 4, "group_a.bob@pool": 0.25}, now=T0 + 7777.5)
    acct.set_factor("group_a.bob@pool", 1234.5)
    acct.set_floor("alice@pool", 2)
    acct.set_ceiling("alice@pool", 32)
    acct.set_priority("dave@pool", 3.25)
    url = default_url(tmp_path)
    store = AccountantStore(url)
    store.save(acct)
    store.save(acct)  # a second save replaces the first
    store.close()

    loaded = AccountantStore(url).load(now=acct.last_update)
    loaded.validate()
    assert loaded.accounts() == acct.accounts()
    assert loaded.last_update == acct.last_update
    assert loaded.snapshot() == acct.snapshot()

    # The table is plain SQL for anyone who looks, in WAL mode.
    with sqlite3.connect(tmp_path / "matchmaker" / "accountant.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # carol, with nothing ever in use and not named at the last update, has no record.
        names = {name for (name,) in db.execute("SELECT name FROM accounts")}
        assert names == {"alice@pool", "group_a.bob@pool", "dave@pool"}


def test_load_ages_the_records_over_the_downtime(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    acct = Accountant(now=T0)
    acct.update({"alice@pool": 2}, now=T0)
    acct.set_priority("alice@pool", 10.0)
    AccountantStore(url).save(acct)
    acct.update({"alice@pool": 2}, now=T0 + DAY)  # what staying up would have given
    loaded = AccountantStore(url).load(now=T0 + DAY)
    assert loaded.accounts() == acct.accounts()
    assert loaded.account("alice@pool").weighted_hours == 48.0


def test_load_of_an_empty_store_and_a_save_of_nothing(tmp_path):
    store = AccountantStore(f"sqlite:///{tmp_path / 'a.db'}")
    loaded = store.load(now=T0, half_life=600.0, default_factor=10.0)
    assert (loaded.last_update, loaded.half_life, loaded.default_factor) == (T0, 600.0, 10.0)
    acct = Accountant(now=T0)
    acct.set_factor("alice@pool", 2)
    store.save(acct)
    acct.delete("alice@pool")
    store.save(acct)
    assert store.load(now=T0).accounts() == []
