"""The stored listing of the embedded datasets (data/CATALOG.json) against the files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.data.listing import CATALOG_FILE, stored_symbols, write_catalog
from core.data.loaders import describe, embedded_sources

DATA = Path(__file__).resolve().parents[2] / "data"


def _described(folder: Path) -> dict[str, tuple[object, ...]]:
    """Each embedded dataset's symbols, computed by loading every frame."""
    return {
        name: describe(src, description="", origin="", license="").symbols
        for name, src in embedded_sources(folder).items()
    }


def test_the_stored_listing_equals_loading_every_symbol() -> None:
    """The committed listing is what loading and validating every frame gives; if this
    fails, regenerate it with ``python -m core.data.catalog``."""
    assert stored_symbols(DATA) == _described(DATA)


def test_a_changed_file_is_described_from_the_file(tmp_path: Path) -> None:
    for name in ("ohlcv_daily.parquet", "sp500_closes.parquet", CATALOG_FILE):
        shutil.copy(DATA / name, tmp_path / name)
    assert set(stored_symbols(tmp_path)) == {
        "ohlcv_daily",
        "sp500_closes",
        "synthetic",
        "synthetic_minutes",
    }
    # Plant a wrong entry: its checksum no longer matches, so it is not trusted.
    raw = json.loads((tmp_path / CATALOG_FILE).read_text())
    raw["datasets"]["ohlcv_daily"]["symbols"] = []
    raw["datasets"]["ohlcv_daily"]["sha256"] = "0" * 64
    (tmp_path / CATALOG_FILE).write_text(json.dumps(raw))
    assert set(stored_symbols(tmp_path)) == {"sp500_closes", "synthetic", "synthetic_minutes"}
    (tmp_path / CATALOG_FILE).write_text("{not json")
    assert stored_symbols(tmp_path) == {}


def test_write_catalog_round_trips(tmp_path: Path) -> None:
    shutil.copy(DATA / "sp500_closes.parquet", tmp_path / "sp500_closes.parquet")
    sources = embedded_sources(tmp_path)
    info = describe(sources["sp500_closes"], description="d", origin="o", license="l")
    write_catalog(tmp_path, [info])
    assert stored_symbols(tmp_path) == {"sp500_closes": info.symbols}
