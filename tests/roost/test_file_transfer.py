"""The file-transfer stream (roost.file_transfer) in memory: what is sent arrives whole and
checked, and a stream that breaks, lies or overflows leaves nothing where files land."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from roost import file_transfer as ft
from roost.rpc import schedd_pb2


def make(root: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        path = root / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def contents(root: Path) -> dict[str, bytes | None]:
    found = {}
    for top, directories, files in os.walk(root):
        for name in directories:
            found[os.path.relpath(os.path.join(top, name), root)] = None
        for name in files:
            path = Path(top, name)
            found[os.path.relpath(path, root)] = path.read_bytes()
    return found


def entries_of(root: Path) -> list[ft.Entry]:
    out = []
    for child in sorted(root.iterdir()):
        entry = ft.entry_of(child, child.name)
        out += ft.tree(child, child.name) if entry.directory else [entry]
    return out


FILES = {"empty": b"", "small.txt": b"hello\n", "big.bin": os.urandom(3 * ft.CHUNK + 17),
         "dir": None, "dir/inner.txt": b"inside", "dir/deeper": None,
         "dir/deeper/leaf": b"leaf" * 100}


def test_a_file_set_arrives_whole_with_modes(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    make(source, FILES)
    os.chmod(source / "small.txt", 0o751)
    messages = list(ft.send(entries_of(source), schedd_pb2.FileTransferMessage(job_id="1.0")))
    assert messages[0].job_id == "1.0" and len(messages[0].files) == len(FILES)
    # Large files go in pieces of at most CHUNK bytes per message.
    assert max(sum(len(p.data) for p in m.pieces) for m in messages) <= ft.CHUNK
    target.mkdir()
    receiver = ft.receive(messages, ft.Receiver(target))
    assert contents(target) == FILES
    assert receiver.bytes == sum(len(d) for d in FILES.values() if d)
    assert os.stat(target / "small.txt").st_mode & 0o777 == 0o751


def test_many_small_files_share_messages(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    make(source, {f"f{n:04d}": os.urandom(100) for n in range(2000)})
    messages = list(ft.send(entries_of(source)))
    assert len(messages) < 20
    target.mkdir()
    ft.receive(messages, ft.Receiver(target))
    assert contents(target) == contents(source)


def test_a_stream_cut_short_leaves_nothing(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    make(source, {"a": b"a" * 10, "b": os.urandom(2 * ft.CHUNK)})
    messages = list(ft.send(entries_of(source)))
    target.mkdir()
    (target / "b").write_bytes(b"the user's old file")
    with pytest.raises(ft.TransferError) as error:
        ft.receive(messages[:-1], ft.Receiver(target))
    assert error.value.kind == ft.CORRUPT
    assert contents(target) == {"b": b"the user's old file"}  # no temporary file, no "a"


def test_a_damaged_file_is_refused(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    make(source, {"a": b"the content"})
    messages = list(ft.send(entries_of(source)))
    messages[-1].pieces[0].data = b"the CONTENT"
    target.mkdir()
    with pytest.raises(ft.TransferError, match="sha256") as error:
        ft.receive(messages, ft.Receiver(target))
    assert error.value.kind == ft.CORRUPT
    assert contents(target) == {}


def test_the_sha256_is_of_the_whole_file(tmp_path):
    make(tmp_path, {"a": os.urandom(ft.CHUNK + 5)})
    messages = list(ft.send(entries_of(tmp_path)))
    last = [p for m in messages for p in m.pieces if p.last]
    assert last[0].sha256 == hashlib.sha256((tmp_path / "a").read_bytes()).hexdigest()


def test_a_limit_stops_the_transfer(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    make(source, {"a": b"x" * 1000, "b": b"y" * 1000})
    target.mkdir()
    with pytest.raises(ft.TransferError, match="too much") as error:
        ft.receive(ft.send(entries_of(source)),
                   ft.Receiver(target, limit=1500, limit_message="too much"))
    assert error.value.kind == ft.LIMIT
    assert contents(target) == {}


def test_directories_made_for_a_broken_transfer_are_removed(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    make(source, {"a": b"x" * 10})
    messages = list(ft.send([ft.Entry("new/sub/a", 10, 0o644, False, source / "a")]))
    target.mkdir()
    receiver = ft.Receiver(target)
    receiver.take(messages[0])  # the listing only: then the stream breaks
    receiver.take(schedd_pb2.FileTransferMessage(
        pieces=[schedd_pb2.FilePiece(file=0, data=b"xx")]))
    assert (target / "new" / "sub").is_dir()
    receiver.abort()
    assert contents(target) == {}


@pytest.mark.parametrize("name", ["/etc/passwd", "../up", "a/../../b", "a//b", "", "./a"])
def test_names_that_leave_the_directory_are_refused(tmp_path, name):
    listing = schedd_pb2.FileTransferMessage(files=[schedd_pb2.TransferFile(name=name)])
    with pytest.raises(ft.TransferError) as error:
        ft.Receiver(tmp_path).take(listing)
    assert error.value.kind == ft.REFUSED


def test_a_missing_source_is_named(tmp_path):
    with pytest.raises(ft.TransferError, match="nothing-here") as error:
        ft.entry_of(tmp_path / "nothing-here", "x")
    assert error.value.kind == ft.MISSING


def test_a_source_that_vanishes_while_sent_is_an_error(tmp_path):
    make(tmp_path, {"a": b"a"})
    entries = entries_of(tmp_path)
    (tmp_path / "a").unlink()
    with pytest.raises(ft.TransferError) as error:
        list(ft.send(entries))
    assert error.value.kind == ft.UNREADABLE


def test_symlinked_directories_are_not_followed(tmp_path):
    make(tmp_path, {"d": None, "d/f": b"f", "elsewhere": None, "elsewhere/g": b"g"})
    os.symlink(tmp_path / "elsewhere", tmp_path / "d" / "link")
    assert [e.name for e in ft.tree(tmp_path / "d", "d")] == ["d", "d/f"]
