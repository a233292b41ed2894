"""The collector over real gRPC on 127.0.0.1: round trips, permissions, bad input."""

from concurrent import futures

import grpc
import pytest

import classad
from classad import ClassAd
from matchmaker.collector import AdStore
from matchmaker.collector_service import METHOD_SCOPES, CollectorService, add_to_server
from roost import security
from roost.client import Collector
from roost.config import load_config
from roost.daemon import Daemon
from roost.errors import RoostError


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def pool(tmp_path):
    """A collector on a free port, its signing key, and a way to make clients."""
    key = security.SigningKey.load_or_create(tmp_path / "pool.key")
    clock = Clock()
    service = CollectorService(AdStore(default_lifetime=300), max_ad_bytes=4096, clock=clock)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         interceptors=[security.AuthInterceptor(key, METHOD_SCOPES)])
    add_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    config = load_config(env={"ROOST_HOME": str(tmp_path)})

    def client(identity="alice@pool", scopes=("read",), lifetime=3600.0, token=None):
        token = token or security.create_token(key, identity, scopes, lifetime)
        return Collector(f"127.0.0.1:{port}", token, config=config, timeout=5)

    yield key, service, clock, client
    server.stop(None)


def slot(name, **attrs):
    return ClassAd({"Name": name, "OpSys": "LINUX", "Arch": "X86_64", "Memory": 2048,
                    "State": "Unclaimed", **attrs})


def test_advertise_query_round_trip(pool):
    _, _, _, client = pool
    startd = client("startd@node1", ["advertise-startd"])
    assert startd.advertise([slot(f"slot{i}@node1", Cpus=i) for i in range(1, 4)]) == 3
    reader = client()
    ads = reader.query("Machine")
    assert sorted(ad["Name"] for ad in ads) == ["slot1@node1", "slot2@node1", "slot3@node1"]
    assert ads[0]["AuthenticatedIdentity"] == "startd@node1"
    assert [ad["Name"] for ad in reader.query("Machine", "Cpus >= 3")] == ["slot3@node1"]
    (projected,) = reader.query("Machine", "Cpus == 2", projection=["Name", "memory"])
    assert dict(projected) == {"Name": "slot2@node1", "Memory": 2048}
    assert len(reader.query("Machine", limit=2)) == 2
    assert reader.query("Scheduler") == []


def test_a_new_unclaimed_slot_is_announced(pool):
    _, service, _, client = pool
    appeared = []
    service.on_new_slot = lambda: appeared.append(1)
    startd = client("startd@node1", ["advertise-startd"])
    startd.advertise([slot("slot1@node1"), slot("slot1_1@node1", State="Claimed")])
    assert appeared == [1]  # the claimed dynamic slot offers nothing new
    startd.advertise([slot("slot1@node1", Cpus=2)])  # an update of a known slot
    assert appeared == [1]


def test_expressions_survive_the_wire(pool):
    _, _, _, client = pool
    ad = slot("slot1@node1", Requirements=classad.ExprTree('START && TARGET.Owner != "x\\\\y"'),
              START=True, Quoted='a"b\\c', Nested={"x": [1, 2.5, "s"]})
    client("startd@node1", ["advertise-startd"]).advertise([ad])
    (back,) = client().query("Machine")
    for name in ("Requirements", "START", "Quoted", "Nested"):
        assert back.lookup(name) == ad.lookup(name)


def test_private_attributes_only_for_the_negotiator(pool):
    _, _, _, client = pool
    client("startd@node1", ["advertise-startd"]).advertise(
        [slot("slot1@node1")], private=[ClassAd({"ClaimId": "secret-claim"})])
    (public,) = client().query("Machine")
    assert "ClaimId" not in public
    (private,) = client("negotiator@cm", ["negotiate"]).query("Machine", include_private=True)
    assert private["ClaimId"] == "secret-claim"
    with pytest.raises(RoostError, match="negotiate"):
        client().query("Machine", include_private=True)


def test_expiry_and_invalidation(pool):
    _, service, clock, client = pool
    startd = client("startd@node1", ["advertise-startd"])
    startd.advertise([slot("slot1@node1"), slot("slot2@node1", ClassAdLifetime=30)])
    clock.now += 31
    service.housekeep()
    assert [ad["Name"] for ad in client().query("Machine")] == ["slot1@node1"]
    assert startd.invalidate("Machine", names=["slot1@node1"]) == 1
    assert client().query("Machine") == []


@pytest.mark.parametrize("make_token, why", [
    (lambda key: "x", "malformed|not a token"),
    (lambda key: "not.a.token", "malformed|not a token"),
    (lambda key: security.create_token(security.SigningKey.generate(), "a@pool", ["read"], 60),
     "signature"),
    (lambda key: security.create_token(key, "a@pool", ["read"], -10), "expired"),
])
def test_bad_tokens_are_refused(pool, make_token, why):
    key, _, _, client = pool
    reader = client(token=make_token(key))
    with pytest.raises(RoostError, match="did not accept the token") as info:
        reader.query("Machine")
    assert any(w in str(info.value) for w in why.split("|")), str(info.value)


