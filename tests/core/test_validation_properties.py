"""Property-based tests of the validator (hypothesis).

1. Any bytes, under any declared format, give either a frame that satisfies the canonical
   invariants (checked here independently of the validator) or a non-empty list of
   defects; never another exception.
2. A known series written in any of the usual formats is, with nothing declared, either
   refused or read exactly; it is never read as different values (no silent guess).
3. The same series with its format declared is read exactly.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.data.validation import DataValidationError, ReadFormat, validate_upload

LIMIT = 1_000_000
CANONICAL = ("open", "high", "low", "close", "volume")
# WORKBENCH_HYPOTHESIS_EXAMPLES raises the count for a longer hunt (default: 200, fast).
FAST = settings(
    max_examples=int(os.environ.get("WORKBENCH_HYPOTHESIS_EXAMPLES", "200")),
    deadline=None,
    database=None,  # no example folder in the working tree
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_canonical(frame: pd.DataFrame) -> None:
    """The invariants every accepted frame must satisfy, checked from scratch."""
    index = frame.index
    assert isinstance(index, pd.DatetimeIndex) and index.name == "date" and index.tz is None
    assert len(frame) >= 1 and not index.isna().any()
    stamps = index.asi8
    assert (np.diff(stamps) > 0).all(), "index strictly increasing (sorted, unique)"
    columns = list(frame.columns)
    assert "close" in columns and columns == [c for c in CANONICAL if c in columns]
    assert all(str(t) == "float64" for t in frame.dtypes)
    values = {c: frame[c].to_numpy() for c in columns}
    for c, v in values.items():
        assert np.isfinite(v).all(), c
    for c in ("open", "high", "low", "close"):
        if c in values:
            assert (values[c] > 0).all(), c
    if "volume" in values:
        assert (values["volume"] >= 0).all()
    if "high" in values and "low" in values:
        assert (values["low"] <= values["high"]).all()
    for c in ("open", "close"):
        if c in values and "high" in values:
            assert (values[c] <= values["high"]).all()
        if c in values and "low" in values:
            assert (values[c] >= values["low"]).all()


def outcome(name: str, payload: bytes, fmt: ReadFormat | None) -> pd.DataFrame | None:
    """The accepted frame (checked), or None when refused with defects."""
    try:
        frame = validate_upload(name, payload, max_bytes=LIMIT, fmt=fmt).frame
    except DataValidationError as exc:
        assert exc.defects and all(d.code and d.message for d in exc.defects)
        return None
    assert_canonical(frame)
    return frame


formats = st.builds(
    ReadFormat,
    date_format=st.sampled_from(["iso", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d.%m.%Y %z"]),
    decimal=st.sampled_from([".", ","]),
    thousands=st.sampled_from(["", " ", "'"]),
    delimiter=st.sampled_from(["auto", ",", ";", "\t"]),
    timezone=st.sampled_from([None, "UTC", "Europe/Berlin", "America/New_York"]),
)
header_cells = st.sampled_from(
    ["date", "Date", "close", "Close", "open", "high", "low", "volume", "adj close", "price",
     "time", "symbol", "x", "", "Close "]
)  # fmt: skip
value_cells = st.one_of(
    st.sampled_from(
        ["2020-01-02", "2020-01-03", "02/01/2020", "13/01/2020", "2020-01-02T00:00+01:00",
         "2020-01-02T00:00Z", "2020-02-30", "9999-12-31", "20200102", "nan", "", "inf",
         "-1", "0", "1,5", "1.234,5", "1 000", "abc", "AAPL", "MSFT", "1e999", "+3", ".5"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10, 10_000).map(str),
    st.text(max_size=8),
)  # fmt: skip


date_cells = st.one_of(
    st.dates(date(1600, 1, 1), date(2400, 12, 31)).map(lambda d: d.isoformat()),
    st.tuples(
        st.dates(date(1990, 1, 1), date(2030, 12, 31)),
        st.sampled_from(["", "T00:00", "T16:00:00", " 09:30"]),
        st.sampled_from(["", "Z", "+01:00", "+02:00", "-05:00", "-04:00"]),
    ).map(lambda t: f"{t[0].isoformat()}{t[1]}{t[2] if t[1] else ''}"),
    st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")),
)
price_cells = st.floats(-5, 1e6, allow_nan=False).map(lambda x: f"{x:.4f}")


@st.composite
def csv_like(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = [draw(header_cells) for _ in range(draw(st.integers(1, 6)))]
    usual = draw(st.booleans())
    if usual:  # half the files have the usual columns, so that the value rules are reached
        header = ["date", "open", "high", "low", "close"][: draw(st.integers(2, 5))] + header[:1]
    width = len(header)
    rows = [
        [draw(value_cells) for _ in range(draw(st.integers(max(0, width - 1), width + 1)))]
        for _ in range(draw(st.integers(0, 8)))
    ]
    for row in rows if usual else []:
        if row:
            row[0] = draw(date_cells)
        row[1:] = [draw(st.one_of(price_cells, value_cells)) for _ in row[1:]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    if draw(st.booleans()):
        buffer.write(f"sep={delimiter}\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, errors="replace")


@st.composite
def parquet_like(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(1, 6))
    columns: dict[str, object] = {}
    for name in draw(st.lists(st.sampled_from(["date", "close", "high", "low", "volume", "x"]),
                              min_size=1, max_size=4, unique=True)):  # fmt: skip
        kind = draw(st.sampled_from(["float", "text", "datetime", "int"]))
        if kind == "float":
            columns[name] = draw(st.lists(st.floats(), min_size=n, max_size=n))
        elif kind == "text":
            columns[name] = draw(st.lists(value_cells, min_size=n, max_size=n))
        elif kind == "int":
            columns[name] = draw(st.lists(st.integers(-5, 10**6), min_size=n, max_size=n))
        else:
            days = draw(st.lists(st.integers(0, 20_000), min_size=n, max_size=n))
            columns[name] = pd.to_datetime(days, unit="D")
    buffer = io.BytesIO()
    pd.DataFrame(columns).to_parquet(buffer)
    return buffer.getvalue()


@FAST
@example(  # raised "Mixed timezones detected" from pandas before
    payload=b"date,close\n2020-01-02T00:00+01:00,1\n2020-07-02T00:00+02:00,1\n",
    fmt=None,
    parquet_name=False,
)
@example(payload=b"date,close\n9999-01-02,1\n", fmt=None, parquet_name=False)  # OutOfBounds
@example(  # was accepted with close outside [low, high]
    payload=b"date,high,low,close\n2020-01-02,10,9,11\n", fmt=None, parquet_name=False
)
@given(
    payload=st.one_of(st.binary(max_size=300), csv_like(), parquet_like()),
    fmt=st.one_of(st.none(), formats),
    parquet_name=st.booleans(),
)
def test_any_bytes_give_a_canonical_frame_or_defects(
    payload: bytes, fmt: ReadFormat | None, parquet_name: bool
) -> None:
    outcome("f.parquet" if parquet_name else "f.csv", payload, fmt)


# ------------------------------------------------------------------ known series
@st.composite
def series(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    first = date(1990, 1, 1) + timedelta(days=draw(st.integers(0, 12_000)))
    days = [first + timedelta(days=sum(gaps[: i + 1])) for i in range(n)]
    cents = st.integers(1, 9_999_999)
    close = [draw(cents) / 100 for _ in range(n)]
    spread = [draw(st.integers(0, 500)) / 100 for _ in range(n)]
    low = [max(0.01, round(c - s, 2)) for c, s in zip(close, spread, strict=True)]
    high = [round(c + s, 2) for c, s in zip(close, spread, strict=True)]
    volume = [float(draw(st.integers(0, 10**7))) for _ in range(n)]
    frame = pd.DataFrame(
        {"high": high, "low": low, "close": close, "volume": volume},
        index=pd.DatetimeIndex(days, name="date").as_unit("ns"),
    )
    return frame


def render(frame: pd.DataFrame, fmt: ReadFormat, descending: bool) -> bytes:
    """Write ``frame`` in ``fmt`` (independently of the reader)."""
    delimiter = "," if fmt.delimiter == "auto" else fmt.delimiter

    def number(x: float) -> str:
        whole, frac = f"{x:.2f}".split(".")
        if fmt.thousands:
            groups = []
            while len(whole) > 3:
                groups.insert(0, whole[-3:])
                whole = whole[:-3]
            whole = fmt.thousands.join([whole, *groups])
        return f"{whole}{fmt.decimal}{frac}"

    rows = [
        [
            d.strftime("%Y-%m-%d" if fmt.date_format == "iso" else fmt.date_format),
            *(number(v) for v in r[:3]),
            str(int(r[3])),
        ]
        for d, r in zip(frame.index, frame.to_numpy(), strict=True)
    ]
    if descending:
        rows.reverse()
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["date", "high", "low", "close", "volume"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


written_formats = (
    st.tuples(
        st.sampled_from(["iso", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d"]),
        st.sampled_from([".", ","]),
        st.sampled_from(["", ",", ".", " "]),
        st.sampled_from(["auto", ",", ";", "\t"]),
    )
    .filter(lambda t: t[1] != t[2])
    .map(lambda t: ReadFormat(date_format=t[0], decimal=t[1], thousands=t[2], delimiter=t[3]))
)


@FAST
@given(truth=series(), fmt=written_formats, descending=st.booleans())
def test_undeclared_formats_are_refused_or_read_exactly(
    truth: pd.DataFrame, fmt: ReadFormat, descending: bool
) -> None:
    frame = outcome("w.csv", render(truth, fmt, descending), None)
    if frame is not None:
        pd.testing.assert_frame_equal(frame, truth[list(frame.columns)], check_freq=False)


@FAST
@given(truth=series(), fmt=written_formats, descending=st.booleans())
def test_declared_formats_are_read_exactly(
    truth: pd.DataFrame, fmt: ReadFormat, descending: bool
) -> None:
    declared = fmt if fmt.delimiter != "auto" else fmt.model_copy(update={"delimiter": ","})
    frame = outcome("w.csv", render(truth, fmt, descending), declared)
    assert frame is not None, "a correctly declared file is accepted"
    pd.testing.assert_frame_equal(frame, truth, check_freq=False)
