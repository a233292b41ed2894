"""Broker addresses, and ``Splice``: a TCP connection carried over a stream of chunks
(roost.broker)."""

from __future__ import annotations

import socket
import threading

import pytest

from roost.broker import BrokerAddress, Splice, is_broker_address, parse_broker_address
from roost.errors import RoostError


@pytest.mark.parametrize(("collector", "broker_id"), [
    ("10.77.0.1:9618", "desk1"),
    ("cm.example.org:9618", "glidein-12.node7"),
    ("[fd72:6f6f:7374::1]:9618", "desk1"),
    ("cm:9618", "odd/name with spaces"),
])
def test_a_broker_address_reads_back_as_written(collector, broker_id):
    address = str(BrokerAddress(collector, broker_id))
    assert address.startswith(f"broker://{collector}/") and address.count("/") == 3
    assert is_broker_address(address)
    assert parse_broker_address(address) == BrokerAddress(collector, broker_id)


@pytest.mark.parametrize("text", ["broker://cm:9618", "broker://cm:9618/", "broker://cm/x",
                                  "broker://cm:9618/a/b", "10.0.0.1:9618"])
def test_what_is_not_a_broker_address_is_said_so(text):
    with pytest.raises(RoostError, match="broker address"):
        parse_broker_address(text)


def test_ordinary_addresses_are_not_broker_addresses():
    assert not is_broker_address("10.77.0.2:4000")
    assert not is_broker_address("[::1]:4000")
    assert not is_broker_address(None)


def test_a_splice_carries_both_ways_and_passes_each_end_on():
    carried, peer = socket.socketpair()
    splice = Splice(carried)
    incoming = [b"hello ", b"world"]
    writer = threading.Thread(target=splice.to_socket, args=(iter(incoming),))
    writer.start()
    writer.join(5)
    # What came down the stream is on the socket, then its end (a half close).
    assert _read_all(peer) == b"hello world"
    peer.sendall(b"and back")
    peer.shutdown(socket.SHUT_WR)
    assert b"".join(splice.from_socket()) == b"and back"
    assert carried.fileno() != -1  # the call is not over
    splice.finished()
    assert carried.fileno() == -1  # both directions and the call over: closed
    peer.close()


def test_a_broken_stream_breaks_both_directions():
    carried, peer = socket.socketpair()
    splice = Splice(carried)
    read = []
    reader = threading.Thread(target=lambda: read.extend(splice.from_socket()))
    reader.start()  # blocked: the peer sends nothing

    def broken():
        yield b"part"
        raise ConnectionResetError("the stream broke")

    splice.to_socket(broken())
    reader.join(5)
    assert not reader.is_alive() and read == []
    splice.finished()
    assert carried.fileno() == -1
    peer.close()


def test_a_call_over_before_it_read_its_socket_still_closes_it():
    carried, peer = socket.socketpair()
    splice = Splice(carried)
    splice.to_socket(iter(()))
    assert carried.fileno() != -1  # its reading may begin yet
    splice.finished()
    assert carried.fileno() == -1
    peer.close()


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(1024):
        chunks.append(data)
    return b"".join(chunks)
