"""The schedd's side of file transfer (schedd.transfer): which files a job's input is and
where its output lands, as HTCondor decides them; and FetchInput/StoreOutput served for
real on 127.0.0.1, driven by the startd's side (startd.transfer)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from classad import ClassAd
from roost import file_transfer as ft
from roost import security
from roost.client import Schedd as Client
from roost.config import load_config
from roost.rpc import schedd_pb2, schedd_pb2_grpc
from schedd.database import default_url, open_database
from schedd.job_queue import Caller, JobQueue
from schedd.lifecycle import Action
from schedd.service import METHOD_SCOPES, TOKENLESS, ScheddService
from schedd.transfer import (
    STDERR,
    STDOUT,
    Busy,
    TransferQueue,
    TransferServer,
    input_entries,
    landing_name,
    limit_bytes,
    output_place,
    parse_remaps,
    queue_lookup,
    spool_entries,
)
from startd import transfer as startd_transfer

MiB = 1 << 20


def job(iwd: Path, **attrs) -> ClassAd:
    return ClassAd({"Iwd": str(iwd), "Cmd": str(iwd / "run.sh"), "Owner": "root", **attrs})


def names(entries) -> list[str]:
    return [e.name for e in entries]


@pytest.fixture
def submit_dir(tmp_path):
    iwd = tmp_path / "submit"
    (iwd / "data" / "deep").mkdir(parents=True)
    (iwd / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(iwd / "run.sh", 0o644)
    for name in ("a.dat", "in.txt", "data/b.dat", "data/deep/c.dat"):
        (iwd / name).write_text(name)
    return iwd


# -- input -----------------------------------------------------------------------------------


def test_input_is_the_executable_stdin_and_the_listed_files_flattened(submit_dir):
    entries = input_entries(job(submit_dir, In="in.txt",
                                TransferInput="a.dat, data/b.dat, data/deep"))
    assert names(entries) == ["run.sh", "in.txt", "a.dat", "b.dat", "deep", "deep/c.dat"]
    executable = entries[0]
    assert executable.mode & 0o755 == 0o755  # sent executable whatever its mode
    assert entries[3].source == submit_dir / "data" / "b.dat"


def test_preserve_relative_paths_keeps_them(submit_dir):
    entries = input_entries(job(submit_dir, TransferInput="data/b.dat, data/deep/",
                                PreserveRelativePaths=True, TransferExecutable=False))
    assert names(entries) == ["data", "data/b.dat", "c.dat"]


def test_a_trailing_slash_sends_what_a_directory_holds(submit_dir):
    entries = input_entries(job(submit_dir, TransferInput="data/", TransferExecutable=False))
    assert names(entries) == ["deep", "b.dat", "deep/c.dat"]


@pytest.mark.parametrize(("item", "preserve", "name"), [
    ("a.dat", False, "a.dat"), ("x/y/a.dat", False, "a.dat"), ("x/y/a.dat", True, "x/y/a.dat"),
    ("/abs/a.dat", True, "a.dat"), ("../up/a.dat", True, "a.dat"), ("./a.dat", True, "a.dat"),
    ("dir/", False, "dir")])
def test_landing_names(item, preserve, name):
    assert landing_name(item, preserve) == name


def test_a_missing_input_is_named(submit_dir):
    with pytest.raises(ft.TransferError, match="nope.dat") as error:
        input_entries(job(submit_dir, TransferInput="a.dat, nope.dat"))
    assert error.value.kind == ft.MISSING


def test_a_vanished_submit_directory_says_so(tmp_path):
    with pytest.raises(ft.TransferError, match="no longer exists"):
        input_entries(job(tmp_path / "gone"))


def test_two_inputs_landing_on_one_name_are_refused(submit_dir):
    (submit_dir / "data" / "a.dat").write_text("another a")
    with pytest.raises(ft.TransferError, match="'a.dat'"):
        input_entries(job(submit_dir, TransferInput="a.dat, data/a.dat"))


def test_stdin_listed_again_is_sent_once(submit_dir):
    entries = input_entries(job(submit_dir, In="in.txt", TransferInput="in.txt",
                                TransferExecutable=False))
    assert names(entries) == ["in.txt"]


def test_urls_are_refused(submit_dir):
    with pytest.raises(ft.TransferError, match="URLs"):
        input_entries(job(submit_dir, TransferInput="https://example.org/x"))


def test_an_evicted_runs_spool_comes_with_the_input(submit_dir, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "checkpoint").write_text("step 5")
    (spool / "a.dat").write_text("a, as the job changed it")
    entries = input_entries(job(submit_dir, TransferInput="a.dat"), spool_entries(spool))
    assert sorted(names(entries)) == ["a.dat", "checkpoint", "run.sh"]
    assert next(e for e in entries if e.name == "a.dat").source == spool / "a.dat"


# -- output ------------------------------------------------------------------------------------


def test_remaps():
    assert parse_remaps("out.txt = o/0.txt; res=results/ ;bad") == {
        "out.txt": "o/0.txt", "res": "results/"}


def test_output_lands_in_iwd_renamed_by_remaps(tmp_path):
    (tmp_path / "existing").mkdir()
    place = output_place(job(tmp_path, Out="logs/out.txt", Err="/abs/err.txt",
                             TransferOutputRemaps="a.txt=b.txt;c.txt=/elsewhere/c2.txt;"
                                                  "d.txt=sub/;e.txt=existing;res=results"))
    assert place(STDOUT) == tmp_path / "logs/out.txt"
    assert place(STDERR) == Path("/abs/err.txt")
    assert place("plain.txt") == tmp_path / "plain.txt"
    assert place("a.txt") == tmp_path / "b.txt"
    assert place("c.txt") == Path("/elsewhere/c2.txt")
    assert place("d.txt") == tmp_path / "sub" / "d.txt"
    assert place("e.txt") == tmp_path / "existing" / "e.txt"
    assert place("res/x/y") == tmp_path / "results" / "x" / "y"  # a remapped directory
    with pytest.raises(ft.TransferError):
        place("../escape")


def test_limits():
    assert limit_bytes(ClassAd({"MaxTransferInputMB": 2}), "MaxTransferInputMB", -1) == 2 * MiB
    assert limit_bytes(ClassAd(), "MaxTransferInputMB", 5) == 5 * MiB
    assert limit_bytes(ClassAd(), "MaxTransferInputMB", -1) is None
    assert limit_bytes(ClassAd({"MaxTransferInputMB": -1}), "MaxTransferInputMB", 5) is None


def test_the_transfer_queue_waits_then_turns_away():
    queue = TransferQueue(uploads=1, downloads=1, wait=0.2, max_waiting=1)
    with queue.room("upload"):
        with queue.room("download"):
            pass  # the kinds have places of their own
        started = time.monotonic()
        with pytest.raises(Busy), queue.room("upload"):
            pass
        assert time.monotonic() - started >= 0.2
    with queue.room("upload"):
        pass


# -- served for real -----------------------------------------------------------------------------


class Schedd:
    """A schedd's Schedd service on 127.0.0.1 over a real SQLite queue, with transfer,
    behind the token check (which the transfer calls are exempt from)."""

    def __init__(self, home: Path, *, queue: TransferQueue | None = None) -> None:
        (home / "schedd").mkdir(parents=True)
        self.engine = open_database(default_url(home))
        self.jobs = JobQueue(self.engine)
        self.transfer = TransferServer(queue_lookup(self.jobs), spool=home / "spool",
                                       queue=queue)
        self.jobs.listen(self.transfer.forget)
        self.service = ScheddService(self.jobs, name="schedd@test", transfer=self.transfer,
                                     file_system_domain="submit.test")
        self.key = key = security.SigningKey.load_or_create(home / "pool.key")
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), interceptors=[
            security.AuthInterceptor(key, METHOD_SCOPES,
                                     exempt=(*security.HEALTH_METHODS, *TOKENLESS))])
        schedd_pb2_grpc.add_ScheddServicer_to_server(self.service, self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def submit(self, directory: Path, text: str, owner: str = "root") -> str:
        """Submit through the Schedd service, as roost submit does."""
        token = security.create_token(self.key, f"{owner}@pool", ["read", "submit"], 3600.0)
        config = load_config(env={"ROOST_HOME": str(directory)})
        with Client(self.address, token, config=config) as client:
            done = client.submit(f"executable = run.sh\n{text}\nqueue\n", cwd=str(directory))
        return f"{done.cluster()}.0"

    def claim(self, claim_id: str, owner: str = "root") -> str:
        """A claim that takes the owner's next idle job (as schedd.claims records one)."""
        ad = self.jobs.idle_job_for(owner, lambda ad: True, claim_id, {
            "startd_address": "", "slot_name": "slot1@exec", "owner": owner,
            "slot_ad": "", "lease": 60})
        return f"{ad.eval('ClusterId')}.{ad.eval('ProcId')}"

    def close(self) -> None:
        self.server.stop(None)
        self.jobs.close()
        self.engine.dispose()


