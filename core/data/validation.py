"""Validation of every dataset into the canonical price frame.

The canonical frame has a sorted, unique, naive ``DatetimeIndex`` named ``date`` and
finite float64 columns among ``open, high, low, close, volume``; ``close`` is required;
prices are > 0, volume >= 0 and ``low <= open, close <= high``.

A file is accepted only when the meaning of every value is certain. Everything else is
refused, and every defect is reported in one pass, each naming the line (CSV), row
(Parquet) or column and the fix. Formats that need a declaration (day-first dates,
decimal commas, thousands separators, several UTC offsets) are read once declared
through :class:`~core.data.formats.ReadFormat`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from core.data._dates import parse_dates
from core.data._numbers import parse_numbers
from core.data._read import (
    Problem,
    RawTable,
    ReadFailure,
    decode,
    listed,
    read_csv_text,
    read_parquet_bytes,
    size_text,
    table_from_frame,
)
from core.data._rules import PRICE_COLUMNS, OhlcPolicy, date_rules, value_rules
from core.data.formats import FLAGS, ReadFormat, option_errors

CANONICAL_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
DATE_ALIASES: tuple[str, ...] = ("date", "datetime", "timestamp", "time", "day")
SYMBOL_ALIASES: tuple[str, ...] = ("symbol", "ticker")
COLUMN_ALIASES: dict[str, str] = {
    "adj close": "adj_close",
    "adj. close": "adj_close",
    "adjclose": "adj_close",
    "adjusted close": "adj_close",
    "price": "close",
    "last": "close",
    "vol": "volume",
    **{a: "date" for a in DATE_ALIASES},
    **{a: "symbol" for a in SYMBOL_ALIASES},
}


@dataclass(frozen=True)
class Defect:
    """One problem in a dataset: what, where, and how to fix it."""

    code: str
    message: str
    column: str | None = None
    rows: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


class DataValidationError(ValueError):
    """Raised when a dataset has defects; nothing has been stored."""

    def __init__(self, defects: list[Defect], source: str = "dataset") -> None:
        self.defects = defects
        self.source = source
        summary = "; ".join(d.message for d in defects)
        super().__init__(f"{source}: {len(defects)} problem(s): {summary}")


@dataclass(frozen=True)
class ValidatedFrame:
    """A canonical frame and the warnings raised while producing it."""

    frame: pd.DataFrame
    warnings: list[str]


def _defect(p: Problem) -> Defect:
    return Defect(p.code, p.message, p.column, list(p.rows))


def read_format(**options: Any) -> ReadFormat:
    """Build a :class:`ReadFormat`, or raise one defect per bad option (naming its flag)."""
    given = {k: v for k, v in options.items() if v is not None}
    try:
        return ReadFormat(**given)
    except ValidationError as exc:
        defects = [
            Defect("bad_format_option", f"{FLAGS.get(option, option)}: {message}", option)
            for option, message in option_errors(exc)
        ]
        raise DataValidationError(defects, "format") from exc


def _normalize(name: str) -> str:
    text = re.sub(r"[\s_]+", " ", name.replace("\ufeff", "").strip().lower())
    return COLUMN_ALIASES.get(text, text)


def _label(header: list[str], i: int) -> str:
    return f"'{header[i]}'" if header[i] else f"unnamed column {i + 1}"


def read_table(
    name: str, payload: bytes, *, max_bytes: int, fmt: ReadFormat | None = None
) -> RawTable:
    """Parse CSV or Parquet bytes into a raw table, or raise with the reason.

    Parameters
    ----------
    name : str
        File name, used in messages and to pick the format (``.parquet`` / ``.pq``).
    payload : bytes
        File contents.
    max_bytes : int
        Size limit; larger files are refused before parsing.
    fmt : ReadFormat, optional
        Declared format (default: nothing declared).
    """
    fmt = fmt or ReadFormat()
    if len(payload) > max_bytes:
        raise DataValidationError(
            [
                Defect(
                    "file_too_large",
                    f"{name} is {size_text(len(payload))}, over the {size_text(max_bytes)} "
                    "limit; split the file or raise WORKBENCH_UPLOAD_MAX_MB",
                )
            ],
            name,
        )
    try:
        if not payload.strip():
            raise ReadFailure(
                Problem("empty_file", f"{name} is empty; export the data again with a header row")
            )
        if payload[:4] == b"PAR1" or name.lower().endswith((".parquet", ".pq")):
            return _table_of(read_parquet_bytes(name, payload))
        return read_csv_text(name, decode(name, payload), fmt)
    except ReadFailure as exc:
        raise DataValidationError([_defect(exc.problem)], name) from exc


def validate_frame(
    raw: pd.DataFrame | RawTable,
    *,
    source: str = "dataset",
    fmt: ReadFormat | None = None,
    ohlc: OhlcPolicy = "refuse",
) -> ValidatedFrame:
    """Turn a raw table into the canonical frame, or raise :class:`DataValidationError`.

    Every defect found is reported at once, each with its own message.

    Parameters
    ----------
    raw : DataFrame or RawTable
        A loader's frame (a datetime index is read as the dates) or a parsed file.
    source : str
        Name used in messages.
    fmt : ReadFormat, optional
        Declared format of text cells.
    ohlc : {"refuse", "warn"}
        What to do with OHLC inconsistencies (high < low, open or close outside
        [low, high]): uploads refuse them; embedded and online sources, whose values the
        user cannot correct, keep them with a warning naming the rows.
    """
    fmt = fmt or ReadFormat()
    table = raw if isinstance(raw, RawTable) else _table_of(raw)
    defects = [_defect(p) for p in table.problems]
    warnings = list(table.notes)
    if table.fatal:
        raise DataValidationError(defects, source)
    if len(table.header) == 0 or (len(table.frame) == 0 and not defects):
        raise DataValidationError(
            [Defect("empty_file", f"{source} has no data rows; add rows below the header")],
            source,
        )
    header, cells, locations = table.header, table.frame, table.locations
    roles: dict[str, list[int]] = {}
    ignored: list[str] = []
    for i, col in enumerate(header):
        role = _normalize(col)
        if role in (*CANONICAL_COLUMNS, "date", "adj_close", "symbol"):
            roles.setdefault(role, []).append(i)
        else:
            ignored.append(_label(header, i))
    for role, positions in roles.items():
        if len(positions) > 1:
            names = ", ".join(f"{_label(header, i)} (column {i + 1})" for i in positions)
            fix = (
                "keep one, or merge date and time into one column like 2020-01-02 15:30"
                if role == "date"
                else "keep one of them"
            )
            defects.append(
                Defect(
                    "duplicate_columns",
                    f"{len(positions)} columns give the {role.replace('_', ' ')}: {names}; "
                    f"which one is meant is not certain: {fix}",
                    role,
                )
            )
    single = {role: pos[0] for role, pos in roles.items() if len(pos) == 1}
    if "date" not in roles:
        found = ", ".join(_label(header, i) for i in range(len(header)))
        defects.append(
            Defect(
                "missing_date_column",
                f"no date column: found {found}; name the column with the dates 'date'",
            )
        )
    close_role = "close"
    if "close" not in roles:
        if "adj_close" in roles:
            close_role = "adj_close"
            warnings.append("no 'close' column: using 'adj close' as close")
        else:
            found = ", ".join(_label(header, i) for i in range(len(header)))
            defects.append(
                Defect(
                    "missing_close",
                    f"no 'close' column: found {found}; add a column named 'close' with "
                    "the closing prices",
                    "close",
                )
            )
    elif "adj_close" in roles:
        warnings.append(
            "'adj close' ignored: the 'close' column is used as is; rename the columns if "
            "you meant the adjusted prices"
        )
    if ignored:
        warnings.append(f"ignored column(s): {', '.join(ignored)}")
    if "symbol" in single:
        symbols = cells[single["symbol"]].dropna().astype(str).str.strip()
        distinct = sorted(set(symbols[symbols != ""]))
        if len(distinct) > 1:
            defects.append(
                Defect(
                    "several_symbols",
                    f"the file holds {len(distinct)} symbols ({listed(distinct)}); import "
                    "one symbol per file (one dataset per symbol)",
                    "symbol",
                )
            )
    n = len(cells)
    dates: np.ndarray | None = None
    date_bad = np.zeros(n, dtype=bool)
    if "date" in single:
        parsed = parse_dates(
            cells[single["date"]],
            header[single["date"]],
            locations,
            fmt,
            from_file=isinstance(raw, RawTable),
        )
        defects.extend(_defect(p) for p in parsed.problems)
        warnings.extend(parsed.notes)
        dates, date_bad = parsed.values, parsed.bad
    numeric: dict[str, np.ndarray] = {}
    bad_any = date_bad.copy()
    for col in CANONICAL_COLUMNS:
        role = close_role if col == "close" else col
        if role not in single:
            continue
        parsed_n = parse_numbers(cells[single[role]], col, locations, fmt)
        defects.extend(_defect(p) for p in parsed_n.problems)
        numeric[col] = parsed_n.values
        bad_any |= parsed_n.bad
    defects.extend(_defect(p) for p in value_rules(numeric, locations, dates, ohlc, warnings))
    order_warnings: list[str] = []
    if dates is not None:
        defects.extend(_defect(p) for p in date_rules(dates, date_bad, locations, order_warnings))
    if defects:
        raise DataValidationError(defects, source)
    assert dates is not None
    canonical = pd.DataFrame(
        {c: numeric[c] for c in CANONICAL_COLUMNS if c in numeric},
        index=pd.DatetimeIndex(dates, name="date").as_unit("ns"),
    )
    if not canonical.index.is_monotonic_increasing:
        canonical = canonical.sort_index(kind="stable")
    if isinstance(raw, RawTable) and len(canonical) > 1:
        interval = _interval_of(canonical.index, source)
        if interval is not None:
            warnings.append(f"{source}: bar interval {interval}")
            warnings.extend(f"{source}: {w}" for w in _start_labelled(canonical.index, interval))
    warnings.extend(f"{source}: {w}" for w in order_warnings)
    return ValidatedFrame(canonical, warnings)


def _interval_of(index: pd.DatetimeIndex, source: str) -> str | None:
    """The bar interval of an intraday file (None for daily bars), or raise the defect
    naming why it has none (:func:`core.data.frequency.bar_interval`)."""
    from core.data.frequency import DAY, bar_interval, freq_text

    try:
        interval = bar_interval(index)
    except ValueError as exc:
        raise DataValidationError(
            [Defect("irregular_bars", f"{exc}; one dataset holds bars of one interval", "date")],
            source,
        ) from exc
    return None if interval >= DAY else freq_text(interval)


def _start_labelled(index: pd.DatetimeIndex, interval: str) -> list[str]:
    """A warning when NYSE-hours bars look stamped with their start time: a bar at the
    09:30 New York open and none at the 16:00 close (a close-labelled session runs from
    09:30 + interval to 16:00)."""
    local = index.tz_localize("UTC").tz_convert("America/New_York")
    minutes = local.hour * 60 + local.minute
    at_open, at_close = bool((minutes == 570).any()), bool((minutes == 960).any())
    if at_open and not at_close:
        return [
            f"bars are stamped 09:30 New York but never 16:00: they look labelled by their "
            f"start time; the workbench labels a bar by its close (09:30-09:31 is 09:31), "
            f"so shift the timestamps by {interval} before importing"
        ]
    return []


def _table_of(raw: pd.DataFrame) -> RawTable:
    """A frame's index becomes a column when it holds data: a datetime index, or one named
    like a date. A datetime index beside a date column is kept as column 'index', so
    that it is listed as ignored rather than silently dropped."""
    if raw is None:
        return RawTable([], pd.DataFrame(), [])
    has_date = any(_normalize(str(c)) == "date" for c in raw.columns)
    index = raw.index
    frame = raw
    named_date = index.name is not None and _normalize(str(index.name)) == "date"
    if isinstance(index, pd.DatetimeIndex) or named_date:
        if has_date:
            frame = raw.reset_index(names="index")
        else:
            frame = raw.reset_index(names="date" if not named_date else str(index.name))
    elif isinstance(index, pd.MultiIndex):
        frame = raw.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return table_from_frame(frame)


def validate_upload(
    name: str, payload: bytes, *, max_bytes: int, fmt: ReadFormat | None = None
) -> ValidatedFrame:
    """Read and validate an uploaded CSV or Parquet file."""
    table = read_table(name, payload, max_bytes=max_bytes, fmt=fmt)
    return validate_frame(table, source=name, fmt=fmt)
