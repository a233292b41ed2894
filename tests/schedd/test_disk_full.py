"""A job queue whose disk is full: a submit is refused with RESOURCE_EXHAUSTED and one line
that names the file system, nothing already accepted is lost, and submits work again once
there is room.  The disk is a real one, a small tmpfs mounted for the test (which needs
root, as .ci/run runs), filled to the last byte by a file of the test's."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from classad import ClassAd
from roost.errors import RoostError
from roost.messages import ad_message
from roost.rpc import schedd_pb2, schedd_pb2_grpc
from roost.security import call_metadata
from roost.submit_description import complete_job_ad

from ..daemons import Daemons
from .conftest import Pool


@contextlib.contextmanager
def small_file_system(size: str = "2m", owner: str | None = None) -> Iterator[Path]:
    """A fresh tmpfs of ``size``, mounted for the block (owned by ``owner``), then unmounted
    and its mount point removed, however the block ends."""
    base = Path(tempfile.mkdtemp(prefix="roost-full-"))
    base.chmod(0o755)  # the PostgreSQL server's user must reach its tablespace
    point = base / "fs"
    point.mkdir()
    options = f"size={size},mode=0755"
    if owner is not None:
        user = pwd.getpwnam(owner)
        options += f",uid={user.pw_uid},gid={user.pw_gid}"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        shutil.rmtree(base)
        pytest.fail(f"cannot mount a tmpfs for a full disk (run the tests as root, as .ci/run "
                    f"does): {mounted.stderr.strip()}", pytrace=False)
    try:
        yield point
    finally:
        # Lazily, so that a server that still holds a file there cannot keep it mounted.
        subprocess.run(["umount", "-l", str(point)], check=True)
        shutil.rmtree(base)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until its file system has no page left (a tmpfs gives
    out whole pages, so a page's worth at a time leaves no room)."""
    filler = directory / "filler"
    chunk = b"\0" * os.sysconf("SC_PAGE_SIZE")
    with open(filler, "wb", buffering=0) as stream:
        try:
            while True:
                stream.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


def job() -> ClassAd:
    # An attribute of its own per cluster, so that every submit needs pages of its own.
    ad = ClassAd({"Cmd": "/bin/true", "Arguments": "", "Note": "n" * 2000})
    return complete_job_ad(ad, owner="alice", now=1_700_000_000, cwd=Path("/tmp"))


def submit_until_refused(pool: Pool) -> tuple[int, grpc.RpcError]:
    """Submit clusters of 10 jobs until the schedd refuses one; the jobs it accepted and
    the refusal."""
    stub = schedd_pb2_grpc.ScheddStub(pool.client().channel)
    request = schedd_pb2.SubmitRequest(cluster_ad=ad_message(job()), count=10)
    accepted = 0
    for _ in range(500):
        try:
            accepted += stub.Submit(request, metadata=call_metadata(pool.token()),
                                    timeout=30).num_procs
        except grpc.RpcError as error:
            return accepted, error
    raise AssertionError(f"{accepted} jobs accepted on a full disk, and no refusal")


def test_a_full_sqlite_queue(tmp_path):
    with small_file_system() as disk:
        database = disk / "schedd" / "queue.db"
        pool = Pool(tmp_path, f"sqlite:///{database}")
        try:
            with pool.client() as alice:
                alice.submit_cluster(job(), [], 10)
                filler = fill(disk)
                accepted, refusal = submit_until_refused(pool)
                assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert refusal.details() == (
                    f"no space left on the file system at {disk} that holds the job queue "
                    f"({database}); nothing of this request was written")
                assert len(alice.query()) == 10 + accepted  # what was accepted is there
                with pytest.raises(RoostError) as caught:
                    alice.submit_cluster(job(), [], 10)
                assert str(caught.value) == (f"the schedd at {pool.address} refused the call: "
                                             f"{refusal.details()}")
                filler.unlink()
                alice.submit_cluster(job(), [], 10)
                assert len(alice.query()) == 20 + accepted
        finally:
            pool.close()


def test_a_full_postgresql_queue(tmp_path, postgres_server):
    import psycopg
    from psycopg import sql

    name = f"t_full_{os.getpid()}"
    admin = psycopg.connect(postgres_server.url.replace("postgresql+psycopg", "postgresql"),
                            autocommit=True)
    with admin, small_file_system(
            "32m", owner="postgres" if os.geteuid() == 0 else None) as disk:  # a database's own

        admin.execute(sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
            sql.Identifier(name), sql.Literal(str(disk))))
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TABLESPACE {}").format(
                sql.Identifier(name), sql.Identifier(name)))
            pool = Pool(tmp_path, postgres_server.url_for(name))
            try:
                with pool.client() as alice:
                    alice.submit_cluster(job(), [], 10)
                    fill(disk)
                    accepted, refusal = submit_until_refused(pool)
                    assert refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    assert refusal.details() == (
                        "no space left on the file systems of the job queue's database server "
                        f"(127.0.0.1, database {name}); nothing of this request was written")
                    assert len(alice.query()) == 10 + accepted
            finally:
                pool.close()
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            admin.execute(sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(name)))


def test_roost_submit_to_a_full_queue_says_so_in_one_line(tmp_path):
    with small_file_system() as disk:
        database = disk / "queue.db"
        daemons = Daemons(tmp_path / "home", database_url=f"sqlite:///{database}")
        (tmp_path / "home").mkdir()
        (tmp_path / "job.ad").write_text('Cmd = "/bin/true"\nNote = "' + "n" * 2000 + '"\n')

        def roost(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "roost", *args], env=daemons.env,
                                  cwd=tmp_path, capture_output=True, text=True, timeout=60)

        try:
            daemons.start("matchmaker")
            daemons.start("schedd")
            assert roost("submit", "job.ad", "-queue", "10").returncode == 0
            filler = fill(disk)
            accepted = 10
            for _ in range(500):
                submitted = roost("submit", "job.ad", "-queue", "10", "-json")
                if submitted.returncode != 0:
                    break
                accepted += json.loads(submitted.stdout)["NumProcs"]
            assert submitted.returncode == 1
            address = (tmp_path / "home" / "run" / "schedd.address").read_text().strip()
            assert submitted.stderr == (
                f"roost: the schedd at {address} refused the call: no space left on the file "
                f"system at {disk} that holds the job queue ({database}); nothing of this "
                "request was written\n")
            listed = roost("q", "-af", "ProcId")
            assert len(listed.stdout.split()) == accepted, listed.stderr
            filler.unlink()
            assert roost("submit", "job.ad").returncode == 0
        finally:
            daemons.stop_all()
