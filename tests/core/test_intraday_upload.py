"""Intraday timestamps in uploads: stored as naive UTC close times whatever offsets or
declared zone the file uses, refused when their zone is not certain; daily files as before."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.synthetic import session_bar_times
from core.data.validation import DataValidationError, read_format, validate_upload

LIMIT = 10_000_000
OFFSETS = ["Z", "-05:00", "-04:00", "+01:00", "+05:30", "+00:00"]


@pytest.fixture(scope="module")
def minutes() -> pd.DatetimeIndex:
    """UTC close times of 1-minute bars over the March 2024 US and UK clock changes."""
    return session_bar_times(start="2024-03-07", days=18)


def _csv(stamps: list[str]) -> bytes:
    rows = "".join(f"{s},{100 + i * 0.01:.2f}\n" for i, s in enumerate(stamps))
    return f"date,close\n{rows}".encode()


def _offset_text(ts: pd.Timestamp, offset: str) -> str:
    if offset == "Z":
        return f"{ts:%Y-%m-%dT%H:%M:%S}Z"
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    local = ts + sign * pd.Timedelta(hours=hours, minutes=minutes)
    return f"{local:%Y-%m-%dT%H:%M:%S}{offset}"


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_utc_offsets_give_the_utc_close_times(
    minutes: pd.DatetimeIndex, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(minutes) - 400))
    truth = minutes[start : start + data.draw(st.integers(30, 400))]
    offsets = data.draw(
        st.lists(st.sampled_from(OFFSETS), min_size=len(truth), max_size=len(truth))
    )
    payload = _csv([_offset_text(ts, o) for ts, o in zip(truth, offsets, strict=True)])
    checked = validate_upload("m.csv", payload, max_bytes=LIMIT)
    assert list(checked.frame.index) == list(truth)
    assert any("bar interval 1min" in w for w in checked.warnings)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    zone=st.sampled_from(["America/New_York", "Europe/London", "UTC", "Asia/Tokyo"]),
)
def test_naive_local_times_in_a_declared_zone_give_the_utc_close_times(
    minutes: pd.DatetimeIndex, data: st.DataObject, zone: str
) -> None:
    start = data.draw(st.integers(0, len(minutes) - 400))
    truth = minutes[start : start + data.draw(st.integers(30, 400))]
    # the local wall-clock times, computed with zoneinfo (not pandas' localize)
    local = [
        ts.to_pydatetime().replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(zone))
        for ts in truth
    ]
    payload = _csv([f"{t:%Y-%m-%d %H:%M}" for t in local])
    checked = validate_upload("m.csv", payload, max_bytes=LIMIT, fmt=read_format(timezone=zone))
    assert list(checked.frame.index) == list(truth)
    with pytest.raises(DataValidationError) as caught:
        validate_upload("m.csv", payload, max_bytes=LIMIT)
    assert [d.code for d in caught.value.defects] == ["intraday_timezone_unknown"]


def test_declared_day_first_intraday_format(minutes: pd.DatetimeIndex) -> None:
    truth = minutes[:60]
    payload = _csv([f"{ts:%d/%m/%Y %H:%M}" for ts in truth])
    fmt = read_format(date_format="%d/%m/%Y %H:%M", timezone="UTC")
    assert list(validate_upload("m.csv", payload, max_bytes=LIMIT, fmt=fmt).frame.index) == list(
        truth
    )


def test_parquet_intraday_columns(minutes: pd.DatetimeIndex) -> None:
    truth = minutes[:120]
    aware = io.BytesIO()
    frame = pd.DataFrame({"date": truth.tz_localize("UTC").tz_convert("America/New_York")})
    frame.assign(close=np.linspace(100, 101, len(truth))).to_parquet(aware)
    checked = validate_upload("m.parquet", aware.getvalue(), max_bytes=LIMIT)
    assert list(checked.frame.index) == list(truth)
    naive = io.BytesIO()
    pd.DataFrame({"date": truth, "close": np.linspace(100, 101, len(truth))}).to_parquet(naive)
    with pytest.raises(DataValidationError) as caught:
        validate_upload("m.parquet", naive.getvalue(), max_bytes=LIMIT)
    assert [d.code for d in caught.value.defects] == ["intraday_timezone_unknown"]
    utc = read_format(timezone="UTC")
    assert list(
        validate_upload("m.parquet", naive.getvalue(), max_bytes=LIMIT, fmt=utc).frame.index
    ) == list(truth)


def test_daily_files_keep_their_dates() -> None:
    payload = b"date,close\n2024-03-08T00:00-05:00,1\n2024-03-11T00:00-04:00,2\n"
    fmt = read_format(timezone="America/New_York")
    frame = validate_upload("d.csv", payload, max_bytes=LIMIT, fmt=fmt).frame
    assert list(frame.index) == [pd.Timestamp("2024-03-08"), pd.Timestamp("2024-03-11")]
    plain = validate_upload("d.csv", b"date,close\n2024-03-08,1\n2024-03-11,2\n", max_bytes=LIMIT)
    assert plain.warnings == []


def test_start_labelled_bars_are_warned_about(minutes: pd.DatetimeIndex) -> None:
    session = minutes[:390]  # one session of close times, 14:31 .. 21:00 UTC (EST)
    as_closes = validate_upload(
        "c.csv", _csv([_offset_text(t, "Z") for t in session]), max_bytes=LIMIT
    )
    assert not any("start time" in w for w in as_closes.warnings)
    starts = session - pd.Timedelta(minutes=1)  # 14:30 .. 20:59: the vendor's bar starts
    checked = validate_upload(
        "s.csv", _csv([_offset_text(t, "Z") for t in starts]), max_bytes=LIMIT
    )
    (warning,) = [w for w in checked.warnings if "start time" in w]
    assert "09:30 New York" in warning and "by 1min" in warning
