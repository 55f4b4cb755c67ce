"""core.data.stored.read_verified keeps a verified frame in-process: an unchanged file is
not read or checked again, any change of the file is (and a damaged one is refused)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import core.data.stored as stored
from core.data.loaders import DataSourceError
from core.data.synthetic import SyntheticSpec, generate
from core.data.validation import validate_frame

LATER_NS = 3_600 * 10**9  # an injected clock an hour ahead: every file counts as settled


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The labels of the files validated (each full check appends one)."""
    seen: list[str] = []

    def counting(raw: pd.DataFrame, *, source: str = "dataset") -> object:
        seen.append(source)
        return validate_frame(raw, source=source)

    stored.clear_verified_cache()
    monkeypatch.setattr(stored, "validate_frame", counting)
    yield seen
    stored.clear_verified_cache()


def _canonical(seed: int, bars: int = 300) -> pd.DataFrame:
    raw = generate(SyntheticSpec(bars=bars, seed=seed))[0].rename_axis("date")
    return validate_frame(raw, source="test").frame


def _write(path: Path, frame: pd.DataFrame) -> str:
    blob, checksum = stored.parquet_blob(frame)
    path.write_bytes(blob)
    return checksum


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored, "_clock_ns", lambda: time.time_ns() + LATER_NS)


def test_a_second_load_of_an_unchanged_file_skips_the_checks(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    frame = _canonical(1)
    path = tmp_path / "a.parquet"
    checksum = _write(path, frame)
    first = stored.read_verified("uploads/a", str(path), checksum)
    second = stored.read_verified("uploads/a", str(path), checksum)
    assert checks == ["uploads/a"]  # validated once
    pd.testing.assert_frame_equal(first, frame, check_exact=True)
    pd.testing.assert_frame_equal(second, frame, check_exact=True)
    assert second is not first
    second.loc[second.index[0], "close"] = -1.0  # the caller's copy; the kept one is intact
    third = stored.read_verified("uploads/a", str(path), checksum)
    pd.testing.assert_frame_equal(third, frame, check_exact=True)
    assert checks == ["uploads/a"] and stored.verified_cache_size() == 1


def test_a_changed_file_is_checked_again_and_a_damaged_one_refused(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    path = tmp_path / "b.parquet"
    checksum = _write(path, _canonical(2))
    stored.read_verified("uploads/b", str(path), checksum)
    # another frame written over it: the recorded checksum no longer matches
    _write(path, _canonical(3, bars=320))
    with pytest.raises(DataSourceError, match="does not match the checksum"):
        stored.read_verified("uploads/b", str(path), checksum)
    assert stored.verified_cache_size() == 0  # the kept frame of the old file is gone


def test_a_same_size_replacement_with_the_old_mtime_is_checked_again(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    path = tmp_path / "c.parquet"
    checksum = _write(path, _canonical(4))
    stored.read_verified("uploads/c", str(path), checksum)
    old = os.stat(path)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one byte flipped, same size
    keep_old_inode = path.open("rb")  # the old inode stays in use, so it is not reused
    try:
        tmp = tmp_path / "c.tmp"
        tmp.write_bytes(bytes(blob))
        os.utime(tmp, ns=(old.st_atime_ns, old.st_mtime_ns))
        os.replace(tmp, path)
        new = os.stat(path)
        assert (new.st_size, new.st_mtime_ns) == (old.st_size, old.st_mtime_ns)
        with pytest.raises(DataSourceError, match="does not match the checksum"):
            stored.read_verified("uploads/c", str(path), checksum)
    finally:
        keep_old_inode.close()


def test_a_file_changed_within_the_racy_window_is_not_kept(
    tmp_path: Path, checks: list[str]
) -> None:
    """On the real clock a just-written file is checked on every load: an in-place rewrite
    in the same timestamp tick could keep its stat, so it is never trusted by its stat."""
    path = tmp_path / "d.parquet"
    checksum = _write(path, _canonical(5))
    for _ in range(3):
        stored.read_verified("uploads/d", str(path), checksum)
    assert checks == ["uploads/d"] * 3 and stored.verified_cache_size() == 0


def test_a_new_checksum_or_no_checksum_is_checked_again(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    path = tmp_path / "e.parquet"
    checksum = _write(path, _canonical(6))
    stored.read_verified("uploads/e", str(path), checksum)
    with pytest.raises(DataSourceError, match="does not match the checksum"):
        stored.read_verified("uploads/e", str(path), hashlib.sha256(b"other").hexdigest())
    stored.read_verified("uploads/e", str(path), None)  # legacy rows: always checked
    stored.read_verified("uploads/e", str(path), None)
    assert checks == ["uploads/e"] * 3


def test_the_cache_is_bounded(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    monkeypatch.setattr(stored, "VERIFIED_MAX_FRAMES", 3)
    files = []
    for k in range(5):
        path = tmp_path / f"f{k}.parquet"
        files.append((str(path), _write(path, _canonical(10 + k, bars=60))))
    for k, (path, checksum) in enumerate(files):
        stored.read_verified(f"uploads/f{k}", path, checksum)
    assert stored.verified_cache_size() == 3
    stored.read_verified("uploads/f4", *files[4])  # kept
    stored.read_verified("uploads/f0", *files[0])  # dropped (least recently used)
    assert checks == [f"uploads/f{k}" for k in range(5)] + ["uploads/f0"]
    monkeypatch.setattr(stored, "VERIFIED_MAX_BYTES", 1)  # nothing fits: always checked
    stored.clear_verified_cache()
    stored.read_verified("uploads/f1", *files[1])
    assert stored.verified_cache_size() == 0


def test_a_missing_file_is_reported(tmp_path: Path, checks: list[str]) -> None:
    with pytest.raises(DataSourceError, match="cannot be read"):
        stored.read_verified("uploads/g", str(tmp_path / "none.parquet"), "0" * 64)
