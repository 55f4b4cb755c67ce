"""Extract the embedded datasets from the wheels of their source packages.

Run once by a maintainer (the outputs are committed in ``data/``); none of the source
packages becomes a runtime dependency::

    pip download --no-deps bokeh-sampledata arch skfolio -d /tmp/wheels
    python scripts/extract_data.py /tmp/wheels

The wheel files are read as zip archives, so nothing is installed.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "data"


def _member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(name)


def _wheel(folder: Path, prefix: str) -> Path:
    (path,) = sorted(folder.glob(f"{prefix}-*.whl"))
    return path


def _ohlcv_from_yahoo_csv(raw: bytes, symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(raw), compression="gzip")
    frame = frame.rename(columns=str.lower)
    frame["date"] = pd.to_datetime(frame["date"], format="%m/%d/%Y")
    out = frame[["date", "open", "high", "low", "close", "volume"]]
    return out.assign(symbol=symbol)


def main(folder: Path) -> None:
    """Write ``data/ohlcv_daily.parquet`` and ``data/sp500_closes.parquet``."""
    bokeh = _wheel(folder, "bokeh_sampledata")
    stocks = pd.read_csv(io.BytesIO(_member(bokeh, "_data/stocks.csv.gz")), compression="gzip")
    stocks = stocks[stocks["Ticker"].isin(["AAPL", "IBM", "MSFT", "GOOG"])].copy()
    # Quandl WIKI prices are not split-adjusted: scale O/H/L/C by Adj Close / Close and
    # volume by the inverse, so that dollar volume is preserved (Quandl's own convention).
    factor = stocks["Adj Close"] / stocks["Close"]
    equities = pd.DataFrame(
        {
            "symbol": stocks["Ticker"],
            "date": pd.to_datetime(stocks["Date"]),
            "open": stocks["Open"] * factor,
            "high": stocks["High"] * factor,
            "low": stocks["Low"] * factor,
            "close": stocks["Adj Close"],
            "volume": stocks["Volume"] / factor,
        }
    )
    arch = _wheel(folder, "arch")
    indices = pd.concat(
        [
            _ohlcv_from_yahoo_csv(_member(arch, "sp500/sp500.csv.gz"), "SP500"),
            _ohlcv_from_yahoo_csv(_member(arch, "nasdaq/nasdaq.csv.gz"), "NASDAQ"),
        ]
    )
    ohlcv = pd.concat([equities, indices], ignore_index=True)
    ohlcv = ohlcv.sort_values(["symbol", "date"]).reset_index(drop=True)
    for col in ("open", "high", "low", "close", "volume"):
        ohlcv[col] = ohlcv[col].astype("float64")
    ohlcv["symbol"] = ohlcv["symbol"].astype("string")
    ohlcv.to_parquet(DATA / "ohlcv_daily.parquet", index=False, compression="zstd")

    skfolio = _wheel(folder, "skfolio")
    prices = pd.read_csv(
        io.BytesIO(_member(skfolio, "data/sp500_dataset.csv.gz")),
        compression="gzip",
        parse_dates=["Date"],
        index_col="Date",
    )
    index = pd.read_csv(
        io.BytesIO(_member(skfolio, "data/sp500_index.csv.gz")),
        compression="gzip",
        parse_dates=["Date"],
        index_col="Date",
    )
    closes = prices.join(index, how="inner").astype("float64")
    closes.index.name = "date"
    closes.to_parquet(DATA / "sp500_closes.parquet", compression="zstd")
    print(f"ohlcv_daily: {len(ohlcv)} rows, symbols {sorted(ohlcv['symbol'].unique())}")
    print(f"sp500_closes: {closes.shape}, columns {list(closes.columns)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
