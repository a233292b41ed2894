"""The schedd's end of the broker (schedd.reverse): connections waiting for their startd
by nonce (a pure core with a fake clock), and a call that goes through a loopback
listener to a server that a startd's link (startd.broker) carries to."""

from __future__ import annotations

import itertools
import logging
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from roost.config import load_config
from roost.daemon import create_server
from roost.errors import RoostError
from roost.rpc import collector_pb2, schedd_pb2, schedd_pb2_grpc
from schedd.reverse import PendingConnections, Rendezvous
from startd.broker import BrokerLink

BROKER = "broker://127.0.0.1:1/desk1"


def pending(timeout: float = 10.0) -> PendingConnections:
    secrets = (f"secret{n}" for n in itertools.count())
    return PendingConnections(timeout, make_secret=lambda: next(secrets))


def test_a_connection_is_taken_once_by_its_nonce():
    waiting = pending()
    first = waiting.add("first", now=0.0)
    second = waiting.add("second", now=0.0)
    assert first != second and len(waiting) == 2
    assert waiting.take(second, now=1.0) == "second"
    assert waiting.take(second, now=1.0) is None  # used
    assert waiting.take(first, now=1.0) == "first"
    assert len(waiting) == 0


def test_a_wrong_secret_takes_nothing_and_leaves_the_connection_waiting():
    waiting = pending()
    nonce = waiting.add("conn", now=0.0)
    key = nonce.partition(".")[0]
    assert waiting.take(f"{key}.guess", now=0.0) is None
    assert waiting.take(key, now=0.0) is None
    assert waiting.take("", now=0.0) is None
    assert waiting.take(nonce, now=0.0) == "conn"


def test_a_late_startd_finds_nothing_and_the_connection_expires():
    waiting = pending(timeout=10.0)
    late = waiting.add("late", now=0.0)
    kept = waiting.add("kept", now=5.0)
    assert waiting.expire(now=10.0) == []
    assert waiting.expire(now=10.5) == ["late"]
    assert waiting.take(late, now=10.5) is None
    assert waiting.take(kept, now=16.0) is None  # past its deadline: not handed over
    assert len(waiting) == 0


def test_a_connection_given_up_is_dropped():
    waiting = pending()
    nonce = waiting.add("conn", now=0.0)
    assert waiting.drop(nonce) == "conn"
    assert waiting.drop(nonce) is None
    assert waiting.take(nonce, now=0.0) is None


class _Schedd(schedd_pb2_grpc.ScheddServicer):
    def __init__(self, rendezvous: Rendezvous) -> None:
        self.rendezvous = rendezvous

    def ReverseConnect(self, request_iterator, context):  # noqa: N802
        yield from self.rendezvous.serve(request_iterator, context)


@pytest.fixture
def through_the_broker(tmp_path):
    """A "startd" (a server with the health service), its link, and a schedd's rendezvous
    whose broker passes each request straight to the link; yields (rendezvous, asked)."""
    config = load_config(env={"ROOST_HOME": str(tmp_path)})
    startd, startd_port = create_server("127.0.0.1:0")
    startd.start()
    link = BrokerLink(None, "desk1", f"127.0.0.1:{startd_port}", address=BROKER,
                      config=config, log=logging.getLogger("test"))
    asked = []

    def connect(broker, schedd_address, nonce):
        asked.append((broker.broker_id, schedd_address))
        request = collector_pb2.BrokerConnectRequest(broker_id=broker.broker_id,
                                                     schedd_address=schedd_address,
                                                     nonce=nonce)
        threading.Thread(target=link._carry, args=(request,), daemon=True).start()

    rendezvous = Rendezvous(connect)
    schedd, schedd_port = create_server("127.0.0.1:0")
    schedd_pb2_grpc.add_ScheddServicer_to_server(_Schedd(rendezvous), schedd)
    schedd.start()
    rendezvous.address = f"127.0.0.1:{schedd_port}"
    yield rendezvous, asked
    rendezvous.stop()
    link.stop()
    schedd.stop(None)
    startd.stop(None)


def test_calls_to_a_broker_address_reach_the_startd_through_a_connection_it_opened(
        through_the_broker):
    rendezvous, asked = through_the_broker
    target = rendezvous.target(BROKER)
    assert target.startswith("127.0.0.1:") and rendezvous.target(BROKER) == target
    # Each channel a connection of its own: gRPC shares a connection between channels to
    # one target while it lasts, which would make the second channel's no new connection.
    own = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(target, options=own) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(3):  # one connection carries them all
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert asked == [("desk1", rendezvous.address)]
    # A second channel is a second connection, asked for again.
    with grpc.insecure_channel(target, options=own) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert len(asked) == 2


def test_a_startd_that_dials_in_with_a_wrong_nonce_is_refused(through_the_broker):
    rendezvous, _ = through_the_broker
    with grpc.insecure_channel(rendezvous.address) as channel:
        stub = schedd_pb2_grpc.ScheddStub(channel)
        replies = stub.ReverseConnect(iter([schedd_pb2.ReverseChunk(nonce="1.guess")]))
        with pytest.raises(grpc.RpcError) as refused:
            list(replies)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "no connection waits for that nonce" in refused.value.details()


def test_a_broker_that_cannot_be_asked_fails_the_connection_at_once(tmp_path):
    def connect(broker, schedd_address, nonce):
        raise RoostError("no startd desk1 is registered with the broker")

    rendezvous = Rendezvous(connect, address="127.0.0.1:1")
    try:
        with (grpc.insecure_channel(rendezvous.target(BROKER)) as channel,
              pytest.raises(grpc.RpcError) as failed):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                      timeout=5)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        rendezvous.stop()
