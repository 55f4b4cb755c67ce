"""Bytes to a raw table of text cells, with the physical line of every row.

The CSV reader is our own (on the standard ``csv`` module) so that duplicated header
names survive, the delimiter is read from the header instead of assumed, and every
row with the wrong number of fields is reported, not only the first.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import pandas as pd

from core.data.formats import ReadFormat

CANDIDATE_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
MAX_LISTED = 5
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


@dataclass(frozen=True)
class Problem:
    """A defect found while reading (turned into a ``Defect`` by the validator)."""

    code: str
    message: str
    column: str | None = None
    rows: list[str] = field(default_factory=list)


@dataclass
class RawTable:
    """Header names as written, text (or typed, for Parquet) cells, row locations."""

    header: list[str]
    frame: pd.DataFrame  # positional columns 0..n-1
    locations: list[str]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fatal: bool = False


class ReadFailure(Exception):
    """Nothing can be read at all (empty, undecodable, unreadable)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def listed(labels: list[str]) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(str(x) for x in labels[:MAX_LISTED])
    more = len(labels) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def size_text(n_bytes: int) -> str:
    """Human size."""
    for unit, scale in (("MB", 1024**2), ("KB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def decode(name: str, payload: bytes) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16 text, or a clear failure."""
    try:
        if payload.startswith((b"\xff\xfe", b"\xfe\xff")):
            return payload.decode("utf-16")
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = payload[: exc.start].count(b"\n") + 1
        raise ReadFailure(
            Problem(
                "undecodable_text",
                f"{name} is not UTF-8 text: byte 0x{payload[exc.start]:02x} at offset "
                f"{exc.start} (line {line}) cannot be decoded; re-save the file as UTF-8 CSV",
                rows=[f"line {line}"],
            )
        ) from exc


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def _first_line(text: str) -> tuple[int, str]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            return number, line
    return 0, ""


def _choose_delimiter(name: str, header_line: str, fmt: ReadFormat) -> tuple[str, list[str]]:
    counts = {d: _count_outside_quotes(header_line, d) for d in CANDIDATE_DELIMITERS}
    present = [d for d, n in counts.items() if n > 0]
    if fmt.delimiter != "auto":
        return fmt.delimiter, []
    if len(present) > 1:
        found = ", ".join(f"{_NAMES[d]} ×{counts[d]}" for d in present)
        raise ReadFailure(
            Problem(
                "ambiguous_delimiter",
                f"{name}: the header line {header_line[:60]!r} contains several possible "
                f"delimiters ({found}); declare the delimiter with --delimiter (or the "
                "Data page's Delimiter field)",
            )
        )
    if present and present[0] != ",":
        return present[0], [
            f"{name}: read as a {_NAMES[present[0]]}-delimited file (from its header)"
        ]
    return ",", []


def read_csv_text(name: str, text: str, fmt: ReadFormat) -> RawTable:
    """Split CSV text into a raw table; every malformed row becomes one problem."""
    lines_total = text.count("\n") + 1
    first_no, first = _first_line(text)
    if not first:
        raise ReadFailure(
            Problem("empty_file", f"{name} is empty; export the data again with a header row")
        )
    declared = re.fullmatch(r"\s*sep=(.)\s*", first)
    notes: list[str] = []
    if declared:  # Excel's "sep=;" first line declares the delimiter
        delimiter = declared.group(1)
        text = text.split("\n", first_no)[-1] if first_no < lines_total else ""
        offset = first_no
        first_no, first = _first_line(text)
        first_no += offset
        if not first:
            raise ReadFailure(Problem("empty_file", f"{name} has no header row after 'sep='"))
    else:
        offset = 0
        delimiter, notes = _choose_delimiter(name, first, fmt)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    header: list[str] | None = None
    rows: list[list[str]] = []
    locations: list[str] = []
    short: list[str] = []
    long: list[str] = []
    problems: list[Problem] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = reader.line_num + offset
            problems.append(
                Problem(
                    "malformed_csv",
                    f"{name}: line {line} cannot be read as CSV ({exc})",
                    rows=[f"line {line}"],
                )
            )
            return RawTable([], pd.DataFrame(), [], problems, notes, fatal=True)
        line = reader.line_num + offset
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.replace("\ufeff", "").strip() for cell in row]
            continue
        if len(row) > len(header) and not any(c.strip() for c in row[len(header) :]):
            row = row[: len(header)]
        if len(row) < len(header):
            short.append(f"line {line}")
            continue
        if len(row) > len(header):
            long.append(f"line {line}")
            continue
        rows.append(row)
        locations.append(f"line {line}")
    if header is None:
        raise ReadFailure(
            Problem("empty_file", f"{name} has no header row; add one such as date,close")
        )
    if len(header) == 1:
        others = [d for d in CANDIDATE_DELIMITERS if d != delimiter and d in header[0]]
        if others:
            problems.append(
                Problem(
                    "wrong_delimiter",
                    f"{name}: the header {header[0][:60]!r} was read as a single column "
                    f"with delimiter {_NAMES[delimiter]}; the file seems to be "
                    f"{_NAMES[others[0]]}-delimited: declare --delimiter "
                    f"{'tab' if others[0] == chr(9) else others[0]}",
                )
            )
    for where, what in ((short, "fewer"), (long, "more")):
        if where:
            problems.append(
                Problem(
                    "wrong_field_count",
                    f"{len(where)} row(s) have {what} fields than the {len(header)} of the "
                    f"header ({listed(where)}); check the delimiter "
                    f"({_NAMES.get(delimiter, repr(delimiter))}) and quote values that "
                    "contain it",
                    rows=where,
                )
            )
    if not rows and not short and not long:
        raise ReadFailure(
            Problem("empty_file", f"{name} has no data rows; add rows below the header")
        )
    frame = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
    return RawTable(header, frame, locations, problems, notes)


def read_parquet_bytes(name: str, payload: bytes) -> pd.DataFrame:
    """A Parquet file as a DataFrame (typed columns kept), or a clear failure."""
    try:
        return pd.read_parquet(io.BytesIO(payload))
    except Exception as exc:  # pyarrow raises several types
        raise ReadFailure(
            Problem("unreadable_parquet", f"{name} is not a readable Parquet file ({exc})")
        ) from exc


def table_from_frame(frame: pd.DataFrame) -> RawTable:
    """A DataFrame (index already reset where it holds data) as a raw table."""
    header = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    positional = frame.copy()
    positional.columns = pd.RangeIndex(len(header))
    positional = positional.reset_index(drop=True)
    locations = [f"row {i + 1}" for i in range(len(positional))]
    return RawTable(header, positional, locations)
