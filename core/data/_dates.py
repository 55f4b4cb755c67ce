"""Date cells to naive wall-clock timestamps, refusing every cell whose meaning is not certain.

Dates are ISO 8601 unless a ``strftime`` format is declared. Day/month orders are never
inferred, even when a day above 12 would settle it: the defect names the order the file
seems to use and the flag that declares it. UTC offsets are kept as wall-clock time when
every timestamp has the same one; several offsets, or a mix of naive and offset
timestamps, need a declared time zone (the exchange's), into whose local time they are
converted.

Intraday timestamps (any time of day other than midnight) follow the workbench's intraday
convention instead (:data:`INTRADAY_CONVENTION`): they are converted to UTC and stored
naive. A UTC offset makes that exact; a file's timestamps without one need the declared
time zone they are in (``--timezone America/New_York``, or ``UTC``), and a local time
that a daylight-saving change makes ambiguous or non-existent is refused. Frames handed
over by code (loaders, stored datasets) are already canonical: their naive intraday
timestamps are kept as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.data._cells import MISSING_TOKENS, as_text, locations_of, samples
from core.data._read import Problem, listed
from core.data.formats import ISO, ReadFormat

_ISO = re.compile(
    r"^(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<z>Z|UTC|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T].*)?$")
_MIN_YEAR, _MAX_YEAR = 1678, 2261  # nanosecond timestamps' range
INTRADAY_CONVENTION = (
    "each bar is read as stamped with its close time (right-labelled: the 14:30-14:31 UTC "
    "minute is 14:31)"
)
"""How imported intraday timestamps are stored (as ``core.feeds.base.LABEL_CONVENTION``)."""
_DAY_NS = 86_400 * 10**9


def _intraday(values: np.ndarray, valid: np.ndarray) -> bool:
    """Whether any valid timestamp has a time of day other than midnight (wall clock)."""
    stamps = values[valid].astype("datetime64[ns]").astype("int64")
    return bool(len(stamps)) and bool(np.any(stamps % _DAY_NS != 0))


@dataclass
class ParsedDates:
    """Naive wall-clock timestamps (NaT where a cell was refused) and what was found."""

    values: np.ndarray  # datetime64[ns]
    bad: np.ndarray  # bool: refused cells
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_dates(
    cells: pd.Series,
    column: str,
    locations: list[str],
    fmt: ReadFormat,
    *,
    from_file: bool = True,
) -> ParsedDates:
    """Parse a date column; every refused cell is named with its line.

    ``from_file=False`` (a frame from code): naive intraday datetimes are taken as UTC.
    """
    n = len(cells)
    if pd.api.types.is_datetime64_any_dtype(cells.dtype):
        series = pd.Series(pd.DatetimeIndex(cells))
        notes = []
        tz = getattr(series.dt, "tz", None)
        # daily when midnight in the values' own zone or in the declared one
        walls = [series.dt.tz_localize(None) if tz is not None else series]
        if tz is not None and fmt.timezone:
            walls.append(series.dt.tz_convert(fmt.timezone).dt.tz_localize(None))
        intraday = all(
            _intraday(w.to_numpy(dtype="datetime64[ns]"), w.notna().to_numpy()) for w in walls
        )
        if intraday and (tz is not None or from_file):
            return _intraday_datetimes(series, column, locations, fmt)
        if tz is not None:
            if fmt.timezone:
                series = series.dt.tz_convert(fmt.timezone)
            series = series.dt.tz_localize(None)
            notes.append(
                f"column '{column}': timestamps in zone {fmt.timezone or tz} kept as "
                "local wall-clock time"
            )
        values = series.to_numpy(dtype="datetime64[ns]")
        bad = np.isnat(values)
        problems: list[Problem] = []
        if bad.any():
            problems.append(_missing_dates(column, bad, locations))
        return ParsedDates(values, bad, problems, notes)
    if pd.api.types.is_bool_dtype(cells.dtype) or pd.api.types.is_numeric_dtype(cells.dtype):
        bad = np.ones(n, dtype=bool)
        return ParsedDates(
            np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"),
            bad,
            [
                Problem(
                    "numeric_dates",
                    f"column '{column}' holds numbers ({samples(cells, bad, locations)}), "
                    "not dates; write the dates as ISO text like 2020-01-31 (Unix "
                    "timestamps and spreadsheet serial numbers are not read)",
                    column,
                    locations_of(bad, locations),
                )
            ],
        )
    text = as_text(cells)
    missing = text.isna().to_numpy() | text.fillna("").str.lower().isin(MISSING_TOKENS).to_numpy()
    problems = []
    if missing.any():
        problems.append(_missing_dates(column, missing, locations))
    filled = text.fillna("")
    if fmt.date_format == ISO:
        wall, offsets, unread = _parse_iso(filled, missing)
    else:
        wall, offsets, unread = _parse_declared(filled, missing, fmt.date_format)
    if unread.any():
        problems.append(_unread_dates(filled, column, unread, locations, fmt.date_format))
    valid = ~(missing | unread)
    years = pd.DatetimeIndex(wall).year.to_numpy()
    # out-of-range values came back as NaT from the parsers; name them too
    out_of_range = valid & np.isnat(wall)
    if out_of_range.any():
        problems.append(
            Problem(
                "invalid_dates",
                f"column '{column}': {out_of_range.sum()} value(s) are not real calendar "
                f"dates or lie outside {_MIN_YEAR}-{_MAX_YEAR} "
                f"({samples(filled, out_of_range, locations)}); correct them",
                column,
                locations_of(out_of_range, locations),
            )
        )
    del years
    valid &= ~out_of_range
    values, tz_problems, notes = _resolve_offsets(wall, offsets, valid, column, locations, fmt)
    # daily when midnight on the files' wall clock or in the declared zone
    if _intraday(wall, valid) and _intraday(values, valid & ~np.isnat(values)):
        values, tz_problems, notes = _resolve_intraday(wall, offsets, valid, column, locations, fmt)
    problems.extend(tz_problems)
    bad = ~valid | np.isnat(values)
    return ParsedDates(values, bad, problems, notes)


def _missing_dates(column: str, mask: np.ndarray, locations: list[str]) -> Problem:
    where = locations_of(mask, locations)
    return Problem(
        "missing_dates",
        f"column '{column}': {mask.sum()} row(s) have no date ({listed(where)}); fill in "
        "the dates or drop those rows",
        column,
        where,
    )


def _parse_iso(text: pd.Series, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = text.str.extract(_ISO)
    matched = parts["y"].notna().to_numpy() & ~skip
    unread = ~matched & ~skip
    n = len(text)
    wall = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    offsets = np.full(n, np.nan)
    if matched.any():
        p = parts[matched]
        year = p["y"].astype(int)
        in_range = (year >= _MIN_YEAR) & (year <= _MAX_YEAR)
        p = p[in_range]
        rows = np.flatnonzero(matched)[in_range.to_numpy()]
        if len(p):
            fields = {
                "year": p["y"].astype(int),
                "month": p["m"].astype(int),
                "day": p["d"].astype(int),
                "hour": p["H"].fillna("0").astype(int),
                "minute": p["M"].fillna("0").astype(int),
                "second": p["S"].fillna("0").astype(int),
            }
            ok = (fields["hour"] < 24) & (fields["minute"] < 60) & (fields["second"] < 60)
            stamps = pd.to_datetime(pd.DataFrame(fields).where(ok, np.nan), errors="coerce")
            frac = p["f"].fillna("").str.ljust(9, "0").replace("", "0").astype("int64")
            stamps = stamps + pd.to_timedelta(frac.to_numpy(), unit="ns")
            wall[rows] = stamps.to_numpy(dtype="datetime64[ns]")
            offsets[rows] = [_offset_minutes(z) for z in p["z"].tolist()]
    return wall, offsets, unread


def _offset_minutes(z: object) -> float:
    if not isinstance(z, str) or not z:
        return np.nan
    if z.upper() in ("Z", "UTC"):
        return 0.0
    sign = -1.0 if z[0] == "-" else 1.0
    digits = z[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes >= 60:
        return np.inf  # refused below
    return sign * (hours * 60 + minutes)


def _parse_declared(
    text: pd.Series, skip: np.ndarray, pattern: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(text)
    wall = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    offsets = np.full(n, np.nan)
    unread = np.zeros(n, dtype=bool)
    if "%z" in pattern or "%Z" in pattern:
        for i, value in enumerate(text.tolist()):
            if skip[i]:
                continue
            try:
                stamp = datetime.strptime(value, pattern)
            except ValueError:
                unread[i] = True
                continue
            if not _MIN_YEAR <= stamp.year <= _MAX_YEAR:
                continue
            offset = stamp.utcoffset()
            wall[i] = np.datetime64(stamp.replace(tzinfo=None), "ns")
            if offset is not None:
                offsets[i] = offset.total_seconds() / 60
        return wall, offsets, unread
    todo = ~skip
    parsed = pd.to_datetime(text[todo], format=pattern, errors="coerce", exact=True)
    got = parsed.to_numpy(dtype="datetime64[ns]")
    rows = np.flatnonzero(todo)
    wall[rows] = got
    # a NaT is either "does not match" or "matches but is out of range / not a date"
    for i in rows[np.isnat(got)]:
        try:
            stamp = datetime.strptime(text.iloc[i], pattern)
        except ValueError:
            unread[i] = True
            continue
        if _MIN_YEAR <= stamp.year <= _MAX_YEAR:
            wall[i] = np.datetime64(stamp, "ns")
    return wall, offsets, unread


def _unread_dates(
    text: pd.Series, column: str, mask: np.ndarray, locations: list[str], pattern: str
) -> Problem:
    where = locations_of(mask, locations)
    shown = samples(text, mask, locations)
    if pattern != ISO:
        return Problem(
            "dates_not_in_format",
            f"column '{column}': {mask.sum()} value(s) do not match the declared date "
            f"format {pattern} ({shown}); correct them or declare the right --date-format",
            column,
            where,
        )
    dm = text[mask].str.extract(_DAY_MONTH)
    if dm[0].notna().all():
        first, second = dm[0].astype(int), dm[2].astype(int)
        sep = str(dm[1].iloc[0])
        year = "%Y" if dm[3].str.len().eq(4).all() else "%y"
        day_first, month_first = f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}"
        if (first > 12).any() and (second <= 12).all():
            i = int(np.flatnonzero(mask)[int(np.argmax((first > 12).to_numpy()))])
            return Problem(
                "ambiguous_dates",
                f"column '{column}': dates like {text.iloc[i]!r} ({locations[i]}) look "
                f"day-first, but day and month are never inferred; declare "
                f"--date-format {day_first} (or {month_first} if they are month-first), "
                "or write ISO dates like 2020-01-31",
                column,
                where,
            )
        if (second > 12).any() and (first <= 12).all():
            i = int(np.flatnonzero(mask)[int(np.argmax((second > 12).to_numpy()))])
            return Problem(
                "ambiguous_dates",
                f"column '{column}': dates like {text.iloc[i]!r} ({locations[i]}) look "
                f"month-first, but day and month are never inferred; declare "
                f"--date-format {month_first} (or {day_first} if they are day-first), "
                "or write ISO dates like 2020-01-31",
                column,
                where,
            )
        if (first <= 12).all() and (second <= 12).all():
            return Problem(
                "ambiguous_dates",
                f"column '{column}': dates ({shown}) can be read day-first or "
                f"month-first; declare --date-format {day_first} or {month_first}, or "
                "write ISO dates like 2020-01-31",
                column,
                where,
            )
        return Problem(
            "ambiguous_dates",
            f"column '{column}': dates mix day-first and month-first orders ({shown}); "
            "fix the file so that one order is used, then declare it with --date-format",
            column,
            where,
        )
    return Problem(
        "unparseable_dates",
        f"column '{column}': {mask.sum()} value(s) are not ISO dates ({shown}); use ISO "
        "dates like 2020-01-31, or declare the format with --date-format (e.g. %d %b %Y)",
        column,
        where,
    )


def _fmt_offset(minutes: float) -> str:
    sign = "-" if minutes < 0 else "+"
    m = int(abs(minutes))
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def _invalid_offsets(
    offsets: np.ndarray, valid: np.ndarray, column: str, locations: list[str]
) -> list[Problem]:
    """The out-of-range UTC offsets (parsed as infinite) of the valid rows, as a list of
    at most one problem."""
    bad_offset = valid & np.isinf(offsets)
    if not bad_offset.any():
        return []
    where = locations_of(bad_offset, locations)
    return [
        Problem(
            "invalid_utc_offsets",
            f"column '{column}': {bad_offset.sum()} UTC offset(s) are out of range "
            f"({listed(where)}); offsets lie between -14:00 and +14:00",
            column,
            where,
        )
    ]


def _resolve_offsets(
    wall: np.ndarray,
    offsets: np.ndarray,
    valid: np.ndarray,
    column: str,
    locations: list[str],
    fmt: ReadFormat,
) -> tuple[np.ndarray, list[Problem], list[str]]:
    problems = _invalid_offsets(offsets, valid, column, locations)
    notes: list[str] = []
    aware = valid & np.isfinite(offsets)
    naive = valid & np.isnan(offsets)
    if not aware.any():
        return wall, problems, notes
    if fmt.timezone:
        out = wall.copy()
        utc = wall[aware] - (offsets[aware] * 60).astype("timedelta64[s]")
        local = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(fmt.timezone)
        out[aware] = local.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        notes.append(
            f"column '{column}': timestamps with a UTC offset converted to {fmt.timezone} "
            "local time"
        )
        return out, problems, notes
    distinct = sorted(set(offsets[aware].tolist()))
    if naive.any():
        where_naive = locations_of(naive, locations)
        where_aware = locations_of(aware, locations)
        problems.append(
            Problem(
                "mixed_timezones",
                f"column '{column}': {aware.sum()} timestamp(s) carry a UTC offset "
                f"({listed(where_aware)}) and {naive.sum()} do not ({listed(where_naive)}); "
                "declare the exchange's time zone with --timezone (e.g. America/New_York)",
                column,
                where_naive,
            )
        )
        return wall, problems, notes
    if len(distinct) > 1:
        counts = ", ".join(
            f"{_fmt_offset(o)} on {int((offsets[aware] == o).sum())} row(s)" for o in distinct[:4]
        )
        problems.append(
            Problem(
                "mixed_utc_offsets",
                f"column '{column}': timestamps carry {len(distinct)} different UTC offsets "
                f"({counts}); declare the exchange's time zone with --timezone (e.g. "
                "Europe/Berlin) so that they are converted to its local time",
                column,
            )
        )
        return wall, problems, notes
    if distinct[0] != 0:
        notes.append(
            f"column '{column}': every timestamp has UTC offset {_fmt_offset(distinct[0])}; "
            "kept as local wall-clock time"
        )
    return wall, problems, notes


def _intraday_datetimes(
    series: pd.Series, column: str, locations: list[str], fmt: ReadFormat
) -> ParsedDates:
    """A datetime column of intraday bars (Parquet) to naive UTC."""
    tz = getattr(series.dt, "tz", None)
    problems: list[Problem] = []
    if tz is None:
        wall = series.to_numpy(dtype="datetime64[ns]")
        valid = ~np.isnat(wall)
        values, problems, notes = _resolve_intraday(
            wall, np.full(len(wall), np.nan), valid, column, locations, fmt
        )
    else:
        values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        notes = [f"column '{column}': intraday timestamps in zone {tz} converted to UTC"]
    missing = np.isnat(series.to_numpy(dtype="datetime64[ns]"))
    if missing.any():
        problems.insert(0, _missing_dates(column, missing, locations))
    return ParsedDates(values, np.isnat(values), problems, notes)


def _resolve_intraday(
    wall: np.ndarray,
    offsets: np.ndarray,
    valid: np.ndarray,
    column: str,
    locations: list[str],
    fmt: ReadFormat,
) -> tuple[np.ndarray, list[Problem], list[str]]:
    """Intraday timestamps to naive UTC (:data:`INTRADAY_CONVENTION`): exact with a UTC
    offset, else in the declared time zone; refused when neither says which zone."""
    problems = _invalid_offsets(offsets, valid, column, locations)
    out = np.full(len(wall), np.datetime64("NaT"), dtype="datetime64[ns]")
    aware = valid & np.isfinite(offsets)
    naive = valid & np.isnan(offsets)
    out[aware] = wall[aware] - (offsets[aware] * 60).astype("timedelta64[s]")
    if naive.any() and not fmt.timezone:
        where = locations_of(naive, locations)
        shown = samples(pd.Series(wall.astype("datetime64[s]").astype(str)), naive, locations)
        problems.append(
            Problem(
                "intraday_timezone_unknown",
                f"column '{column}': {naive.sum()} intraday timestamp(s) carry no UTC offset "
                f"({shown}), so their time zone is not certain; declare it with --timezone "
                "(America/New_York for exchange time, UTC if they are UTC) or write the "
                "offset, like 2024-03-04T09:31:00-05:00",
                column,
                where,
            )
        )
        return out, problems, []
    notes = [f"column '{column}': intraday timestamps stored in UTC; {INTRADAY_CONVENTION}"]
    if naive.any():
        local = pd.DatetimeIndex(wall[naive]).tz_localize(
            fmt.timezone, ambiguous="NaT", nonexistent="NaT"
        )
        utc = local.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]")
        unclear = np.isnat(utc)
        if unclear.any():
            rows = np.flatnonzero(naive)[unclear]
            mask = np.zeros(len(wall), dtype=bool)
            mask[rows] = True
            where = locations_of(mask, locations)
            problems.append(
                Problem(
                    "ambiguous_local_times",
                    f"column '{column}': {len(rows)} time(s) fall in a daylight-saving change "
                    f"of {fmt.timezone}, where they occur twice or not at all ({listed(where)}); "
                    "write those timestamps with their UTC offset",
                    column,
                    where,
                )
            )
        out[np.flatnonzero(naive)] = utc
        notes[0] = (
            f"column '{column}': intraday timestamps read in {fmt.timezone} and stored in UTC; "
            f"{INTRADAY_CONVENTION}"
        )
    return out, problems, notes
