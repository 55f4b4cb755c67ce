"""Number and date formatting (app.components.numbers) and the column formats built on it."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.components import numbers
from app.components.tables import column_formats, column_kinds

FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def _parse(text: str) -> float:
    """The value a formatted number reads as (thousands separators removed)."""
    body = text.replace(",", "")
    assert body.count(".") <= 1
    return float(body)


def test_examples_of_the_contract() -> None:
    assert numbers.pct(0.123) == "12.3%"
    assert numbers.money(12345.67) == "$12,345.67"
    assert numbers.money(12345.67, "EUR") == "12,345.67 EUR"
    assert numbers.number(12345.678) == "12,345.68"
    assert numbers.integer(12345.0) == "12,345"
    assert numbers.ratio(1.2345) == "1.23"
    assert numbers.day(pd.Timestamp("2013-05-01")) == "2013-05-01"
    assert numbers.day(pd.Timestamp("2013-05-01 14:30")) == "2013-05-01 14:30"


@pytest.mark.parametrize(
    "missing", [None, float("nan"), np.nan, np.float64("nan"), pd.NA, pd.NaT, "not a number"]
)
def test_missing_values_show_a_dash(missing: object) -> None:
    for formatter in (numbers.pct, numbers.money, numbers.number, numbers.integer, numbers.ratio):
        assert formatter(missing) == numbers.MISSING
    if missing is not None and not isinstance(missing, str | float):
        assert numbers.day(missing) == numbers.MISSING
    assert numbers.day(None) == numbers.MISSING


def test_infinities_and_negatives() -> None:
    assert numbers.ratio(float("inf")) == "∞"
    assert numbers.pct(float("-inf")) == "-∞"
    assert numbers.money(-1234.5) == "-$1,234.50"
    assert numbers.money(-1234.5, "eur") == "-1,234.50 EUR"
    assert numbers.pct(-0.0512) == "-5.1%"
    assert numbers.integer(-1234567) == "-1,234,567"
    # A value that rounds to zero never shows a minus sign.
    assert numbers.pct(-0.00001) == "0.0%"
    assert numbers.number(-0.001) == "0.00"
    assert numbers.money(-0.001) == "$0.00"


def test_numpy_and_integer_inputs() -> None:
    assert numbers.integer(np.int64(1234567)) == "1,234,567"
    assert numbers.ratio(np.float32(1.5)) == "1.50"
    assert numbers.pct(1) == "100.0%"
    assert numbers.integer(2**53) == "9,007,199,254,740,992"


@given(FINITE, st.integers(min_value=0, max_value=6))
def test_number_round_trips_through_its_separators(x: float, digits: int) -> None:
    text = numbers.number(x, digits)
    assert math.isclose(_parse(text), round(x, digits), abs_tol=10**-digits)
    integral = text.split(".")[0].lstrip("-")
    groups = integral.split(",")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
    assert (digits == 0) == ("." not in text)


@given(FINITE)
def test_money_round_trips(x: float) -> None:
    text = numbers.money(x)
    negative = text.startswith("-")
    body = text.lstrip("-")
    assert body.startswith("$")
    value = _parse(body[1:]) * (-1 if negative else 1)
    assert math.isclose(value, x, abs_tol=0.005 + abs(x) * 1e-15)
    other = numbers.money(x, "CHF")
    assert other.endswith(" CHF") and math.isclose(_parse(other[:-4]), x, abs_tol=0.0051)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_integer_round_trips(n: int) -> None:
    text = numbers.integer(n)
    assert int(text.replace(",", "")) == n
    assert numbers.integer(float(n)) == text or abs(n) > 2**53


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(0, 4))
def test_pct_is_the_fraction_times_100(x: float, digits: int) -> None:
    text = numbers.pct(x, digits)
    assert text.endswith("%")
    assert math.isclose(_parse(text[:-1]), x * 100, abs_tol=10**-digits)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)))
def test_midnight_shows_no_time(moment: datetime) -> None:
    text = numbers.day(moment)
    midnight = moment.time() == datetime.min.time()
    assert text.startswith(moment.strftime("%Y-%m-%d"))
    assert "00:00:00" not in text
    if midnight:
        assert text == moment.strftime("%Y-%m-%d")
        assert numbers.day(pd.Timestamp(moment)) == text
        assert numbers.day(np.datetime64(moment)) == text
    else:
        assert text == moment.strftime("%Y-%m-%d %H:%M")


def test_day_of_dates_strings_and_aware_timestamps() -> None:
    assert numbers.day(date(2013, 5, 1)) == "2013-05-01"
    assert numbers.day("2013-05-01T00:00:00") == "2013-05-01"
    aware = datetime(2013, 5, 1, 14, 30, tzinfo=UTC)
    assert numbers.day(aware) == "2013-05-01 14:30"
    assert numbers.day(pd.Timestamp("2013-05-01", tz="America/New_York")) == "2013-05-01"


def test_column_kinds_follow_dtype_and_name() -> None:
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2013-05-01", "2013-05-02"]),
            "stamp": pd.to_datetime(["2013-05-01 14:30", "2013-05-02 00:00"]),
            "total_return": [0.1, 0.2],
            "Max drawdown": [-0.1, -0.2],
            "max_drawdown_duration": [10.0, 12.0],
            "Sharpe": [1.2, 0.3],
            "equity": [1e5, 1.1e5],
            "n_trades": [3.0, np.nan],
            "version": [1, 2],
            "oos_return %": [1.2, 3.4],
            "score": [0.123456789, 2.0],
            "name": ["a", "b"],
            "ok": [True, False],
        }
    )
    assert column_kinds(frame) == {
        "date": "date",
        "stamp": "date",
        "total_return": "percent",
        "Max drawdown": "percent",
        "max_drawdown_duration": "integer",
        "Sharpe": "ratio",
        "equity": "money",
        "n_trades": "integer",
        "version": "integer",
        "oos_return %": "number",
        "score": "number",
    }
    config = column_formats(frame, kinds={"score": "ratio"})
    assert set(config) == set(column_kinds(frame))
    assert config["date"]["type_config"]["format"] == "YYYY-MM-DD"
    assert config["stamp"]["type_config"]["format"] == "YYYY-MM-DD HH:mm"
    assert config["total_return"]["type_config"]["format"] == "percent"
    assert config["equity"]["type_config"]["format"] == "dollar"
    assert config["n_trades"]["type_config"]["format"] == "%,d"
    assert config["version"]["type_config"]["format"] == "%d"
    assert config["score"]["type_config"]["format"] == "%.2f"
    euro = column_formats(frame[["equity"]], currency="eur")
    assert euro["equity"]["type_config"]["format"] == "%,.2f EUR"


def test_column_formats_of_date_objects() -> None:
    frame = pd.DataFrame({"first": [date(2013, 5, 1), None]})
    config = column_formats(frame)
    assert config["first"]["type_config"]["format"] == "YYYY-MM-DD"
