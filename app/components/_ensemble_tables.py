"""Tables and cards of the ensemble result: headline cards, agents, switches."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from app.operations.ensemble import EnsembleOutcome

AGENT_FORMATS = {
    "IS objective": "{:.3f}",
    "IS Sharpe": "{:.2f}",
    "IS total return": "{:.1%}",
    "IS max drawdown": "{:.1%}",
    "combinations tried": "{:,.0f}",
}
"""Display formats of the :func:`agents_table` columns."""


def _num(value: float | None, spec: str) -> str:
    """``format(value, spec)``, or ``n/a`` for None and non-finite values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


def metric_cards(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Headline cards from :meth:`EnsembleOutcome.payload` (label, formatted value)."""
    return [
        ("Ensemble Sharpe", _num(payload["ensemble_sharpe"], ".2f")),
        (
            f"Best single Sharpe ({payload['best_agent']})",
            _num(payload["best_single_sharpe"], ".2f"),
        ),
        ("Equal-weight Sharpe", _num(payload["equal_weight_sharpe"], ".2f")),
        ("Regret", _num(payload["regret"], ".2%")),
        ("Switches", f"{payload['switches']:,}"),
        ("Turnover (per bar)", _num(payload["turnover"], ".2%")),
    ]


def agents_table(outcome: EnsembleOutcome) -> pd.DataFrame:
    """One row per tuned agent: profile, strategy, parameters, in-sample numbers."""
    rows = []
    for agent in outcome.result.agents:
        params = ", ".join(f"{k}={v}" for k, v in agent.params.items())
        rows.append(
            {
                "agent": agent.name,
                "strategy": agent.strategy,
                "params": params,
                "objective (in sample)": agent.objective,
                "IS objective": agent.in_sample.get("objective"),
                "IS Sharpe": agent.in_sample.get("sharpe"),
                "IS total return": agent.in_sample.get("total_return"),
                "IS max drawdown": agent.in_sample.get("max_drawdown"),
                "combinations tried": agent.in_sample.get("combinations"),
            }
        )
    return pd.DataFrame(rows)


def regime_table(by_regime: pd.DataFrame) -> pd.DataFrame:
    """Agent performance by filtered regime with readable headers (numbers kept as numbers,
    formatted by the table's column config)."""
    return by_regime.rename(
        columns={
            "agent": "Agent",
            "regime": "Regime",
            "bars": "Bars",
            "ann_return": "Ann. return",
            "sharpe": "Sharpe",
        }
    )


def regret_reference(returns: pd.DataFrame, agent_names: list[str]) -> str:
    """The agent the regret curve is measured against (highest OOS total return)."""
    return str(returns[agent_names].sum().idxmax())


def switch_table(switch_log: list[dict[str, Any]], cap: int) -> pd.DataFrame:
    """Switch log as a table, newest first, at most ``cap`` rows."""
    frame = pd.DataFrame(switch_log, columns=["date", "from", "to", "explanation"])
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame.iloc[::-1].head(cap).reset_index(drop=True)
