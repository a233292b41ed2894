"""The addresses daemons bind and the addresses they advertise.

A daemon binds what it is told, ``HOST:PORT`` (port 0: a free one), wildcards included:
``0.0.0.0`` is every IPv4 interface, ``[::]`` every interface, IPv6 and IPv4.  What it
advertises (``MyAddress`` in its ads, what the other daemons dial) must be an address they
can reach, which a wildcard is not:

- ``<daemon>.advertise_address`` wins: ``HOST`` (with the bound port) or ``HOST:PORT``,
  for an address this host cannot see itself, such as a NAT's (HTCondor's
  ``TCP_FORWARDING_HOST``);
- a daemon bound to one address advertises that address;
- a daemon bound to a wildcard advertises the address of its interface that routes to the
  collector, found as the kernel would pick it: ``connect()`` on a UDP socket (which sends
  nothing) and ``getsockname()``.  When that is loopback (the collector runs on this host,
  or is this daemon) the host's first address that is neither loopback nor link-local is
  advertised instead, since a wildcard bind is asked for so that other hosts can dial in;
  loopback only on a host that has no other address.

So no daemon advertises ``0.0.0.0``, and none advertises loopback to a collector on another
host.  The functions that look at the host (``route_source``, ``interface_addresses``) are
arguments of ``advertised_address``, so its tests need no network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

from roost.errors import RoostError

IPV4_WILDCARDS = frozenset({"0.0.0.0"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # "": gRPC binds every interface


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` for IPv6) as ``(host, port)``, brackets removed;
    RoostError if it is not one."""
    host, colon, port = address.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        colon = ""  # an IPv6 host without brackets: its last group would read as the port
    if not colon or not port.isdigit() or int(port) > 65535:
        raise RoostError(f"address {address!r}: expected HOST:PORT ([ADDRESS]:PORT for IPv6)")
    return host, int(port)


def join_address(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 host."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address literal or ``localhost``) is this host's loopback."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        return False


def local_address(bound: str, port: int) -> str:
    """What a command on this host dials to reach a daemon that bound ``bound`` and got
    ``port``: the bound host, or loopback for a wildcard."""
    host, _ = split_address(bound)
    if host in IPV4_WILDCARDS:
        host = "127.0.0.1"
    elif host in WILDCARDS:
        host = "::1"
    return join_address(host, port)


def remote_address(address: str, hostname: Callable[[], str] = socket.getfqdn) -> str:
    """What another host dials to reach a daemon bound to ``address``: a wildcard's host is
    this host's name (``hostname()``, its fully qualified name, as other hosts resolve it);
    any other address is itself."""
    host, port = split_address(address)
    return join_address(hostname(), port) if host in WILDCARDS else address


def default_bind(collector: str) -> str:
    """The address a daemon binds when told none: loopback for a collector on this host's
    loopback (a personal pool stays off the network), else a wildcard of the collector's
    family, so that the collector's other hosts can reach it."""
    host, _ = split_address(collector)
    if is_loopback(host):
        return "[::1]:0" if ":" in host else "127.0.0.1:0"
    return "[::]:0" if _family(host) == socket.AF_INET6 else "0.0.0.0:0"


def advertised_address(
    bound: str,
    port: int,
    *,
    collector: str,
    override: str = "",
    route: Callable[[str, int, int], str | None] | None = None,
    interfaces: Callable[[], Iterable[str]] | None = None,
) -> str:
    """The address a daemon bound to ``bound`` (and given ``port``) advertises to the
    collector at ``collector``, ``override`` being its ``advertise_address``; see the
    module's docstring.  ``route(host, port, family)`` and ``interfaces()`` default to
    ``route_source`` and ``interface_addresses``."""
    if override.strip():
        return _override(override.strip(), port)
    host, _ = split_address(bound)
    if host not in WILDCARDS:
        return join_address(host, port)
    route = route or route_source
    interfaces = interfaces or interface_addresses
    families = (socket.AF_INET,) if host in IPV4_WILDCARDS else (socket.AF_INET,
                                                                  socket.AF_INET6)
    collector_host, collector_port = split_address(collector)
    family = socket.AF_INET if host in IPV4_WILDCARDS else socket.AF_UNSPEC
    source = None if collector_host in WILDCARDS else route(collector_host, collector_port,
                                                            family)
    if source is not None and not is_loopback(source):
        return join_address(source, port)
    # The collector is on this host: any address of the host's that others can dial.
    preferred = _family(source) if source is not None else families[0]
    candidates = [address for address in interfaces() if _dialable(address, families)]
    candidates.sort(key=lambda address: _family(address) != preferred)  # stable
    if candidates:
        return join_address(candidates[0], port)
    return join_address(source or ("127.0.0.1" if preferred == socket.AF_INET else "::1"),
                        port)


def loopback_warning(bound: str, collector: str) -> str | None:
    """A warning for a daemon bound to loopback that reports to a collector on another
    host, whose other daemons cannot dial it; None if there is nothing to say."""
    host, _ = split_address(bound)
    collector_host, _ = split_address(collector)
    if not is_loopback(host) or is_loopback(collector_host) or collector_host in WILDCARDS:
        return None
    return (f"bound to {bound}, a loopback address, while the collector {collector} is on "
            "another host: no other host can reach this daemon (bind 0.0.0.0:0 or [::]:0)")


def route_source(host: str, port: int, family: int = socket.AF_UNSPEC) -> str | None:
    """The local address the kernel would send from to ``host:port``, or None if there is
    no route (or no such host).  A UDP socket's connect() only picks the route: nothing is
    sent."""
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        return None
    for info_family, kind, proto, _name, sockaddr in infos:
        with socket.socket(info_family, kind, proto) as probe:
            try:
                probe.connect(sockaddr)
            except OSError:
                continue
            return probe.getsockname()[0]
    return None


def interface_addresses() -> list[str]:
    """This host's IPv4 and IPv6 addresses, interface by interface in the kernel's order."""
    import psutil

    return [entry.address for entries in psutil.net_if_addrs().values() for entry in entries
            if entry.family in (socket.AF_INET, socket.AF_INET6)]


def _override(text: str, port: int) -> str:
    """``advertise_address``: HOST (with ``port``) or HOST:PORT; RoostError for a
    wildcard, which nobody can dial."""
    if text.startswith("[") and text.endswith("]"):
        host = text[1:-1]  # an IPv6 address in brackets, without a port
    elif text.startswith("[") or text.count(":") == 1:
        host, port = split_address(text)
    else:
        host = text  # a host name, or an IPv4 or IPv6 address, without a port
    if host in WILDCARDS:
        raise RoostError(f"advertise_address {text!r} is a wildcard, which no other host "
                         "can dial: give an address or host name of this host")
    return join_address(host, port)


def _family(host: str | None) -> int:
    """AF_INET6 for an IPv6 literal, AF_INET for anything else (IPv4, or a name whose
    first address is IPv4 or that does not resolve)."""
    if not host:
        return socket.AF_INET
    try:
        return (socket.AF_INET6 if ipaddress.ip_address(host.partition("%")[0]).version == 6
                else socket.AF_INET)
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError, IndexError):
        return socket.AF_INET


def _dialable(address: str, families: tuple[int, ...]) -> bool:
    """Whether another host could dial ``address``: of an allowed family, neither loopback
    nor link-local (which needs its interface named), nor a wildcard."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return (family in families and not ip.is_loopback and not ip.is_link_local
            and not ip.is_unspecified)
