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