def test_machine_ads_need_a_startd_token_of_their_host(pool):
    _, _, _, client = pool
    with pytest.raises(RoostError, match="advertise-startd"):
        client("alice@pool", ["read", "submit"]).advertise([slot("slot1@node1")])
    with pytest.raises(RoostError, match="another host"):
        client("startd@node2", ["advertise-startd"]).advertise([slot("slot1@node1")])
    with pytest.raises(RoostError, match="advertise-schedd"):
        client("startd@node1", ["advertise-startd"]).advertise(
            [ClassAd({"Name": "schedd@node1"})], ad_type="Scheduler")
    client("startd@node1", ["advertise-startd"]).advertise([slot("slot1@node1")])
    with pytest.raises(RoostError, match="another host"):
        client("startd@node2", ["advertise-startd"]).invalidate("Machine", constraint="true")
    assert len(client().query("Machine")) == 1


def test_a_pilots_token_covers_its_own_startds_alone(pool):
    _, _, _, client = pool
    pilot = client("startd@glidein-ab12-*", ["advertise-startd"])
    pilot.advertise([slot("slot1@glidein-ab12-7.node1"), slot("slot1@glidein-ab12-7.node2")])
    for other in ("slot1@glidein-ab13-7.node1", "slot1@node1", "slot1@glidein-ab12-"):
        with pytest.raises(RoostError, match="another host"):
            pilot.advertise([slot(other)])
    with pytest.raises(RoostError, match="another host"):
        client("startd@*", ["advertise-startd"]).advertise([slot("slot1@node1")])
    assert len(client().query("Machine")) == 2


def test_bad_input_is_refused_without_losing_the_rest(pool):
    _, _, _, client = pool
    startd = client("startd@node1", ["advertise-startd"])
    big = slot("slot9@node1", Blob="x" * 10_000)
    with pytest.raises(RoostError, match="over the limit"):
        startd.advertise([slot("slot1@node1"), big, slot("slot2@node1")])
    assert len(client().query("Machine")) == 2
    with pytest.raises(RoostError, match=r"constraint:1:\d+"):
        client().query("Machine", "Memory >")
    with pytest.raises(RoostError, match="Name"):
        startd.advertise([ClassAd({"Memory": 1})])


def test_tls_when_configured(tmp_path, make_certificates):
    ca_pem, key_pem, cert_pem = make_certificates(tmp_path)
    for name, data in (("ca.pem", ca_pem), ("server.key", key_pem), ("server.pem", cert_pem)):
        (tmp_path / name).write_bytes(data)
    env = {"ROOST_HOME": str(tmp_path), "ROOST_TLS_CA": str(tmp_path / "ca.pem"),
           "ROOST_TLS_KEY": str(tmp_path / "server.key"),
           "ROOST_TLS_CERT": str(tmp_path / "server.pem")}
    config = load_config(env=env)
    key = security.SigningKey.load_or_create(tmp_path / "pool.key")
    daemon = Daemon("matchmaker", config)
    service = CollectorService(AdStore())
    port = daemon.start_server(lambda server: add_to_server(service, server), "127.0.0.1:0",
                               interceptors=[security.AuthInterceptor(key, METHOD_SCOPES)])
    try:
        address = f"127.0.0.1:{port}"
        token = security.create_token(key, "startd@node1", ["advertise-startd"], 600)
        assert Collector(address, token, config=config).advertise([slot("slot1@node1")]) == 1
        plain = load_config(env={"ROOST_HOME": str(tmp_path)})
        with pytest.raises(RoostError):
            Collector(address, token, config=plain, timeout=2).query("Machine")
    finally:
        daemon.stop(grace=0)
        daemon.run()


def test_the_collector_ad_sums_up_the_pool(pool):
    _, service, _, client = pool
    client("startd@node1", ["advertise-startd"]).advertise(
        [slot("slot1@node1", Machine="node1"), slot("slot2@node1", Machine="node1")])
    client("startd@node2", ["advertise-startd"]).advertise([slot("slot1@node2", Machine="node2")])
    client("schedd@sub", ["advertise-schedd"]).advertise(
        [ClassAd({"Name": "alice@pool", "RunningJobs": 3, "IdleJobs": 5, "HeldJobs": 1}),
         ClassAd({"Name": "bob@pool", "RunningJobs": 1, "IdleJobs": 0, "HeldJobs": 0})],
        ad_type="Submitter")
    service.advertise_self("collector@cm", "cm", "127.0.0.1:9618")
    (ad,) = client().query("Collector")
    assert (ad["HostsTotal"], ad["RunningJobs"], ad["IdleJobs"], ad["HeldJobs"]) == (2, 4, 5, 1)
    assert (ad["NumMachineAds"], ad["NumSubmitterAds"], ad["Machine"]) == (3, 2, "cm")
