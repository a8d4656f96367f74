"""The atomic-write helper: old or new file, never half; unique temporaries; clear errors; nothing left behind."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from saga_blender.core.atomic_files import (
    atomic_write,
    is_temp_name,
    make_folder,
    remove_stale_temps,
    save_npy,
    write_bytes,
    write_error,
    write_json,
)
from saga_blender.core.errors import DiskFullError, FileWriteError


def _leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n)]


def test_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    write_bytes(target, b"old")
    write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert _leftovers(tmp_path) == []


def test_error_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write(b"half of a new fi")
        raise RuntimeError("cancelled mid-write")
    assert target.read_text().strip().startswith("{") and '"v": 1' in target.read_text()
    assert _leftovers(tmp_path) == []


def test_threads_never_share_a_temporary(tmp_path):
    target = tmp_path / "ids.npy"
    errors = []

    def writer(i):
        try:
            for _ in range(20):
                save_npy(target, np.full(1000, i))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    values = np.load(target)
    assert len(set(values.tolist())) == 1  # one writer's whole array, never a mix
    assert _leftovers(tmp_path) == []


def test_no_overwrite_refuses_an_existing_file(tmp_path):
    target = tmp_path / "keep.ply"
    target.write_bytes(b"precious")
    with pytest.raises(FileWriteError, match="already exists"):
        write_bytes(target, b"x", overwrite=False)
    assert target.read_bytes() == b"precious"
    write_bytes(tmp_path / "new.ply", b"x", overwrite=False)
    assert (tmp_path / "new.ply").read_bytes() == b"x"


def test_permissions_for_secrets(tmp_path):
    write_bytes(tmp_path / "token", b"s3cret", permissions=0o600)
    assert os.stat(tmp_path / "token").st_mode & 0o777 == 0o600


def test_missing_folder_is_not_created_silently(tmp_path):
    with pytest.raises(FileWriteError, match="does not exist"):
        write_bytes(tmp_path / "nope" / "a.bin", b"x")
    assert not (tmp_path / "nope").exists()


def test_make_folder_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileWriteError, match="is a file, not a"):
        make_folder(tmp_path / "f", "work folder")
    assert make_folder(tmp_path / "a" / "b") == str(tmp_path / "a" / "b")


def test_numpy_short_write_reads_as_disk_full(tmp_path):
    err = write_error(str(tmp_path / "x.npz"), OSError("1379840 requested and 1349600 written"))
    assert isinstance(err, DiskFullError)
    assert "x.npz" in str(err) and "disk is full" in str(err)


def test_stale_temporaries_are_removed(tmp_path):
    stale = tmp_path / ".a.bin.0123456789abcdef.saga-tmp"
    stale.write_bytes(b"x")
    os.utime(stale, (1, 1))
    fresh = tmp_path / ".b.bin.0123456789abcdef.saga-tmp"
    fresh.write_bytes(b"x")
    other = tmp_path / "user.tmp"
    other.write_bytes(b"x")
    assert remove_stale_temps(str(tmp_path)) == 1
    assert not stale.exists() and fresh.exists() and other.exists()


def test_full_disk_on_a_real_small_filesystem(small_filesystem):
    """A 1 MiB tmpfs: the write fails with one error naming the file, the old file stays, no temporaries."""
    target = small_filesystem / "big.npy"
    save_npy(target, np.zeros(1000))
    before = target.read_bytes()
    with pytest.raises(DiskFullError, match=r"big\.npy: cannot write: the disk is full"):
        save_npy(target, np.zeros(4 << 20, np.uint8))
    assert target.read_bytes() == before
    assert _leftovers(small_filesystem) == []
