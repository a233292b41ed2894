"""The startd's end of the broker (startd.broker): whether it needs the broker, its
back-off, and its registration kept up against a real broker service: registered at
start, and again after the broker fell silent or went away and came back."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from matchmaker.broker import METHOD_SCOPES, BrokerService
from roost import security
from roost.client import Broker
from roost.config import load_config
from roost.daemon import create_server
from roost.errors import RoostError
from roost.rpc import collector_pb2_grpc
from startd.broker import Backoff, BrokerLink, needs_broker


def never(address):
    raise AssertionError("the collector should not be asked")


def unreachable(address):
    return False, "no answer from it within 3 s"


def reachable(address):
    return True, ""


def down(address):
    raise RoostError("cannot reach the collector's broker at cm:9618 (is the pool up?)")


@pytest.mark.parametrize(("ask", "address", "collector", "options", "brokered", "why"), [
    (never, "10.0.0.2:4000", "cm:9618", {"forced": True}, True, "told to"),
    (never, "nat.example.org:4000", "cm:9618", {"configured": True}, False,
     "advertise_address"),
    (never, "127.0.0.1:4000", "127.0.0.1:9618", {}, False, "on this host"),
    (never, "127.0.0.1:4000", "cm:9618", {}, True, "loopback address"),
    (unreachable, "10.0.0.2:4000", "cm:9618", {}, True,
     "the collector cannot dial 10.0.0.2:4000: no answer"),
    (reachable, "10.0.0.2:4000", "cm:9618", {}, False, "the collector can dial"),
    (down, "10.0.0.2:4000", "cm:9618", {}, True, "cannot be asked"),
])
def test_whether_a_startd_needs_the_broker(ask, address, collector, options, brokered, why):
    needed, reason = needs_broker(ask, address, collector=collector, **options)
    assert needed is brokered and why in reason


def test_backoff_doubles_to_its_most_and_starts_over_after_a_success():
    backoff = Backoff(first=0.5, most=3.0)
    assert [backoff.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.succeeded()
    assert backoff.failed() == 0.5


class Collector:
    """A broker service on a real server (which may be stopped and started again on its
    port)."""

    def __init__(self, tmp_path, heartbeat: float) -> None:
        self.key = security.SigningKey.load_or_create(tmp_path / "pool.key")
        self.heartbeat = heartbeat
        self.config = load_config(env={"ROOST_HOME": str(tmp_path)})
        self.address = "127.0.0.1:0"
        self.start()

    def start(self) -> None:
        self.service = BrokerService(heartbeat=self.heartbeat)
        self.server, port = create_server(
            self.address, interceptors=[security.AuthInterceptor(self.key, METHOD_SCOPES)])
        collector_pb2_grpc.add_BrokerServicer_to_server(self.service, self.server)
        self.server.start()
        self.address = f"127.0.0.1:{port}"

    def registration(self, broker_id: str):
        with self.service.lock:
            return self.service.registry.find(broker_id)

    def link(self, **options) -> BrokerLink:
        token = security.daemon_token(self.key, "startd@desk1", ["advertise-startd"], 600)
        return BrokerLink(lambda: Broker(self.address, token, config=self.config),
                          "desk1", "127.0.0.1:1", address=f"broker://{self.address}/desk1",
                          config=self.config, log=logging.getLogger("test"), **options)


def wait_until(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)
    return found


def test_a_link_registers_and_registers_again_when_the_broker_falls_silent(tmp_path):
    collector = Collector(tmp_path, heartbeat=60.0)  # no heartbeat within the test
    link = collector.link(silence=1.5)
    link.start()
    try:
        assert link.registered.wait(10)
        first = wait_until(lambda: collector.registration("desk1"), "registered")
        # Silent for longer than 1.5 s: the link takes the stream for dead and opens
        # another (whose registration replaces the first).
        second = wait_until(lambda: (found := collector.registration("desk1")) is not None
                            and found is not first and found, "registered again")
        assert second is not first
    finally:
        link.stop()
        collector.server.stop(None)
    wait_until(lambda: collector.registration("desk1") is None, "gone after stop")


def test_a_link_registers_again_after_the_broker_restarts(tmp_path):
    collector = Collector(tmp_path, heartbeat=0.5)
    link = collector.link()
    link.start()
    try:
        assert link.registered.wait(10)
        collector.server.stop(None).wait()
        wait_until(lambda: not link.registered.is_set(), "saw the broker go")
        collector.start()  # the same port
        assert link.registered.wait(10)
        assert collector.registration("desk1") is not None
    finally:
        link.stop()
        collector.server.stop(None)


def test_stopping_a_link_ends_its_registration(tmp_path):
    collector = Collector(tmp_path, heartbeat=0.5)
    link = collector.link()
    link.start()
    assert link.registered.wait(10)
    stopped = threading.Thread(target=link.stop)
    stopped.start()
    stopped.join(10)
    assert not stopped.is_alive()
    wait_until(lambda: collector.registration("desk1") is None, "unregistered")
    collector.server.stop(None)
