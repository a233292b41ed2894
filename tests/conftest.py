"""Fixtures shared by every test directory."""

import subprocess
import textwrap

import pytest


@pytest.fixture
def make_certificates():
    """A maker of throwaway certificates: ``make(directory)`` writes a CA and a server
    certificate it signed for localhost and 127.0.0.1 there, and returns
    (ca_pem, key_pem, cert_pem).  Needs the openssl command (.ci/run installs it)."""
    return _make_certificates


def _make_certificates(directory):
    """A throwaway CA and a server certificate it signed for localhost and 127.0.0.1;
    (ca_pem, key_pem, cert_pem)."""

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=roost test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (directory / "server.ext").write_text(
        textwrap.dedent(
            """\
            subjectAltName = DNS:localhost, IP:127.0.0.1
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            """
        )
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-set_serial", "1", "-days", "1", "-extfile", "server.ext", "-out", "server.pem",
    )  # fmt: skip
    return tuple((directory / name).read_bytes() for name in ("ca.pem", "server.key", "server.pem"))


def _pg_server_module():
    """tests/pg_server.py, loaded by path."""
    return _helper_module("pg_server")


def _helper_module(stem):
    """tests/STEM.py, loaded by path (``--import-mode=importlib`` does not put tests/ on
    sys.path)."""
    import importlib.util
    import sys
    from pathlib import Path

    name = f"roost_tests_{stem}"
    if name not in sys.modules:
        path = Path(__file__).with_name(f"{stem}.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server (tests/pg_server.py's PostgresServer) for the whole
    session, started when a test first asks for it and stopped at the end.  Fails, not
    skips, when the server binaries are missing (.ci/run installs them)."""
    pg_server = _pg_server_module()
    if pg_server.find_bindir() is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or "
            f"/usr/lib/postgresql/*/bin; {pg_server.INSTALL_HINT}",
            pytrace=False,
        )
    server = pg_server.PostgresServer()
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """The SQLAlchemy URL (postgresql+psycopg://...) of a fresh, empty database on the
    session's PostgreSQL server, made for this test alone and dropped after it."""
    import re
    import uuid

    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{slug}_{uuid.uuid4().hex[:12]}"
    url = postgres_server.new_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def make_network(tmp_path):
    """A maker of hosts made of namespaces (tests/hosts.py): ``make(["cm", "desk1"])``
    returns a started ``Network`` whose hosts keep their directories under
    ``tmp_path/hosts`` and see nothing else of ``tmp_path``; stopped after the test.  Fails,
    not skips, where hosts cannot be made (not root, or a command missing)."""
    hosts = _helper_module("hosts")
    made = []

    def make(names):
        reason = hosts.missing()
        if reason:
            pytest.fail(f"cannot make namespace hosts: {reason}", pytrace=False)
        network = hosts.Network(tmp_path / "hosts", names, hide=[tmp_path])
        made.append(network)
        return network.start()

    yield make
    for network in made:
        network.stop()