@pytest.fixture
def schedd(tmp_path):
    served = Schedd(tmp_path / "home")
    yield served
    served.close()


def test_input_and_output_make_the_round_trip(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "input = in.txt\noutput = out/$(Cluster).txt\n"
                                       "transfer_input_files = a.dat, data\n"
                                       "transfer_output_remaps = \"r.txt = renamed.txt\"")
    assert schedd.claim("claim-1") == job_id
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    moved = startd_transfer.fetch_input(schedd.address, "claim-1", job_id, sandbox)
    assert sorted(os.listdir(sandbox)) == ["a.dat", "data", "in.txt", "run.sh"]
    assert (sandbox / "data" / "deep" / "c.dat").read_text() == "data/deep/c.dat"
    assert os.access(sandbox / "run.sh", os.X_OK)
    assert moved.files == 7 and moved.bytes == sum(
        (submit_dir / n).stat().st_size for n in ("run.sh", "in.txt", "a.dat", "data/b.dat",
                                                  "data/deep/c.dat"))
    (sandbox / STDOUT).write_text("printed")
    (sandbox / "r.txt").write_text("result")
    startd_transfer.send_output(schedd.address, "claim-1", job_id, sandbox, [STDOUT, "r.txt"])
    cluster = job_id.split(".")[0]
    assert (submit_dir / "out" / f"{cluster}.txt").read_text() == "printed"
    assert (submit_dir / "renamed.txt").read_text() == "result"
    assert not [p for p in submit_dir.rglob("*") if ft.PART in p.name]


