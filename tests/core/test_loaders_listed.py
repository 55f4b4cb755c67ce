"""The embedded loaders skip re-validation only for bytes the stored listing vouches for."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.config import get_settings
from core.data import loaders
from core.data.listing import CATALOG_FILE
from core.data.validation import validate_frame


def _raw(source: loaders.DataSource, symbol: str) -> pd.DataFrame:
    frame = loaders._read_parquet(source._path)  # type: ignore[attr-defined]
    if source.name == "ohlcv_daily":
        return frame[frame["symbol"] == symbol].drop(columns="symbol").set_index("date")
    return frame[[symbol]].rename(columns={symbol: "close"})


@pytest.mark.parametrize("dataset", ["ohlcv_daily", "sp500_closes"])
def test_listed_files_load_the_validated_frame(dataset: str) -> None:
    source = loaders.embedded_sources()[dataset]
    assert loaders._listed(source._path, dataset)  # type: ignore[attr-defined]
    for symbol in source.symbols():
        slow = validate_frame(_raw(source, symbol), source="t", ohlc="warn").frame
        pd.testing.assert_frame_equal(source.load(symbol), slow, check_freq=True, check_flags=True)


def test_a_changed_file_is_validated_again(tmp_path: Path) -> None:
    folder = get_settings().data_dir
    shutil.copy(folder / CATALOG_FILE, tmp_path / CATALOG_FILE)
    path = tmp_path / "ohlcv_daily.parquet"
    long = pd.read_parquet(folder / "ohlcv_daily.parquet")
    long.loc[long.index[0], "close"] = -1.0  # a planted defect: the checksum no longer matches
    long.to_parquet(path)
    assert not loaders._listed(path, "ohlcv_daily")
    symbol = str(long["symbol"].iloc[0])
    with pytest.raises(ValueError):
        loaders.EmbeddedOHLCV(path).load(symbol)
