"""The PM's report pack of one strategy or model: typed contents and their HTML.

The contents (:class:`ReportPack`) are gathered from the database by the app
(``app.services.report_pack_data``); this module only lays them out: one
self-contained HTML page (inline CSS and SVG, no script, no network), readable on
screen and printed (``core.reports.pdf`` prints the same page to PDF). Every section
says plainly when it has nothing to show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Literal, TypeGuard

import pandas as pd

from core.reports.pack_svg import growth_chart, utilization_bars

SubjectKind = Literal["strategy", "model"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("strategy", "model")

PERFORMANCE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("volatility", "Volatility (annual)", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("calmar", "Calmar", "ratio"),
    ("n_trades", "Trades", "integer"),
    ("bars", "Bars", "integer"),
)
"""The metrics compared side by side: key, label, format."""


@dataclass(frozen=True)
class PerformanceColumn:
    """One backtest or paper session's results (a column of the side-by-side table)."""

    source: Literal["backtest", "paper"]
    label: str
    detail: str
    metrics: Mapping[str, float]
    equity: pd.Series | None = None
    datasets: tuple[tuple[str, str], ...] = ()
    """The (dataset, symbol) pairs behind the column."""


@dataclass(frozen=True)
class WalkForwardRow:
    """A saved walk-forward run's headline figures."""

    run_id: int
    title: str
    created_at: datetime | None
    deflated_sharpe: float
    pbo: float
    oos_sharpe: float
    is_sharpe: float
    trials: int
    folds: int


@dataclass(frozen=True)
class SessionRisk:
    """A paper session's book against the limits in force."""

    session: str
    equity: float
    gross_exposure: float
    net_exposure: float
    utilization: Mapping[str, float]


@dataclass(frozen=True)
class RiskSection:
    """The active limits version and the exposures of the subject's sessions."""

    limits_version: int
    limits: Mapping[str, float | int | str]
    units: Mapping[str, str]
    sessions: Sequence[SessionRisk] = ()


@dataclass(frozen=True)
class DecidingTest:
    """The primary (deciding) test of one pair of an A/B comparison."""

    pair: str
    p_adjusted: float
    estimate: float
    unit: str
    significant: bool
    favours: str | None


@dataclass(frozen=True)
class ABVerdict:
    """A saved A/B comparison that includes the subject."""

    run_id: int
    title: str
    created_at: datetime | None
    verdict: str
    primary_test: str
    n_obs: int
    deciding: Sequence[DecidingTest] = ()


@dataclass(frozen=True)
class DataFile:
    """A dataset the pack's results come from, and the hash of its data."""

    dataset: str
    source: str
    sha256: str | None