def test_the_schedd_puts_its_file_system_domain_in_at_submit(schedd, submit_dir):
    job_id = schedd.submit(submit_dir, "")
    (ad,) = schedd.jobs.query(f"ClusterId == {job_id.split('.')[0]}")
    assert ad.eval("FileSystemDomain") == "submit.test"
    assert ad.eval("ShouldTransferFiles") == "IF_NEEDED"


def test_only_the_claim_that_runs_the_job_may_transfer(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "")
    schedd.claim("the-claim")
    for claim_id, job in (("another-claim", job_id), ("the-claim", "99.0"), ("", job_id)):
        with pytest.raises(startd_transfer.TransferLost, match="no claim with this id"):
            startd_transfer.fetch_input(schedd.address, claim_id, job, tmp_path)
    with pytest.raises(startd_transfer.TransferLost, match="no claim"):
        startd_transfer.send_output(schedd.address, "another-claim", job_id, tmp_path, [])
    assert sorted(os.listdir(submit_dir)) == ["a.dat", "data", "in.txt", "run.sh"]


def test_a_missing_input_is_a_hold_13_naming_it(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "transfer_input_files = a.dat, missing.dat")
    schedd.claim("c")
    with pytest.raises(startd_transfer.TransferFailed, match="missing.dat") as failed:
        startd_transfer.fetch_input(schedd.address, "c", job_id, tmp_path)
    assert failed.value.hold_code == 13
    assert os.listdir(tmp_path) == [p.name for p in tmp_path.iterdir()]  # nothing landed


