"""The validator: each defect class refused with its own actionable message, declared
formats read correctly, and every defect of a file reported in one pass.

Expected values are written out by hand from the file contents (the day a string
denotes, the number a decimal-comma cell denotes), never computed by the code under test.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from core.data.validation import (
    DataValidationError,
    Defect,
    read_format,
    validate_frame,
    validate_upload,
)

LIMIT = 1_000_000


def defects_of(payload: bytes, name: str = "f.csv", limit: int = LIMIT, **fmt: str) -> list[Defect]:
    with pytest.raises(DataValidationError) as info:
        validate_upload(name, payload, max_bytes=limit, fmt=read_format(**fmt) if fmt else None)
    assert info.value.defects, "a refusal always names at least one defect"
    return info.value.defects


def accepted(payload: bytes, name: str = "f.csv", **fmt: str) -> pd.DataFrame:
    return validate_upload(name, payload, max_bytes=LIMIT, fmt=read_format(**fmt)).frame


def codes(defects: list[Defect]) -> set[str]:
    return {d.code for d in defects}


def days(frame: pd.DataFrame) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in frame.index]


# ------------------------------------------------------------------ accepted files
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


def test_bom_is_ignored() -> None:
    frame = accepted(b"\xef\xbb\xbfDate,Close\n2021-05-03,10.5\n")
    assert frame["close"].tolist() == [10.5]


def test_utf16_with_bom() -> None:
    frame = accepted("date,close\n2021-05-03,10.5\n".encode("utf-16"))
    assert frame["close"].tolist() == [10.5]


def test_descending_rows_are_sorted_with_a_warning() -> None:
    result = validate_upload("u.csv", b"date,close\n2020-01-03,2\n2020-01-02,1\n", max_bytes=LIMIT)
    assert result.frame["close"].tolist() == [1.0, 2.0]
    assert any("descending" in w and "sorted" in w for w in result.warnings)


def test_out_of_order_rows_are_sorted_and_the_first_one_is_named() -> None:
    payload = b"date,close\n2020-01-02,1\n2020-01-06,3\n2020-01-03,2\n"
    result = validate_upload("u.csv", payload, max_bytes=LIMIT)
    assert result.frame["close"].tolist() == [1.0, 2.0, 3.0]
    (warning,) = result.warnings
    assert "line 4" in warning and "2020-01-03 after 2020-01-06" in warning


def test_iso_timestamps_with_times_are_kept() -> None:
    # intraday times without an offset need their zone declared (tests/core/test_intraday_upload.py)
    frame = accepted(b"date,close\n2020-01-02T15:30:00,1\n2020-01-02 16:00,2\n", timezone="UTC")
    assert list(frame.index) == [pd.Timestamp("2020-01-02 15:30"), pd.Timestamp("2020-01-02 16:00")]


def test_one_utc_offset_everywhere_keeps_wall_clock_time() -> None:
    # Midnight in Paris is 23:00 UTC the day before: a UTC conversion would shift the day.
    frame = accepted(b"date,close\n2020-01-02T00:00:00+01:00,1\n2020-01-03T00:00:00+01:00,2\n")
    assert days(frame) == ["2020-01-02", "2020-01-03"]


# ------------------------------------------------------------------ dates
def test_day_first_dates_are_refused_when_every_day_is_at_most_12() -> None:
    # Old code read 02/01/2020 as February 1st.
    (d,) = defects_of(b"date,close\n02/01/2020,1\n03/01/2020,2\n06/01/2020,3\n")
    assert d.code == "ambiguous_dates"
    assert "%d/%m/%Y" in d.message and "%m/%d/%Y" in d.message
    assert d.rows == ["line 2", "line 3", "line 4"]


def test_day_first_dates_are_refused_even_when_a_day_above_12_settles_them() -> None:
    # Decided: the order is never inferred; the message says which order it looks like.
    (d,) = defects_of(b"date,close\n12/01/2020,1\n13/01/2020,2\n")
    assert d.code == "ambiguous_dates"
    assert "'13/01/2020' (line 3) look day-first" in d.message
    assert "--date-format %d/%m/%Y" in d.message


def test_month_first_is_named_when_a_second_field_is_above_12() -> None:
    (d,) = defects_of(b"date,close\n01/12/2020,1\n01/13/2020,2\n")
    assert "month-first" in d.message and "--date-format %m/%d/%Y" in d.message


def test_inconsistent_day_month_order_is_refused() -> None:
    (d,) = defects_of(b"date,close\n13/01/2020,1\n01/14/2020,2\n")
    assert d.code == "ambiguous_dates" and "mix day-first and month-first" in d.message


def test_declared_day_first_format_reads_the_right_days() -> None:
    frame = accepted(b"date,close\n02/01/2020,1\n03/01/2020,2\n", date_format="%d/%m/%Y")
    assert days(frame) == ["2020-01-02", "2020-01-03"]  # 2 and 3 January


def test_declared_month_first_format_reads_the_right_days() -> None:
    frame = accepted(b"date,close\n02/01/2020,1\n03/01/2020,2\n", date_format="%m/%d/%Y")
    assert days(frame) == ["2020-02-01", "2020-03-01"]


def test_values_that_do_not_match_the_declared_format_are_named() -> None:
    (d,) = defects_of(b"date,close\n02/01/2020,1\n2020-01-03,2\n", date_format="%d/%m/%Y")
    assert d.code == "dates_not_in_format" and d.rows == ["line 3"] and "%d/%m/%Y" in d.message


def test_unparseable_dates_name_the_line() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\nyesterday,2\n")
    assert d.code == "unparseable_dates"
    assert d.rows == ["line 3"] and "'yesterday'" in d.message and "ISO" in d.message


@pytest.mark.parametrize(
    "bad",
    [b"2020-02-30", b"2020-13-01", b"9999-01-01", b"0001-01-01", b"2020-01-02T25:00", b"1e308"],
)
def test_impossible_or_out_of_range_dates_are_defects_not_tracebacks(bad: bytes) -> None:
    found = defects_of(b"date,close\n2020-01-02,1\n" + bad + b",2\n")
    assert codes(found) <= {"invalid_dates", "unparseable_dates"}
    assert all(d.rows == ["line 3"] for d in found)


def test_missing_dates_are_named() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n,2\n")
    assert d.code == "missing_dates" and d.rows == ["line 3"]


def test_numeric_dates_in_parquet_are_refused() -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"date": [20200102, 20200103], "close": [1.0, 2.0]}).to_parquet(buffer)
    (d,) = defects_of(buffer.getvalue(), name="n.parquet")
    assert d.code == "numeric_dates" and d.rows == ["row 1", "row 2"]


# ------------------------------------------------------------------ time zones
def test_several_utc_offsets_need_a_declared_time_zone() -> None:
    payload = b"date,close\n2020-03-27T00:00+01:00,1\n2020-03-30T00:00+02:00,2\n"
    (d,) = defects_of(payload)
    assert d.code == "mixed_utc_offsets" and "--timezone" in d.message
    assert "+01:00" in d.message and "+02:00" in d.message


def test_declared_time_zone_converts_to_local_time() -> None:
    # 2020-03-29 22:00Z is 00:00 on the 30th in Berlin (CEST, +02:00).
    payload = b"date,close\n2020-03-27T00:00+01:00,1\n2020-03-29T22:00Z,2\n"
    frame = accepted(payload, timezone="Europe/Berlin")
    assert list(frame.index) == [pd.Timestamp("2020-03-27"), pd.Timestamp("2020-03-30")]


def test_naive_and_aware_timestamps_mixed_are_refused() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02T00:00+01:00,1\n2020-01-03,2\n")
    assert d.code == "mixed_timezones" and d.rows == ["line 3"] and "--timezone" in d.message


def test_tz_aware_parquet_column_is_kept_in_its_zone_or_converted() -> None:
    idx = pd.DatetimeIndex(["2020-01-02", "2020-01-03"]).tz_localize("America/New_York")
    buffer = io.BytesIO()
    pd.DataFrame({"date": idx, "close": [1.0, 2.0]}).to_parquet(buffer)
    frame = accepted(buffer.getvalue(), name="z.parquet")
    assert days(frame) == ["2020-01-02", "2020-01-03"]
    tokyo = accepted(buffer.getvalue(), name="z.parquet", timezone="Asia/Tokyo")
    assert list(tokyo.index) == [pd.Timestamp("2020-01-02 14:00"), pd.Timestamp("2020-01-03 14:00")]


# ------------------------------------------------------------------ numbers
def test_decimal_comma_is_refused_not_read_as_thousands() -> None:
    # Old code read "100,13" as 10013.
    (d,) = defects_of(b'date,close\n2020-01-02,"100,13"\n')
    assert d.code == "ambiguous_number_format" and d.rows == ["line 2"]
    assert "--decimal ," in d.message and "--thousands ," in d.message


def test_declared_decimal_comma_is_read() -> None:
    frame = accepted(b"date;close\n2020-01-02;100,13\n2020-01-03;1,5\n", decimal=",")
    assert frame["close"].tolist() == [100.13, 1.5]


def test_thousands_separator_is_refused_unless_declared() -> None:
    (d,) = defects_of(b'date,close\n2020-01-02,"1,234.50"\n')
    assert d.code == "ambiguous_number_format" and "--thousands ," in d.message
    frame = accepted(b'date,close\n2020-01-02,"1,234.50"\n2020-01-03,999\n', thousands=",")
    assert frame["close"].tolist() == [1234.5, 999.0]


def test_european_number_format_once_declared() -> None:
    (d,) = defects_of(b"date;close\n2020-01-02;1.234,50\n")
    assert "--decimal , --thousands ." in d.message
    frame = accepted(b"date;close\n2020-01-02;1.234,50\n", decimal=",", thousands=".")
    assert frame["close"].tolist() == [1234.5]


def test_misplaced_thousands_separator_is_refused() -> None:
    (d,) = defects_of(b'date,close\n2020-01-02,"12,34.5"\n', thousands=",")
    assert d.code == "ambiguous_number_format" and d.rows == ["line 2"]


def test_non_numeric_values() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03,ten\n")
    assert d.code == "non_numeric" and d.column == "close" and d.rows == ["line 3"]
    assert "'ten'" in d.message


def test_currency_symbols_are_named() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,$101.5\n")
    assert d.code == "non_numeric" and "currency" in d.message


def test_nan_values() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03,\n2020-01-06,NaN\n")
    assert d.code == "missing_values" and d.rows == ["line 3", "line 4"]


def test_infinite_values() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03,inf\n2020-01-06,1e999\n")
    assert d.code == "infinite_values" and d.rows == ["line 3", "line 4"]


# ------------------------------------------------------------------ value rules
def test_non_positive_prices() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,0\n2020-01-03,-5\n2020-01-06,3\n")
    assert d.code == "non_positive_prices" and d.rows == ["line 2", "line 3"]
    assert "2020-01-02" in d.message and "2020-01-03" in d.message


def test_negative_volume() -> None:
    (d,) = defects_of(b"date,close,volume\n2020-01-02,1,-10\n2020-01-03,1,0\n")
    assert d.code == "negative_volume" and d.rows == ["line 2"]


def test_high_below_low() -> None:
    found = defects_of(b"date,high,low,close\n2020-01-02,9,10,9.5\n2020-01-03,11,10,10.5\n")
    d = next(d for d in found if d.code == "high_below_low")
    assert d.rows == ["line 2"] and "swapped" in d.message
    assert codes(found) == {"high_below_low", "close_outside_range"}  # 9.5 > high 9


def test_close_outside_low_high() -> None:
    payload = b"date,open,high,low,close\n2020-01-02,10,11,9,11.5\n2020-01-03,10,11,9,8\n"
    (d,) = defects_of(payload)
    assert d.code == "close_outside_range" and d.rows == ["line 2", "line 3"]


def test_open_outside_low_high() -> None:
    (d,) = defects_of(b"date,open,high,low,close\n2020-01-02,12,11,9,10\n")
    assert d.code == "open_outside_range" and d.rows == ["line 2"]


def test_close_above_high_without_low() -> None:
    (d,) = defects_of(b"date,high,close\n2020-01-02,10,10.01\n")
    assert d.code == "close_outside_range" and "<= high" in d.message


def test_ohlc_rules_warn_for_sources_the_user_cannot_fix() -> None:
    raw = pd.DataFrame(
        {"high": [10.0], "low": [9.0], "close": [10.5]},
        index=pd.DatetimeIndex(["2020-01-02"], name="date"),
    )
    with pytest.raises(DataValidationError):
        validate_frame(raw)
    kept = validate_frame(raw, ohlc="warn")
    assert kept.frame["close"].tolist() == [10.5]
    assert any("close" in w and "kept as supplied" in w for w in kept.warnings)


def test_duplicate_timestamps() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-02,2\n")
    assert d.code == "duplicate_timestamps" and "2020-01-02" in d.message
    assert d.rows == ["line 2", "line 3"]


# ------------------------------------------------------------------ columns and layout
def test_second_close_column_is_refused_not_dropped() -> None:
    # Old code read the CSV as close and close.1 and silently used the first.
    (d,) = defects_of(b"date,close,close\n2020-01-02,1,2\n")
    assert d.code == "duplicate_columns" and "column 2" in d.message and "column 3" in d.message


def test_close_and_price_alias_conflict() -> None:
    (d,) = defects_of(b"date,Close,Price\n2020-01-02,1,2\n")
    assert d.code == "duplicate_columns"


def test_separate_date_and_time_columns_are_refused() -> None:
    (d,) = defects_of(b"date,time,close\n2020-01-02,09:30,1\n2020-01-02,09:31,2\n")
    assert d.code == "duplicate_columns" and "merge date and time" in d.message


def test_several_symbols_in_one_file() -> None:
    payload = b"symbol,date,close\nAAPL,2020-01-02,1\nMSFT,2020-01-03,2\n"
    (d,) = defects_of(payload)
    assert d.code == "several_symbols" and "AAPL" in d.message and "MSFT" in d.message


def test_ignored_columns_are_stated() -> None:
    result = validate_upload("x.csv", b"date,close,dividend\n2020-01-02,1,0.1\n", max_bytes=LIMIT)
    assert any("ignored column(s): 'dividend'" in w for w in result.warnings)


def test_semicolon_file_is_read_with_its_delimiter_stated() -> None:
    # Old code reported one column named 'date;open;high;low;close'.
    result = validate_upload(
        "s.csv", b"date;open;high;low;close\n2020-01-02;1;2;0.5;1.5\n", max_bytes=LIMIT
    )
    assert result.frame["close"].tolist() == [1.5]
    assert any("';'-delimited" in w for w in result.warnings)


def test_wrong_declared_delimiter_is_explained() -> None:
    found = defects_of(b"date;close\n2020-01-02;1\n", delimiter=",")
    wrong = next(d for d in found if d.code == "wrong_delimiter")
    assert "--delimiter ;" in wrong.message


def test_header_with_two_delimiters_needs_a_declaration() -> None:
    (d,) = defects_of(b"date;close,volume\n2020-01-02;1,2\n")
    assert d.code == "ambiguous_delimiter" and "--delimiter" in d.message


def test_excel_sep_line_declares_the_delimiter() -> None:
    frame = accepted(b"sep=;\ndate;close\n2020-01-02;1\n")
    assert frame["close"].tolist() == [1.0]


def test_rows_with_the_wrong_number_of_fields_are_all_named() -> None:
    (d,) = defects_of(b"date,close\n2020-01-02,1\n2020-01-03\n2020-01-06,3\n2020-01-07\n")
    assert d.code == "wrong_field_count" and d.rows == ["line 3", "line 5"]


def test_empty_file() -> None:
    (d,) = defects_of(b"")
    assert d.code == "empty_file" and "empty" in d.message


def test_whitespace_only_file() -> None:
    (d,) = defects_of(b" \n\n \n")
    assert d.code == "empty_file"


def test_header_without_rows() -> None:
    (d,) = defects_of(b"date,close\n")
    assert d.code == "empty_file" and "no data rows" in d.message


def test_missing_date_column() -> None:
    (d,) = defects_of(b"when,close\n2020-01-02,1\n")
    assert d.code == "missing_date_column"
    assert "'date'" in d.message and "when" in d.message


def test_missing_close() -> None:
    (d,) = defects_of(b"date,open\n2020-01-02,1\n")
    assert d.code == "missing_close" and d.column == "close"


def test_file_over_size_limit() -> None:
    (d,) = defects_of(b"date,close\n" + b"2020-01-02,1\n" * 100, limit=500)
    assert d.code == "file_too_large" and "WORKBENCH_UPLOAD_MAX_MB" in d.message


def test_undecodable_text() -> None:
    (d,) = defects_of("date,close\n2020-01-02,1 €\n".encode("cp1252"))
    assert d.code == "undecodable_text" and "UTF-8" in d.message and d.rows == ["line 2"]


def test_oversized_field_is_a_defect() -> None:
    (d,) = defects_of(b'date,close\n2020-01-02,"' + b"1" * 200_000 + b'"\n')
    assert d.code == "malformed_csv" and d.rows == ["line 2"]


# ------------------------------------------------------------------ one pass
def test_six_problems_are_six_defects() -> None:
    # Old code stopped early and reported four of these six.
    payload = (
        b"date,open,high,low,close,volume\n"
        b"2020-01-02,10,11,9,10.5,100\n"
        b"2020-01-03,10,9,11,10,100\n"  # high < low (and open, close outside the range)
        b"2020-01-03,10,11,9,abc,100\n"  # duplicate date, non-numeric close
        b"2020-01-06,-1,11,9,10,100\n"  # negative open
        b"2020-01-07,10,11,9,10,-5\n"  # negative volume
        b"2020-02-30,10,11,9,10,100\n"  # no such day
    )
    found = defects_of(payload)
    assert codes(found) >= {
        "high_below_low",
        "duplicate_timestamps",
        "non_numeric",
        "non_positive_prices",
        "negative_volume",
        "invalid_dates",
    }
    by_code = {d.code: d for d in found}
    assert by_code["high_below_low"].rows == ["line 3"]
    assert by_code["non_numeric"].rows == ["line 4"]
    assert by_code["non_positive_prices"].rows == ["line 5"]
    assert by_code["negative_volume"].rows == ["line 6"]
    assert by_code["invalid_dates"].rows == ["line 7"]


def test_several_defects_are_all_reported() -> None:
    found = codes(defects_of(b"date,close\n2020-01-02,abc\n2020-01-02,inf\n"))
    assert found == {"non_numeric", "infinite_values", "duplicate_timestamps"}


# ------------------------------------------------------------------ formats and frames
@pytest.mark.parametrize(
    ("option", "value", "flag"),
    [
        ("date_format", "dd/mm/yyyy", "--date-format"),
        ("date_format", "%d/%m", "--date-format"),
        ("decimal", ";", "--decimal"),
        ("thousands", "x", "--thousands"),
        ("delimiter", "::", "--delimiter"),
        ("timezone", "Europe/Pariss", "--timezone"),
    ],
)
def test_bad_format_options_name_their_flag(option: str, value: str, flag: str) -> None:
    with pytest.raises(DataValidationError) as info:
        read_format(**{option: value})
    (d,) = info.value.defects
    assert d.code == "bad_format_option" and d.column == option and d.message.startswith(flag)


def test_same_decimal_and_thousands_separator_is_refused() -> None:
    with pytest.raises(DataValidationError, match="must differ"):
        read_format(decimal=",", thousands=",")


def test_parquet_upload_with_datetime_index() -> None:
    frame = pd.DataFrame(
        {"close": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="date")
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    result = validate_upload("p.parquet", buffer.getvalue(), max_bytes=LIMIT)
    assert result.frame["close"].tolist() == [1.0, 2.0]


def test_parquet_defects_name_rows() -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"date": ["2020-01-02", "2020-01-03"], "close": [1.0, -2.0]}).to_parquet(buffer)
    (d,) = defects_of(buffer.getvalue(), name="p.parquet")
    assert d.code == "non_positive_prices" and d.rows == ["row 2"]


def test_corrupt_parquet() -> None:
    (d,) = defects_of(b"PAR1garbage", name="x.parquet")
    assert d.code == "unreadable_parquet"


def test_validate_frame_accepts_loader_output() -> None:
    raw = pd.DataFrame({"Close": [3.0, 4.0]}, index=pd.DatetimeIndex(["2020-01-02", "2020-01-03"]))
    assert validate_frame(raw).frame["close"].tolist() == [3.0, 4.0]
