"""The collector's broker (matchmaker.broker): its registrations, and the service over a
real gRPC server with tokens: dial-backs, registrations only for the startd's own host,
connection requests passed down, heartbeats, the newest registration winning."""

from __future__ import annotations

import socket

import grpc
import pytest

from matchmaker.broker import METHOD_SCOPES, BrokerService, Registry
from roost import security
from roost.client import Broker
from roost.config import load_config
from roost.daemon import create_server
from roost.errors import RoostError
from roost.rpc import collector_pb2_grpc


def test_the_newest_registration_wins_and_an_old_one_leaving_does_not_remove_it():
    registry = Registry()
    first, replaced = registry.register("desk1", "startd@desk1")
    assert replaced is None and registry.find("DESK1") is first
    second, replaced = registry.register("desk1", "startd@desk1")
    assert replaced is first and registry.find("desk1") is second
    registry.drop(first)
    assert registry.find("desk1") is second
    registry.drop(second)
    assert registry.find("desk1") is None and len(registry) == 0


class Collector:
    def __init__(self, tmp_path, **options) -> None:
        self.key = security.SigningKey.load_or_create(tmp_path / "pool.key")
        self.service = BrokerService(**options)
        self.server, port = create_server(
            "127.0.0.1:0", interceptors=[security.AuthInterceptor(self.key, METHOD_SCOPES)])
        collector_pb2_grpc.add_BrokerServicer_to_server(self.service, self.server)
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        self.config = load_config(env={"ROOST_HOME": str(tmp_path)})

    def client(self, identity: str, scope: str) -> Broker:
        token = security.daemon_token(self.key, identity, [scope], 600)
        return Broker(self.address, token, config=self.config, timeout=10)


@pytest.fixture
def collector(tmp_path):
    collector = Collector(tmp_path, heartbeat=0.2)
    yield collector
    collector.server.stop(None)


def test_dial_back_says_whether_the_collector_can_connect(collector):
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        with collector.client("startd@desk1", "advertise-startd") as broker:
            assert broker.dial_back(f"127.0.0.1:{port}") == (True, "")
    with collector.client("startd@desk1", "advertise-startd") as broker:
        reachable, why = broker.dial_back(f"127.0.0.1:{port}")  # closed now
        assert not reachable and why.startswith(f"cannot connect to 127.0.0.1:{port}: ")
        with pytest.raises(RoostError, match="expected HOST:PORT"):
            broker.dial_back("nonsense")


def test_a_registered_startd_hears_the_schedds_requests_and_heartbeats(collector):
    with collector.client("startd@desk1", "advertise-startd") as startd:
        stream = startd.register("desk1")
        assert next(stream).WhichOneof("body") == "registered"
        with collector.client("schedd@cm", "advertise-schedd") as schedd:
            schedd.connect("desk1", "10.77.0.1:4000", "1.secret")
        message = next(stream)
        while message.WhichOneof("body") == "heartbeat":
            message = next(stream)
        assert message.WhichOneof("body") == "connect"
        assert (message.connect.schedd_address, message.connect.nonce) == (
            "10.77.0.1:4000", "1.secret")
        assert next(stream).WhichOneof("body") == "heartbeat"  # quiet: 0.2 s later
        # Registering again (a restarted startd) ends the first stream.
        again = startd.register("desk1")
        assert next(again).WhichOneof("body") == "registered"
        rest = [m.WhichOneof("body") for m in stream]  # it ends
        assert set(rest) <= {"heartbeat"}, rest
        again.cancel()


def test_a_startd_registers_only_its_own_host(collector):
    with (collector.client("startd@desk1", "advertise-startd") as startd,
          pytest.raises(grpc.RpcError) as refused):
        next(startd.register("desk2"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may not advertise slot broker@desk2 of another host" in refused.value.details()


def test_connect_needs_a_schedd_and_a_registered_startd(collector):
    with (collector.client("schedd@cm", "advertise-schedd") as schedd,
          pytest.raises(RoostError, match="no startd desk9 is registered with the broker")):
        schedd.connect("desk9", "10.77.0.1:4000", "1.secret")
    with (collector.client("startd@desk1", "advertise-startd") as startd,
          pytest.raises(RoostError, match="lacks scope advertise-schedd")):
        startd.connect("desk1", "10.77.0.1:4000", "1.secret")


def test_the_broker_serves_a_bounded_number_of_startds(tmp_path):
    collector = Collector(tmp_path, max_streams=1)
    try:
        with collector.client("startd@desk1", "advertise-startd") as one, \
                collector.client("startd@desk2", "advertise-startd") as two:
            first = one.register("desk1")
            assert next(first).WhichOneof("body") == "registered"
            with pytest.raises(grpc.RpcError) as refused:
                next(two.register("desk2"))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            first.cancel()
    finally:
        collector.server.stop(None)
