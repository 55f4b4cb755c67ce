"""One test per defect class: each is rejected with its own, actionable message."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from core.data.validation import DataValidationError, validate_frame, validate_upload

LIMIT = 1_000_000


def defects_of(payload: bytes, name: str = "f.csv", limit: int = LIMIT) -> list:
    with pytest.raises(DataValidationError) as info:
        validate_upload(name, payload, max_bytes=limit)
    return info.value.defects


def test_valid_csv_becomes_canonical_frame() -> None:
    payload = (
        b"Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1.5,2.5,1,2,200\n"
    )
    result = validate_upload("ok.csv", payload, max_bytes=LIMIT)
    frame = result.frame
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert frame.loc["2020-01-03", "close"] == 2.0
    assert result.warnings == []


def test_date_and_close_only_file_is_enough() -> None:
    result = validate_upload("c.csv", b"date,close\n2021-05-03,10.5\n", max_bytes=LIMIT)
    assert result.frame["close"].tolist() == [10.5]


def test_empty_file() -> None:
    (d,) = defects_of(b"")
    assert d.code == "empty_file" and "empty" in d.message


def test_header_without_rows() -> None:
    (d,) = defects_of(b"date,close\n")
    assert d.code == "empty_file" and "no data rows" in d.message


def test_missing_date_column() -> None:
    (d,) = defects_of(b"when,close\n2020-01-02,1\n")
    assert d.code == "missing_date_column"
    assert "'date'" in d.message and "when" in d.message


def test_unparseable_dates_name_the_line() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\nyesterday,2\n")
    assert d.code == "unparseable_dates"
    assert d.rows == ["line 3"] and "'yesterday'" in d.message and "ISO" in d.message


def test_missing_close() -> None:
    (d,) = defects_of(b"date,open\n2020-01-02,1\n")
    assert d.code == "missing_close" and d.column == "close"


def test_non_numeric_values() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03,ten\n")
    assert d.code == "non_numeric" and d.column == "close" and d.rows == ["line 3"]
    assert "'ten'" in d.message


def test_nan_values() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03,\n2020-01-06,NaN\n")
    assert d.code == "missing_values" and d.rows == ["line 3", "line 4"]


def test_infinite_values() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03,inf\n")
    assert d.code == "infinite_values" and d.rows == ["line 3"]


def test_duplicate_timestamps() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-02,2\n")
    assert d.code == "duplicate_timestamps" and "2020-01-02" in d.message


def test_unsorted_rows_are_sorted_with_a_warning() -> None:
    result = validate_upload("u.csv", b"date,close\n2020-01-03,2\n2020-01-02,1\n", max_bytes=LIMIT)
    assert result.frame["close"].tolist() == [1.0, 2.0]
    assert any("sorted" in w for w in result.warnings)


def test_non_positive_prices() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,0\n2020-01-03,-5\n2020-01-06,3\n")
    assert d.code == "non_positive_prices" and d.rows == ["2020-01-02", "2020-01-03"]


def test_high_below_low() -> None:
    (d,) = defects_of(b"date,high,low,close\n2020-01-02,9,10,9.5\n2020-01-03,11,10,10.5\n")
    assert d.code == "high_below_low" and d.rows == ["2020-01-02"] and "swapped" in d.message


def test_file_over_size_limit() -> None:
    (d,) = defects_of(b"date,close\n" + b"2020-01-02,1\n" * 100, limit=500)
    assert d.code == "file_too_large" and "WORKBENCH_UPLOAD_MAX_MB" in d.message


def test_undecodable_text() -> None:
    (d,) = defects_of("date,close\n2020-01-02,1 €\n".encode("cp1252"))
    assert d.code == "undecodable_text" and "UTF-8" in d.message and d.rows == ["line 2"]


def test_several_defects_are_all_reported() -> None:
    codes = {d.code for d in defects_of(b"date,close\n2020-01-02,abc\n2020-01-02,inf\n")}
    assert codes == {"non_numeric", "infinite_values", "duplicate_timestamps"}


def test_parquet_upload_with_datetime_index() -> None:
    frame = pd.DataFrame(
        {"close": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="date")
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    result = validate_upload("p.parquet", buffer.getvalue(), max_bytes=LIMIT)
    assert result.frame["close"].tolist() == [1.0, 2.0]


def test_corrupt_parquet() -> None:
    (d,) = defects_of(b"PAR1garbage", name="x.parquet")
    assert d.code == "unreadable_parquet"


def test_validate_frame_accepts_loader_output() -> None:
    raw = pd.DataFrame({"Close": [3.0, 4.0]}, index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"]))
    assert validate_frame(raw).frame["close"].tolist() == [3.0, 4.0]
