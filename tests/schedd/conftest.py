"""A schedd on a free port over a real database: SQLite, and PostgreSQL (started by the
test run: tests/pg_server.py)."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from roost import security
from roost.client import Schedd
from roost.config import load_config
from roost.rpc import schedd_pb2_grpc
from schedd.database import default_url, open_database
from schedd.job_queue import JobQueue
from schedd.job_tokens import JobCredentials
from schedd.service import METHOD_SCOPES, ScheddService


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Pool:
    """The schedd under test and a maker of clients acting as anyone."""

    def __init__(self, tmp_path, url: str) -> None:
        self.key = security.SigningKey.load_or_create(tmp_path / "pool.key")
        self.clock = Clock()
        self.engine = open_database(url)
        self.jobs = JobQueue(self.engine, clock=self.clock)
        self.service = ScheddService(self.jobs, name="schedd@test", query_batch=7)
        # What running jobs' credentials are made and checked with (schedd.job_tokens).
        self.credentials = JobCredentials.open(self.jobs, tmp_path)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                                  interceptors=[security.AuthInterceptor(
                                      self.key, METHOD_SCOPES, job_key=self.credentials.key,
                                      admit=self.credentials.admit)])
        schedd_pb2_grpc.add_ScheddServicer_to_server(self.service, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        self.service.address = self.credentials.address = self.address
        self.config = load_config(env={"ROOST_HOME": str(tmp_path)})

    def token(self, identity: str = "alice@pool", scopes=("read", "submit")) -> str:
        return security.create_token(self.key, identity, scopes, 3600.0)

    def client(self, identity: str = "alice@pool", scopes=("read", "submit")) -> Schedd:
        return Schedd(self.address, self.token(identity, scopes), config=self.config,
                      timeout=30)

    def close(self) -> None:
        self.server.stop(None)
        self.jobs.close()
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return default_url(tmp_path)
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def pool(tmp_path, database_url):
    pool = Pool(tmp_path, database_url)
    yield pool
    pool.close()
