"""Validation of every dataset into the canonical price frame.

The canonical frame has a sorted, unique ``DatetimeIndex`` named ``date`` and float64
columns among ``open, high, low, close, volume``; ``close`` is required. Each problem
found becomes one :class:`Defect` that names the column or rows and the fix. Parsing
problems are caught before the frame exists; value rules are a pandera schema.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
CANONICAL_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")
DATE_ALIASES: tuple[str, ...] = ("date", "datetime", "timestamp", "time", "day")
COLUMN_ALIASES: dict[str, str] = {
    "adj close": "adj_close",
    "adj. close": "adj_close",
    "adjclose": "adj_close",
    "price": "close",
    "last": "close",
    "vol": "volume",
}
MAX_LISTED = 5
MISSING_TOKENS: tuple[str, ...] = ("", "nan", "na", "n/a", "null", "none", "#n/a")


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


def _size(n_bytes: int) -> str:
    for unit, scale in (("MB", 1024**2), ("KB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def _rows(labels: list[object]) -> str:
    shown = ", ".join(str(x) for x in labels[:MAX_LISTED])
    more = len(labels) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _line_numbers(mask: np.ndarray) -> list[str]:
    # Data row i sits on line i + 2 of a CSV with one header line.
    return [f"line {i + 2}" for i in np.flatnonzero(mask)]


def read_table(name: str, payload: bytes, *, max_bytes: int) -> pd.DataFrame:
    """Parse CSV or Parquet bytes into a raw frame, or raise with the reason.

    Parameters
    ----------
    name : str
        File name, used in messages and to pick the format (``.parquet`` / ``.pq``).
    payload : bytes
        File contents.
    max_bytes : int
        Size limit; larger files are refused before parsing.
    """
    if len(payload) > max_bytes:
        raise DataValidationError(
            [
                Defect(
                    "file_too_large",
                    f"{name} is {_size(len(payload))}, over the {_size(max_bytes)} "
                    "limit; split the file or raise "
                    "WORKBENCH_UPLOAD_MAX_MB",
                )
            ],
            name,
        )
    if not payload.strip():
        raise DataValidationError(
            [Defect("empty_file", f"{name} is empty; export the data again with a header row")],
            name,
        )
    if payload[:4] == b"PAR1" or name.lower().endswith((".parquet", ".pq")):
        try:
            raw = pd.read_parquet(io.BytesIO(payload))
        except Exception as exc:  # pyarrow raises several types
            raise DataValidationError(
                [Defect("unreadable_parquet", f"{name} is not a readable Parquet file ({exc})")],
                name,
            ) from exc
        if isinstance(raw.index, pd.DatetimeIndex):
            raw = raw.reset_index(names="date")
        return raw
    text = _decode(name, payload)
    try:
        raw = pd.read_csv(io.StringIO(text), skipinitialspace=True, dtype=str)
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(
            [Defect("empty_file", f"{name} has no columns; add a header row such as date,close")],
            name,
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataValidationError(
            [Defect("malformed_csv", f"{name} is not valid CSV ({exc}); check delimiters")],
            name,
        ) from exc
    return raw


def _decode(name: str, payload: bytes) -> str:
    if payload.startswith((b"\xff\xfe", b"\xfe\xff")):
        return payload.decode("utf-16")
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = payload[: exc.start].count(b"\n") + 1
        raise DataValidationError(
            [
                Defect(
                    "undecodable_text",
                    f"{name} is not UTF-8 text: byte 0x{payload[exc.start]:02x} at offset "
                    f"{exc.start} (line {line}) cannot be decoded; re-save the file as "
                    "UTF-8 CSV",
                    rows=[f"line {line}"],
                )
            ],
            name,
        ) from exc


def _schema(columns: list[str]) -> pa.DataFrameSchema:
    cols: dict[str, pa.Column] = {}
    for col in columns:
        lower = 0 if col == "volume" else None
        checks = [pa.Check.ge(0)] if lower == 0 else [pa.Check.gt(0)]
        cols[col] = pa.Column("float64", checks=checks, nullable=False, required=col == "close")
    frame_checks = []
    if {"high", "low"} <= set(columns):
        frame_checks.append(pa.Check(lambda d: d["high"] >= d["low"], name="high_ge_low"))
    return pa.DataFrameSchema(cols, checks=frame_checks, coerce=False)


def validate_frame(raw: pd.DataFrame, *, source: str = "dataset") -> ValidatedFrame:
    """Turn a raw table into the canonical frame, or raise :class:`DataValidationError`.

    Every defect found is reported at once, each with its own message.
    """
    defects: list[Defect] = []
    warnings: list[str] = []
    if raw is None or raw.shape[1] == 0 or len(raw) == 0:
        raise DataValidationError(
            [Defect("empty_file", f"{source} has no data rows; add rows below the header")],
            source,
        )
    frame = raw.copy()
    if isinstance(frame.index, pd.DatetimeIndex) and not any(
        str(c).strip().lower() in DATE_ALIASES for c in frame.columns
    ):
        frame = frame.reset_index(names="date")
    renamed = {c: COLUMN_ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in frame}
    frame = frame.rename(columns=renamed)
    if frame.columns.duplicated().any():
        dup = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataValidationError(
            [Defect("duplicate_columns", f"columns {dup} appear twice; keep one of each", dup[0])],
            source,
        )
    date_col = next((c for c in DATE_ALIASES if c in frame.columns), None)
    if date_col is None:
        defects.append(
            Defect(
                "missing_date_column",
                f"no date column: found {list(frame.columns)}; name the column with the "
                "dates 'date'",
            )
        )
        dates = None
    else:
        text_dates = frame[date_col]
        dates = pd.to_datetime(text_dates, errors="coerce", format="mixed")
        bad = dates.isna().to_numpy()
        if bad.any():
            lines = _line_numbers(bad)
            samples = [repr(v) for v in text_dates[bad].head(MAX_LISTED)]
            defects.append(
                Defect(
                    "unparseable_dates",
                    f"column '{date_col}': {bad.sum()} value(s) are not dates "
                    f"({_rows(lines)}: {', '.join(samples)}); use ISO dates like 2020-01-31",
                    date_col,
                    lines,
                )
            )
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    if "close" not in frame.columns:
        if "adj_close" in frame.columns:
            frame["close"] = frame["adj_close"]
            warnings.append("no 'close' column: using 'adj close' as close")
        else:
            defects.append(
                Defect(
                    "missing_close",
                    f"no 'close' column: found {list(frame.columns)}; add a column named "
                    "'close' with the closing prices",
                    "close",
                )
            )
    present = [c for c in CANONICAL_COLUMNS if c in frame.columns]
    numeric: dict[str, pd.Series] = {}
    unparsed: dict[str, np.ndarray] = {}
    for col in present:
        values = frame[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            stripped = values.astype("string").str.strip().str.replace(",", "", regex=False)
            missing_token = stripped.isna() | stripped.str.lower().isin(MISSING_TOKENS)
            converted = pd.to_numeric(stripped.mask(missing_token), errors="coerce")
            non_numeric = (converted.isna() & ~missing_token).to_numpy(dtype=bool)
            if non_numeric.any():
                lines = _line_numbers(non_numeric)
                samples = [repr(v) for v in values[non_numeric].head(MAX_LISTED)]
                defects.append(
                    Defect(
                        "non_numeric",
                        f"column '{col}': {non_numeric.sum()} non-numeric value(s) "
                        f"({_rows(lines)}: {', '.join(samples)}); use plain numbers such "
                        "as 101.25",
                        col,
                        lines,
                    )
                )
            unparsed[col] = non_numeric
            converted = converted.astype("Float64").fillna(np.nan)
            numeric[col] = converted.astype("float64")
        else:
            try:
                numeric[col] = values.astype("float64")
            except (TypeError, ValueError):
                defects.append(
                    Defect("non_numeric", f"column '{col}' is not numeric; use numbers", col)
                )
    for col, series in numeric.items():
        arr = series.to_numpy()
        nan = np.isnan(arr) & ~unparsed.get(col, np.zeros(len(arr), dtype=bool))
        if nan.any():
            lines = _line_numbers(nan)
            defects.append(
                Defect(
                    "missing_values",
                    f"column '{col}': {nan.sum()} empty or NaN value(s) ({_rows(lines)}); "
                    "fill or drop those rows",
                    col,
                    lines,
                )
            )
        inf = np.isinf(arr)
        if inf.any():
            lines = _line_numbers(inf)
            defects.append(
                Defect(
                    "infinite_values",
                    f"column '{col}': {inf.sum()} infinite value(s) ({_rows(lines)}); "
                    "replace them with real prices",
                    col,
                    lines,
                )
            )
    if dates is not None:
        valid = dates.notna()
        dup_mask = (dates.duplicated(keep=False) & valid).to_numpy()
        if dup_mask.any():
            dup_dates = sorted({d.date().isoformat() for d in dates[dup_mask]})
            defects.append(
                Defect(
                    "duplicate_timestamps",
                    f"{len(dup_dates)} timestamp(s) appear more than once "
                    f"({_rows(dup_dates)}); keep one row per timestamp",
                    date_col,
                    _line_numbers(dup_mask),
                )
            )
    if defects:
        raise DataValidationError(defects, source)
    canonical = pd.DataFrame(
        {col: series.to_numpy(dtype="float64") for col, series in numeric.items()},
        index=pd.DatetimeIndex(dates, name="date").as_unit("ns"),
    )
    canonical = canonical[[c for c in CANONICAL_COLUMNS if c in canonical]]
    if not canonical.index.is_monotonic_increasing:
        canonical = canonical.sort_index()
        warnings.append(f"{source}: rows were not in date order; they have been sorted")
    finite = canonical.replace([np.inf, -np.inf], np.nan).dropna()
    try:
        _schema(list(canonical.columns)).validate(finite, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise DataValidationError(_schema_defects(exc.failure_cases), source) from exc
    return ValidatedFrame(canonical, warnings)


def _schema_defects(cases: pd.DataFrame) -> list[Defect]:
    defects: list[Defect] = []
    for (column, check), group in cases.groupby(["column", "check"], sort=True, dropna=False):
        dates = [pd.Timestamp(i).date().isoformat() for i in group["index"].drop_duplicates()]
        if check == "high_ge_low":
            if column != "high":
                continue
            defects.append(
                Defect(
                    "high_below_low",
                    f"high < low on {len(dates)} row(s) ({_rows(dates)}); "
                    "check for swapped high and low columns",
                    "high",
                    dates,
                )
            )
        elif str(check).startswith(("greater_than", "greater_than_or_equal_to")):
            what = "negative" if column == "volume" else "zero or negative"
            defects.append(
                Defect(
                    "non_positive_prices" if column != "volume" else "negative_volume",
                    f"column '{column}': {len(dates)} {what} value(s) on {_rows(dates)}; "
                    "prices must be > 0 (volume >= 0); remove or correct those rows",
                    str(column),
                    dates,
                )
            )
        else:
            defects.append(
                Defect("schema", f"column '{column}' failed {check} on {_rows(dates)}", column)
            )
    return defects


def validate_upload(name: str, payload: bytes, *, max_bytes: int) -> ValidatedFrame:
    """Read and validate an uploaded CSV or Parquet file."""
    raw = read_table(name, payload, max_bytes=max_bytes)
    return validate_frame(raw, source=name)
