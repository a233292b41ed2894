"""What a daemon advertises for what it binds (roost.addresses), with the host's routes and
interfaces given by the test; the real lookups run on namespace hosts (tests/hosts/)."""

from __future__ import annotations

import socket

import pytest

from roost.addresses import (
    advertised_address,
    default_bind,
    join_address,
    local_address,
    loopback_warning,
    remote_address,
    route_source,
    split_address,
)
from roost.errors import RoostError

DESK = ["127.0.0.1", "::1", "fe80::1%eth0", "10.7.0.3", "fd00::3"]


def routes(table):
    """A route lookup from {collector host: source}; records the families asked for."""
    asked = []

    def route(host, port, family):
        asked.append(family)
        return table.get(host)

    route.asked = asked
    return route


def advertise(bound, port=4242, *, collector="10.7.0.1:9618", override="", table=None,
              interfaces=DESK):
    return advertised_address(bound, port, collector=collector, override=override,
                              route=routes(table or {}), interfaces=lambda: interfaces)


@pytest.mark.parametrize(("text", "parts"), [
    ("127.0.0.1:9618", ("127.0.0.1", 9618)),
    ("[::1]:0", ("::1", 0)),
    ("[::]:7", ("::", 7)),
    ("cm.example.org:9618", ("cm.example.org", 9618)),
    (":5", ("", 5)),
])
def test_split_and_join_are_inverse(text, parts):
    assert split_address(text) == parts
    assert join_address(*parts) == text


@pytest.mark.parametrize("text", ["9618", "host:", "host:port", "::1:80", "h:70000"])
def test_split_refuses_what_is_not_host_port(text):
    with pytest.raises(RoostError, match="expected HOST:PORT"):
        split_address(text)


def test_a_bound_address_is_advertised_as_it_is():
    assert advertise("10.7.0.3:0") == "10.7.0.3:4242"
    assert advertise("desk1.example.org:9620", 9620) == "desk1.example.org:9620"
    assert advertise("[fd00::3]:0") == "[fd00::3]:4242"


def test_a_wildcard_advertises_the_interface_that_routes_to_the_collector():
    table = {"10.7.0.1": "10.7.0.3"}
    assert advertise("0.0.0.0:0", table=table) == "10.7.0.3:4242"
    assert advertise("[::]:0", table=table) == "10.7.0.3:4242"
    assert advertise("[::]:0", collector="[fd00::1]:9618",
                     table={"fd00::1": "fd00::3"}) == "[fd00::3]:4242"


def test_an_ipv4_wildcard_asks_for_an_ipv4_route_only():
    route = routes({"cm": "10.7.0.3"})
    advertised_address("0.0.0.0:0", 1, collector="cm:9618", route=route,
                       interfaces=lambda: DESK)
    advertised_address("[::]:0", 1, collector="cm:9618", route=route,
                       interfaces=lambda: DESK)
    assert route.asked == [socket.AF_INET, socket.AF_UNSPEC]


def test_a_wildcard_with_the_collector_on_this_host_advertises_another_address():
    # The route to a local collector is loopback, which no other host can dial.
    local = {"127.0.0.1": "127.0.0.1", "::1": "::1"}
    assert advertise("0.0.0.0:0", collector="127.0.0.1:9618", table=local) == "10.7.0.3:4242"
    assert advertise("[::]:0", collector="[::1]:9618", table=local) == "[fd00::3]:4242"
    # The collector itself, bound to a wildcard, has no route to look up.
    assert advertise("0.0.0.0:9618", 9618, collector="0.0.0.0:9618") == "10.7.0.3:9618"
    assert advertise("[::]:0", collector="[::]:9618") == "10.7.0.3:4242"


def test_a_wildcard_never_advertises_a_wildcard_or_link_local_address():
    only_loopback = ["127.0.0.1", "::1", "fe80::1%eth0", "0.0.0.0"]
    assert advertise("0.0.0.0:0", collector="127.0.0.1:1", table={"127.0.0.1": "127.0.0.1"},
                     interfaces=only_loopback) == "127.0.0.1:4242"
    assert advertise("[::]:0", collector="[::1]:1", table={"::1": "::1"},
                     interfaces=only_loopback) == "[::1]:4242"
    # No route to the collector at all (it is down the line): still a dialable address.
    assert advertise("0.0.0.0:0", table={}) == "10.7.0.3:4242"
    assert advertise("0.0.0.0:0", table={}, interfaces=["fd00::3"]) == "127.0.0.1:4242"


@pytest.mark.parametrize(("override", "expected"), [
    ("gateway.example.org", "gateway.example.org:4242"),
    ("gateway.example.org:19620", "gateway.example.org:19620"),
    ("203.0.113.9", "203.0.113.9:4242"),
    ("fd00::9", "[fd00::9]:4242"),
    ("[fd00::9]", "[fd00::9]:4242"),
    ("[fd00::9]:80", "[fd00::9]:80"),
])
def test_advertise_address_overrides_the_lookup(override, expected):
    assert advertise("0.0.0.0:0", override=override, table={"10.7.0.1": "10.7.0.3"}) == expected
    assert advertise("10.7.0.3:0", override=override) == expected


@pytest.mark.parametrize("override", ["0.0.0.0", "::", "[::]:80", "0.0.0.0:1"])
def test_advertise_address_may_not_be_a_wildcard(override):
    with pytest.raises(RoostError, match="wildcard"):
        advertise("0.0.0.0:0", override=override)


def test_local_commands_dial_loopback_for_a_wildcard():
    assert local_address("0.0.0.0:0", 5) == "127.0.0.1:5"
    assert local_address("[::]:0", 5) == "[::1]:5"
    assert local_address("10.7.0.3:0", 5) == "10.7.0.3:5"


def test_other_hosts_dial_a_wildcard_by_this_hosts_name():
    def hostname():
        return "cm.example.org"

    assert remote_address("0.0.0.0:9618", hostname) == "cm.example.org:9618"
    assert remote_address("[::]:9618", hostname) == "cm.example.org:9618"
    assert remote_address("10.7.0.3:9618", hostname) == "10.7.0.3:9618"
    assert remote_address("127.0.0.1:9618", hostname) == "127.0.0.1:9618"


def test_a_daemon_told_no_address_binds_for_its_collector():
    assert default_bind("127.0.0.1:9618") == "127.0.0.1:0"
    assert default_bind("localhost:9618") == "127.0.0.1:0"
    assert default_bind("[::1]:9618") == "[::1]:0"
    assert default_bind("10.7.0.1:9618") == "0.0.0.0:0"
    assert default_bind("[fd00::1]:9618") == "[::]:0"


def test_a_loopback_bind_with_a_collector_elsewhere_is_warned_of():
    assert "no other host can reach" in loopback_warning("127.0.0.1:0", "10.7.0.1:9618")
    assert loopback_warning("127.0.0.1:0", "127.0.0.1:9618") is None
    assert loopback_warning("0.0.0.0:0", "10.7.0.1:9618") is None
    assert loopback_warning("[::1]:0", "[::1]:9618") is None


def test_the_route_to_loopback_leaves_from_loopback():
    # A UDP connect() picks the route and sends nothing.
    assert route_source("127.0.0.1", 9, socket.AF_INET) == "127.0.0.1"
    assert route_source("::1", 9, socket.AF_INET6) == "::1"