def test_input_over_its_limit_is_a_hold_32(schedd, submit_dir, tmp_path):
    (submit_dir / "big").write_bytes(b"x" * (2 * MiB))
    job_id = schedd.submit(submit_dir, "transfer_input_files = big\nmax_transfer_input_mb = 1")
    schedd.claim("c")
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    with pytest.raises(startd_transfer.TransferFailed, match="MaxTransferInputMB") as failed:
        startd_transfer.fetch_input(schedd.address, "c", job_id, sandbox)
    assert failed.value.hold_code == 32
    assert os.listdir(sandbox) == []


def test_output_over_its_limit_leaves_nothing(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "max_transfer_output_mb = 1")
    schedd.claim("c")
    (tmp_path / "small").write_text("s")
    (tmp_path / "big").write_bytes(b"x" * (2 * MiB))
    with pytest.raises(startd_transfer.TransferFailed) as failed:
        startd_transfer.send_output(schedd.address, "c", job_id, tmp_path, ["small", "big"])
    assert failed.value.hold_code == 33
    assert not (submit_dir / "small").exists() and not (submit_dir / "big").exists()


def test_output_for_a_vanished_submit_directory_is_a_hold_12(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "")
    schedd.claim("c")
    moved = submit_dir.rename(tmp_path / "moved-away")
    (tmp_path / "out").write_text("o")
    with pytest.raises(startd_transfer.TransferFailed, match="no longer exists") as failed:
        startd_transfer.send_output(schedd.address, "c", job_id, tmp_path, ["out"])
    assert failed.value.hold_code == 12
    assert not submit_dir.exists() and "out" not in os.listdir(moved)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB file system for a submit directory (a tmpfs: we are root here)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the test needs root): {done.stderr}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_submit_disk_is_a_hold_12_and_leaves_nothing(schedd, tiny_disk, tmp_path):
    (tiny_disk / "run.sh").write_text("#!/bin/sh\n")
    job_id = schedd.submit(tiny_disk, "")
    schedd.claim("c")
    (tmp_path / "first").write_bytes(b"f" * 1000)
    (tmp_path / "huge").write_bytes(os.urandom(3 * MiB))
    with pytest.raises(startd_transfer.TransferFailed, match="No space left") as failed:
        startd_transfer.send_output(schedd.address, "c", job_id, tmp_path, ["first", "huge"])
    assert failed.value.hold_code == 12
    assert sorted(os.listdir(tiny_disk)) == ["run.sh"]  # neither file, nor a part of one


def test_a_broken_output_stream_leaves_nothing(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "")
    schedd.claim("c")
    (tmp_path / "done").write_text("whole")
    (tmp_path / "big").write_bytes(os.urandom(3 * ft.CHUNK))
    entries = [ft.entry_of(tmp_path / n, n) for n in ("done", "big")]
    first = schedd_pb2.FileTransferMessage(claim_id="c", job_id=job_id)
    stream = list(ft.send(entries, first))
    proceed = threading.Event()

    def messages():  # "done" whole and a part of "big", then the sender is gone
        yield from stream[:2]
        proceed.wait(10)

    channel = grpc.insecure_channel(schedd.address)
    call = schedd_pb2_grpc.ScheddStub(channel).StoreOutput.future(messages())
    parts = lambda: [p.name for p in submit_dir.iterdir() if ft.PART in p.name]  # noqa: E731
    wait_until(lambda: len(parts()) == 2)  # both files are being written
    call.cancel()
    proceed.set()
    wait_until(lambda: not parts())
    assert sorted(os.listdir(submit_dir)) == ["a.dat", "data", "in.txt", "run.sh"]
    channel.close()


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        time.sleep(0.02)


