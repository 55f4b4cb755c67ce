"""The declared format of a price file: date format, separators, delimiter, time zone.

Nothing here is guessed. The defaults accept only what has one meaning (ISO 8601 dates,
``.`` as the decimal separator, no thousands separator); anything else must be declared
by the user (``workbench data import --date-format %d/%m/%Y --decimal ,`` or the Data
page's "File format" fields).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

ISO = "iso"
DATE_FORMAT_PRESETS: tuple[str, ...] = (
    ISO,
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y%m%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d %b %Y",
    "%b %d, %Y",
)
DELIMITERS: dict[str, str] = {"auto": "auto", ",": ",", ";": ";", "tab": "\t", "\t": "\t", "|": "|"}
THOUSANDS: dict[str, str] = {
    "none": "",
    "": "",
    ",": ",",
    ".": ".",
    "space": " ",
    " ": " ",
    "'": "'",
}
# CLI flag of each option, used in messages.
FLAGS: dict[str, str] = {
    "date_format": "--date-format",
    "decimal": "--decimal",
    "thousands": "--thousands",
    "delimiter": "--delimiter",
    "timezone": "--timezone",
}
_PROBE = datetime(2001, 2, 3, 4, 5, 6)


class ReadFormat(BaseModel):
    """How to read the values of a price file.

    Parameters
    ----------
    date_format : str
        ``"iso"`` (ISO 8601, the default) or a ``strftime`` pattern such as ``%d/%m/%Y``.
    decimal : str
        Decimal separator, ``.`` (default) or ``,``.
    thousands : str
        Thousands separator: ``""`` (none, default), ``,``, ``.``, ``" "`` or ``'``.
    delimiter : str
        Field delimiter of a CSV: ``"auto"`` (read from the header), ``,``, ``;``, tab, ``|``.
    timezone : str or None
        IANA zone of the exchange (e.g. ``America/New_York``). Needed when timestamps carry
        several UTC offsets, or some carry one and some not; they are converted to its
        local wall-clock time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_format: str = ISO
    decimal: Literal[".", ","] = "."
    thousands: Literal["", ",", ".", " ", "'"] = ""
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    timezone: str | None = None

    @field_validator("date_format", mode="before")
    @classmethod
    def _date_format(cls, value: Any) -> str:
        text = str(value).strip()
        if text.lower() in ("", "auto", "iso", "iso8601", "iso 8601"):
            return ISO
        if "%" not in text:
            raise ValueError(
                f"{text!r} is not a date format; use iso or a strftime pattern such as "
                "%d/%m/%Y (day first) or %m/%d/%Y (month first)"
            )
        probe = _PROBE.replace(tzinfo=UTC) if "%z" in text or "%Z" in text else _PROBE
        try:
            back = datetime.strptime(probe.strftime(text), text)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid strftime pattern ({exc})") from exc
        if back.date() != _PROBE.date():
            raise ValueError(
                f"{text!r} does not fix the day, month and year of a date; it needs %d, "
                "%m (or %b) and %Y (or %y), e.g. %d/%m/%Y"
            )
        return text

    @field_validator("delimiter", mode="before")
    @classmethod
    def _delimiter(cls, value: Any) -> str:
        text = "auto" if value is None else str(value)
        key = text if text in DELIMITERS else text.strip().lower()
        if key not in DELIMITERS:
            raise ValueError(f"{text!r} is not a delimiter; use auto, ',', ';', tab or '|'")
        return DELIMITERS[key]

    @field_validator("thousands", mode="before")
    @classmethod
    def _thousands(cls, value: Any) -> str:
        text = "" if value is None else str(value)
        key = text if text in THOUSANDS else text.strip().lower()
        if key not in THOUSANDS:
            raise ValueError(
                f"{text!r} is not a thousands separator; use none, ',', '.', space or \"'\""
            )
        return THOUSANDS[key]

    @field_validator("decimal", mode="before")
    @classmethod
    def _decimal(cls, value: Any) -> str:
        text = "." if value is None else str(value).strip()
        if text not in (".", ","):
            raise ValueError(f"{text!r} is not a decimal separator; use '.' or ','")
        return text

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str | None:
        if value is None or not str(value).strip():
            return None
        text = str(value).strip()
        known = available_timezones()
        try:
            # Only names in the tz database: no file lookups for arbitrary text (paths, long names).
            if text not in known:
                raise ZoneInfoNotFoundError(text)
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            close = sorted(z for z in known if text.lower() in z.lower())[:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(
                f"{text[:60]!r} is not an IANA time zone{hint}; use e.g. America/New_York, "
                "Europe/London or UTC"
            ) from exc
        return text

    @model_validator(mode="after")
    def _separators_differ(self) -> ReadFormat:
        if self.thousands == self.decimal:
            raise ValueError(
                f"the decimal and thousands separators are both {self.decimal!r}; they must differ"
            )
        return self

    @property
    def is_default(self) -> bool:
        """True when nothing was declared."""
        return self == ReadFormat()

    def describe(self) -> str:
        """Short human form, e.g. ``dates %d/%m/%Y, decimal ','``."""
        parts = [f"dates {self.date_format if self.date_format != ISO else 'ISO 8601'}"]
        parts.append(f"decimal {self.decimal!r}")
        if self.thousands:
            parts.append(f"thousands {self.thousands!r}")
        if self.delimiter != "auto":
            parts.append(f"delimiter {self.delimiter!r}")
        if self.timezone:
            parts.append(f"time zone {self.timezone}")
        return ", ".join(parts)


def option_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(option, message)`` pairs of a :class:`ReadFormat` validation error."""
    out = []
    for err in exc.errors():
        option = str(err["loc"][0]) if err["loc"] else "format"
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "literal_error":
            message = f"{err['input']!r} is not allowed; {message}"
        out.append((option, message))
    return out
