"""Backtest configuration and the execution convention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    import pandas as pd

EXECUTION = (
    "signal at bar close t, fill at bar t+1 open (close when no open column); "
    "fees and slippage charged on every fill"
)
"""How every backtest in this package turns target positions into fills.

A target decided at the close of bar t is filled at the open of bar t+1 (at the close of
t+1 when the frame has no ``open``). A buy fills at ``price * (1 + slippage)``, a sell at
``price * (1 - slippage)``, and each fill pays ``fees * fill value``. Orders are sent only
when the target changes (so a constant fractional target is not re-balanced as prices
drift); an all-in buy is shrunk so that cash covers value plus fees. This is exactly
vectorbt's ``Portfolio.from_orders(size_type="targetpercent", price=open)``.
"""


class BacktestSpec(BaseModel):
    """Costs, capital and bar frequency of a backtest (frozen, keyword-only).

    >>> BacktestSpec(fees=0.001).slippage
    0.0005
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fees: float = Field(default=0.0005, ge=0.0, lt=1.0, description="fraction of value per fill")
    slippage: float = Field(default=0.0005, ge=0.0, lt=1.0, description="price fraction per fill")
    init_cash: float = Field(default=100_000.0, gt=0.0)
    freq: str = Field(
        default="1D",
        description="fixed bar length, e.g. '1D' or '1h'; read from the data unless given",
    )

    @field_validator("freq")
    @classmethod
    def _valid_freq(cls, value: str) -> str:
        import pandas as pd  # only when a spec is built: importing the spec stays cheap

        try:
            delta = pd.Timedelta(value)
        except (ValueError, TypeError):
            raise ValueError(
                f"freq {value!r} is not a fixed bar length such as '1D' or '1h'"
            ) from None
        if delta <= pd.Timedelta(0):
            raise ValueError(f"freq must be positive, got {value!r}")
        return value

    @property
    def periods_per_year(self) -> float:
        """Bars per year: 252 per trading day (6.5 trading hours per day intraday)."""
        return periods_per_year(self.freq)

    def for_index(self, index: pd.Index) -> BacktestSpec:
        """This spec with ``freq`` read from the data's timestamps, unless ``freq`` was given.

        Every engine entry point calls it, so a backtest or sweep on minute bars is
        annualized with 98,280 bars a year without being told. An index that has no
        readable interval (fewer than two bars, not timestamps) keeps the spec as is;
        an irregular intraday index is refused (:func:`core.data.frequency.bar_interval`).

        >>> import pandas as pd
        >>> idx = pd.date_range("2024-01-02 14:31", periods=3, freq="min")
        >>> BacktestSpec().for_index(idx).freq, BacktestSpec(freq="1D").for_index(idx).freq
        ('1min', '1D')
        """
        import pandas as pd

        from core.data.frequency import freq_of

        if "freq" in self.model_fields_set:
            return self
        if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
            return self
        freq = freq_of(index)
        return self if freq == self.freq else self.model_copy(update={"freq": freq})


def periods_per_year(freq: str) -> float:
    """Annualization factor for a bar frequency.

    Daily and longer bars count 252 trading days a year; intraday bars count
    6.5 trading hours a day.

    >>> periods_per_year("1D"), periods_per_year("1h"), periods_per_year("7D")
    (252.0, 1638.0, 36.0)
    """
    from core.data.frequency import periods_per_year_for

    return periods_per_year_for(freq)