def test_a_busy_queue_is_asked_again(tmp_path, submit_dir):
    queue = TransferQueue(uploads=1, downloads=1, wait=0.1, max_waiting=0)
    served = Schedd(tmp_path / "home", queue=queue)
    try:
        job_id = served.submit(submit_dir, "")
        served.claim("c")
        sandbox = tmp_path / "sandbox"
        sandbox.mkdir()
        held = queue.room("upload")
        held.__enter__()
        threading.Timer(1.0, held.__exit__, (None, None, None)).start()
        started = time.monotonic()
        startd_transfer.fetch_input(served.address, "c", job_id, sandbox)
        assert time.monotonic() - started >= 0.9
        assert os.listdir(sandbox) == ["run.sh"]
    finally:
        served.close()


def test_an_evicted_runs_output_goes_to_the_spool_and_back(schedd, submit_dir, tmp_path):
    job_id = schedd.submit(submit_dir, "when_to_transfer_output = ON_EXIT_OR_EVICT")
    schedd.claim("c")
    run = tmp_path / "run1"
    run.mkdir()
    (run / "checkpoint").write_text("step 5")
    transfer = startd_transfer.Transfer(schedd.address, "c", job_id)
    transfer.send_output([ft.entry_of(run / "checkpoint", "checkpoint")], evicted=True)
    assert "checkpoint" not in os.listdir(submit_dir)  # not where the user looks: spooled
    second = tmp_path / "run2"
    second.mkdir()
    again = startd_transfer.Transfer(schedd.address, "c", job_id)
    again.fetch_input(second)
    assert (second / "checkpoint").read_text() == "step 5"
    assert again.intermediate == {"checkpoint"}
    schedd.jobs.act(Caller("root", True), Action.REMOVE, [job_id], "", "done")
    assert not (schedd.transfer.spool / job_id).exists()


def test_files_are_read_and_written_with_the_owners_rights(schedd, tmp_path):
    """The schedd runs as root here: a job of nobody's cannot have root's files sent, nor
    write where nobody may not."""
    assert os.geteuid() == 0, "this test needs the schedd to run as root"
    work = Path(tempfile.mkdtemp(prefix="roost-owner-", dir="/tmp"))  # nobody reaches it
    try:
        os.chmod(work, 0o755)
        (work / "run.sh").write_text("#!/bin/sh\n")
        (work / "secret").write_text("root's only")
        os.chmod(work / "secret", 0o600)
        job_id = schedd.submit(work, "transfer_input_files = secret", owner="nobody")
        schedd.claim("c", owner="nobody")
        with pytest.raises(startd_transfer.TransferFailed, match="secret") as failed:
            startd_transfer.fetch_input(schedd.address, "c", job_id, tmp_path)
        assert failed.value.hold_code == 13
        (tmp_path / "out").write_text("o")
        with pytest.raises(startd_transfer.TransferFailed, match="Permission denied"):
            startd_transfer.send_output(schedd.address, "c", job_id, tmp_path, ["out"])
        assert not (work / "out").exists()
    finally:
        shutil.rmtree(work)


def test_the_startd_reads_output_with_the_jobs_rights(schedd, submit_dir):
    """A job run as nobody that links its output to a file only root may read does not
    get the startd (root) to send that file."""
    assert os.geteuid() == 0, "this test needs the startd's side to run as root"
    job_id = schedd.submit(submit_dir, "")
    schedd.claim("c")
    sandbox = Path(tempfile.mkdtemp(prefix="roost-sandbox-", dir="/tmp"))
    try:
        os.chmod(sandbox, 0o755)
        (sandbox / "secret").write_text("root's only")
        os.chmod(sandbox / "secret", 0o600)
        os.symlink(sandbox / "secret", sandbox / "out.txt")
        nobody = pwd.getpwnam("nobody")
        transfer = startd_transfer.Transfer(schedd.address, "c", job_id)
        transfer.owner = (nobody.pw_uid, nobody.pw_gid)
        with pytest.raises(startd_transfer.TransferFailed, match="Permission denied") as failed:
            transfer.send_output([ft.entry_of(sandbox / "out.txt", "out.txt")])
        assert failed.value.hold_code == 12
        assert not (submit_dir / "out.txt").exists()
    finally:
        shutil.rmtree(sandbox)