@dataclass(frozen=True)
class ReportPack:
    """Everything one report pack shows."""

    subject_kind: SubjectKind
    subject_name: str
    generated_at: datetime
    code_version: str
    performance: Sequence[PerformanceColumn] = ()
    walkforward: Sequence[WalkForwardRow] = ()
    risk: RiskSection | None = None
    abtests: Sequence[ABVerdict] = ()
    data_files: Sequence[DataFile] = ()
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        """``Report pack: strategy ma_crossover``."""
        return f"Report pack: {self.subject_kind} {self.subject_name}"

    @property
    def slug(self) -> str:
        """A file-name stem: ``pack_strategy_ma_crossover_20260105T0700Z``."""
        return f"pack_{self.subject_kind}_{self.subject_name}_{self.generated_at:%Y%m%dT%H%MZ}"


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage; "–" when missing.

    >>> pct(0.1234), pct(float("nan"))
    ('12.3%', '–')
    """
    return f"{value * 100:,.{digits}f}%" if _finite(value) else "–"


def ratio(value: float | None, digits: int = 2) -> str:
    """A ratio (Sharpe, Sortino, ...): ``1.23``; "–" when missing."""
    return f"{value:,.{digits}f}" if _finite(value) else "–"


def integer(value: float | None) -> str:
    """A count with thousands separators: ``12,345``; "–" when missing."""
    return f"{round(value):,}" if _finite(value) else "–"


def money(value: float | None) -> str:
    """Dollars: ``$12,345.67``; "–" when missing."""
    return f"${value:,.2f}" if _finite(value) else "–"


def day(value: datetime | pd.Timestamp | None) -> str:
    """``2013-05-01``, or ``2013-05-01 14:30`` when the time is not midnight."""
    if value is None or pd.isna(value):
        return "–"
    ts = pd.Timestamp(value)
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"


_FORMATS = {"pct": pct, "ratio": ratio, "integer": integer}


def limit_value(value: float | int | str, unit: str) -> str:
    """A limit in its unit: fractions as %, multiples with ×, money in dollars."""
    if isinstance(value, str):
        return value
    if "fraction" in unit or "share" in unit:
        return pct(value)
    if "multiple" in unit:
        return f"{value:,.2f}×"
    if "money" in unit:
        return money(value)
    return integer(value)


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize().replace("Var ", "VaR ")


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int = 1) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if k >= numeric_from else "txt"}">{escape(c)}</td>'
            for k, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _performance(pack: ReportPack) -> str:
    what = f"{pack.subject_kind} {pack.subject_name}"
    columns = list(pack.performance)
    parts = ["<h2>Backtest and paper trading</h2>"]
    backtests = [c for c in columns if c.source == "backtest"]
    paper = [c for c in columns if c.source == "paper"]
    if not backtests and pack.subject_kind == "strategy":
        parts.append(_empty(f"No saved backtest of {what} yet."))
    elif not backtests:
        parts.append(_empty(f"No stored training run (out-of-sample backtest) of {what} yet."))
    if not paper:
        parts.append(_empty(f"No paper session traded this {pack.subject_kind} yet."))
    if not columns:
        return "".join(parts)
    head = ["Metric", *(c.label for c in columns)]
    rows = [["Data", *(c.detail for c in columns)]]
    rows += [
        [label, *(_FORMATS[kind](c.metrics.get(key)) for c in columns)]
        for key, label, kind in PERFORMANCE_ROWS
    ]
    parts.append(_table(head, rows))
    figures = []
    for k, c in enumerate(columns):
        chart = (
            growth_chart([(c.label, c.equity)], width=480, color=k) if c.equity is not None else ""
        )
        if chart:
            figures.append(
                f"<figure>{chart}<figcaption>{escape(c.label)}: growth of 1</figcaption></figure>"
            )
    if figures:
        parts.append(f'<div class="charts">{"".join(figures)}</div>')
    return "".join(parts)


def _walkforward(pack: ReportPack) -> str:
    parts = ["<h2>Walk-forward: deflated Sharpe and PBO</h2>"]
    if not pack.walkforward:
        what = f"{pack.subject_kind} {pack.subject_name}"
        return "".join([*parts, _empty(f"No saved walk-forward run of {what} yet.")])
    rows = [
        [
            f"{w.run_id}",
            w.title,
            day(w.created_at),
            ratio(w.deflated_sharpe, 3),
            pct(w.pbo),
            ratio(w.oos_sharpe),
            ratio(w.is_sharpe),
            integer(w.trials),
            integer(w.folds),
        ]
        for w in pack.walkforward
    ]
    head = [
        "Run",
        "Title",
        "Saved",
        "Deflated Sharpe (probability)",
        "PBO",
        "OOS Sharpe",
        "IS Sharpe",
        "Trials",
        "Folds",
    ]
    parts.append(_table(head, rows, numeric_from=3))
    return "".join(parts)


def _risk(pack: ReportPack) -> str:
    parts = ["<h2>Risk utilization</h2>"]
    risk = pack.risk
    if risk is None:
        return "".join([*parts, _empty("The risk limits could not be read.")])
    version = (
        "built-in defaults (version 0)"
        if risk.limits_version == 0
        else (f"version {risk.limits_version}")
    )
    parts.append(f"<p>Limits in force: {escape(version)}.</p>")
    if not risk.sessions:
        parts.append(
            _empty(
                f"No paper session trades {pack.subject_kind} {pack.subject_name}, so it "
                "holds no exposure against these limits."
            )
        )
    head = ["Limit", "In force", *(f"Used by {s.session}" for s in risk.sessions)]
    rows = [
        [
            _label(name),
            limit_value(value, risk.units.get(name, "")),
            *(pct(s.utilization.get(name)) for s in risk.sessions),
        ]
        for name, value in risk.limits.items()
    ]
    parts.append(_table(head, rows))
    for s in risk.sessions:
        parts.append(
            f"<h3>Session {escape(s.session)}: equity {money(s.equity)}, gross "
            f"{pct(s.gross_exposure)}, net {pct(s.net_exposure)}</h3>"
        )
        bars = utilization_bars([(_label(k), float(v)) for k, v in s.utilization.items()])
        parts.append(f"<figure>{bars}</figure>" if bars else "")
    return "".join(parts)


def _abtests(pack: ReportPack) -> str:
    parts = ["<h2>A/B comparisons</h2>"]
    if not pack.abtests:
        what = f"{pack.subject_kind} {pack.subject_name}"
        return "".join([*parts, _empty(f"No saved A/B comparison includes {what} yet.")])
    for ab in pack.abtests:
        parts.append(
            f"<h3>Run {ab.run_id}: {escape(ab.title)} ({day(ab.created_at)}, "
            f"{integer(ab.n_obs)} days)</h3>"
            f'<p class="verdict">{escape(ab.verdict)}</p>'
            f"<p>Deciding test: {escape(ab.primary_test)}.</p>"
        )
        if ab.deciding:
            rows = [
                [
                    d.pair,
                    f"{d.estimate:,.4g} {d.unit}".strip() if _finite(d.estimate) else "–",
                    f"{d.p_adjusted:.4f}" if _finite(d.p_adjusted) else "–",
                    "yes" if d.significant else "no",
                    d.favours or "–",
                ]
                for d in ab.deciding
            ]
            head = ["Pair", "Estimate", "Adjusted p", "Significant", "Favours"]
            parts.append(_table(head, rows))
    return "".join(parts)


def _provenance(pack: ReportPack) -> str:
    parts = [
        "<h2>Data and code</h2>",
        f"<p>Code version: <code>{escape(pack.code_version)}</code>. Generated at "
        f"{pack.generated_at:%Y-%m-%d %H:%M:%S %Z}.</p>",
    ]
    if pack.data_files:
        rows = [[f.dataset, f.source, f.sha256 or "–"] for f in pack.data_files]
        parts.append(_table(["Dataset", "Source", "SHA-256"], rows, numeric_from=3))
    else:
        parts.append(_empty("No dataset is behind these results yet."))
    parts += [f'<p class="note">{escape(n)}</p>' for n in pack.notes]
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;
margin:24px auto;max-width:960px;padding:0 16px;line-height:1.4}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:1px solid #ccc;
padding-bottom:3px;margin-top:28px}h3{font-size:14px;margin:14px 0 4px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top}th{background:#f3f3f3;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.txt{text-align:left}.empty{color:#555;font-style:italic}.meta{color:#444;font-size:13px}
.verdict{font-weight:600}figure{margin:8px 0}figcaption{font-size:12px;color:#555}
code{font-size:12px;word-break:break-all}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}
@media print{body{margin:0;max-width:none}section{break-inside:avoid-page}
h2{break-after:avoid}table,figure{break-inside:avoid}}
@page{size:A4;margin:14mm}
"""


def render_html(pack: ReportPack) -> str:
    """The pack as one self-contained HTML page."""
    sections = [
        _performance(pack),
        _walkforward(pack),
        _risk(pack),
        _abtests(pack),
        _provenance(pack),
    ]
    body = "".join(f"<section>{s}</section>" for s in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(pack.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(pack.title)}</h1>"
        f'<p class="meta">Generated {pack.generated_at:%Y-%m-%d %H:%M %Z} · code '
        f"{escape(pack.code_version)}</p>{body}</body></html>"
    )


__all__ = [
    "SUBJECT_KINDS",
    "ABVerdict",
    "DataFile",
    "DecidingTest",
    "PerformanceColumn",
    "ReportPack",
    "RiskSection",
    "SessionRisk",
    "SubjectKind",
    "WalkForwardRow",
    "day",
    "integer",
    "limit_value",
    "money",
    "pct",
    "ratio",
    "render_html",
]
