"""The Paper trading page's live panels: the feed badge and market clock, feed latency,
the per-symbol book, model health, drift, the shadow challenger's live A/B test and the
session's alerts."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.components.numbers import MISSING, day, money, number
from app.components.tables import column_formats
from core.paper.monitor import MonitorView

BADGE_COLORS = {"LIVE": "red", "SIMULATED-LIVE": "orange", "REPLAY": "blue"}
MODELS_PAGE = Path(__file__).resolve().parents[2] / "pages" / "registry.py"
"""The Models page (registered by its path in app/main.py)."""
MONEY = "dollar"
NUMBER = st.column_config.NumberColumn


def _ms(value: Any) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{float(value):,.1f} ms"


def age_text(seconds: float | None) -> str:
    """A heartbeat's age in words."""
    if seconds is None:
        return "none yet"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def plain(name: str, value: Any) -> str:
    """A health figure as text: money for equity and cash, dates without midnight's
    time, times to the second, numbers with thousands separators (no 16-digit floats).

    >>> plain("peak_equity", 113097.64649), plain("cursor_ts", pd.Timestamp("2006-05-03"))
    ('$113,097.65', '2006-05-03')
    """
    if value is None:
        return MISSING
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if any(w in name for w in ("equity", "cash", "pnl")):
            return money(value)
        return number(value, 2) if abs(value) >= 1 else f"{value:.4g}"
    if isinstance(value, datetime | pd.Timestamp):
        stamp = pd.Timestamp(value)
        return day(stamp) if stamp == stamp.normalize() else f"{stamp:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def render_health(view: MonitorView) -> None:
    """The session row, the last heartbeat and the reconciliations, as text."""
    session = view.session or {}
    st.markdown("**Session**")
    st.dataframe(
        [{"field": k, "value": plain(k, v)} for k, v in session.items() if k != "config"],
        width="stretch",
        hide_index=True,
        key="paper.health.session",
    )
    st.markdown("**Last heartbeat**")
    beat = view.heartbeat or {}
    st.dataframe(
        [{"field": k, "value": plain(k, v)} for k, v in beat.items()] or [{"field": "none yet"}],
        width="stretch",
        hide_index=True,
        key="paper.health.beat",
    )
    st.markdown(f"**Reconciliations** ({len(view.reconciliation)})")
    if view.reconciliation:
        st.dataframe(
            [
                {"at": plain("ts", r["ts"]), "differences": str(r["differences"])}
                for r in view.reconciliation
            ],
            width="stretch",
            hide_index=True,
            key="paper.health.reconciliation",
        )


def render_status(view: MonitorView, status: dict[str, Any]) -> None:
    """Badge (which feed runs), timeframe and dataset, the market clock, the heartbeat's
    age and the feed latency from bar close to decision to order."""
    badge = status["badge"]
    feed = view.feed
    source = "Alpaca stream" if feed.get("feed") == "alpaca" else f"dataset {feed.get('dataset')}"
    st.markdown(
        f":{BADGE_COLORS.get(badge, 'gray')}-background[**{badge}**] &nbsp; "
        f"{status['timeframe']} bars from {source} · {status['market']} · heartbeat "
        f"{age_text(status['heartbeat_age_s'])}",
        help="LIVE: Alpaca market data; SIMULATED-LIVE: a dataset on the wall clock; "
        "REPLAY: a dataset as fast as the worker runs.",
    )
    if (view.heartbeat or {}).get("status") == "market_closed":
        st.info(f"The worker sleeps: {status['market']}.")
    last, median = view.latency.get("last", {}), view.latency.get("median", {})
    if last:
        st.caption(
            "Feed latency of the last bar (median of the last "
            f"{view.latency['bars']}): bar close → receipt {_ms(last.get('arrival'))} "
            f"({_ms(median.get('arrival'))}), → decision {_ms(last.get('decision'))} "
            f"({_ms(median.get('decision'))}), → order {_ms(last.get('order'))} "
            f"({_ms(median.get('order'))})."
        )
    else:
        st.caption("Feed latency: measured on live bars only (none yet for this session).")


def render_book(view: MonitorView) -> None:
    """One row per symbol: position, market value, P&L, regime and the model's
    probability of an up move (no column when no symbol has one: the rule agents trade)."""
    if view.book.empty:
        st.info("No positions yet.")
        return
    book = view.book.drop(columns=["bar"])
    model = bool(book["probability"].notna().any())
    if not model:
        book = book.drop(columns=["probability"])
    st.dataframe(
        book,
        width="stretch",
        hide_index=True,
        key="paper.book",
        column_config={
            "symbol": st.column_config.TextColumn("Symbol"),
            "position": NUMBER("Position", format="localized"),
            "last_price": NUMBER("Last price", format=MONEY),
            "market_value": NUMBER("Market value", format=MONEY),
            "unrealized_pnl": NUMBER("Unrealized P&L", format=MONEY),
            "realized_pnl": NUMBER("Realized P&L", format=MONEY),
            "regime": st.column_config.TextColumn("Regime"),
            "probability": NUMBER("P(up)", format="%.3f", help="The model's; empty: rules"),
        },
    )
    bar = view.book["bar"].dropna()
    if len(bar):
        decided = "Regime and probability" if model else "Regime (the rule agents trade: no P(up))"
        st.caption(f"{decided} as decided at bar {int(bar.max())}.")


def render_model_health(view: MonitorView) -> None:
    """Live model metrics beside the figures at registration."""
    health = view.model_health
    if not health.get("model"):
        st.info(
            "This session trades the rule-agent ensemble: no model to watch. Start one with a "
            "registered model (Model: NAME:VERSION or NAME@champion)."
        )
        return
    live, ref = health.get("live", {}), health.get("reference", {})
    if not live:
        st.info(f"Model {health['model']}: not enough realized outcomes for live metrics yet.")
        return
    names = [k for k in ("auc", "hit_rate", "brier", "ece") if k in live or k in ref]
    rows = [
        {
            "metric": k,
            "live": live.get(k),
            "at registration": ref.get(k),
            "change": (live[k] - ref[k]) if k in live and k in ref else None,
        }
        for k in names
    ]
    st.markdown(f"**Model {health['model']}**: live metrics at bar {health['bar']}")
    st.dataframe(
        pd.DataFrame(rows),
        width="stretch",
        hide_index=True,
        column_config={c: NUMBER(c, format="%.3f") for c in ("live", "at registration", "change")},
    )


def render_drift(view: MonitorView, threshold: tuple[float, str]) -> None:
    """PSI and KS per feature (and regime), the worst first, against the rule's PSI."""
    drift, (limit, source) = view.drift, threshold
    table = drift.get("table")
    if table is None or table.empty:
        st.info("No drift figures yet (computed every few bars once the live window fills).")
        return
    own = table[table["reference"] == "own"]  # what the rules read (psi:FEATURE[@REGIME])
    rest = table[table["reference"] != "own"]
    shown = pd.concat([own, rest], ignore_index=True)
    shown["drifted"] = (shown["reference"] == "own") & (shown["psi"] >= limit)
    worst = own.dropna(subset=["psi"])
    if worst.empty:
        st.markdown(f"No feature has enough live rows to score yet (threshold {limit:g}).")
    else:
        top = worst.iloc[0]
        verdict = "drifted past" if top["psi"] >= limit else "within"
        st.markdown(
            f"**Worst PSI {top['psi']:.3f}** ({top['feature']}, {top['regime']}): {verdict} "
            f"the threshold {limit:g} ({source}); bar {drift['bar']}, {drift['rows']:,} live "
            "rows."
        )
    st.dataframe(
        shown,
        width="stretch",
        hide_index=True,
        key="paper.drift",
        column_config=column_formats(shown)
        | {
            "psi": NUMBER("PSI", format="%.3f"),
            "ks": NUMBER("KS", format="%.3f"),
            "reference": st.column_config.TextColumn("Against", help="own regime or whole"),
        },
    )
    st.caption(
        "PSI < 0.1 stable, 0.1-0.25 moderate, > 0.25 a major shift. Rows against the whole "
        "reference compare a regime with all training rows (shown, not alerted on)."
    )


def render_live_test(view: MonitorView) -> None:
    """The shadow challenger's live SPRT, with a link to the Models page."""
    test = view.live_test
    if test is None:
        challenger = view.feed.get("challenger")
        st.caption(
            f"Challenger {challenger}: its live test starts with the first traded bar."
            if challenger
            else "No challenger in shadow (start a session with a Challenger to run one)."
        )
        return
    llr = test["log_lr"]
    llr_text = "—" if llr is None else f"{llr:+.3f}"
    st.markdown(
        f"**Live A/B test #{test['id']}**: {test['champion']} vs shadow {test['challenger']}: "
        f"{test['state']}, decision {test['decision']} after {test['n']} bars; log LR "
        f"{llr_text} (accept at {test['upper']:+.2f}, reject at {test['lower']:+.2f}); "
        f"promotion {test['promotion']}."
    )
    st.page_link(MODELS_PAGE, label="Models page: the running test and approvals")


def render_alerts(fired: list[dict[str, Any]], repeats: int) -> None:
    """The session's newest alerts that fired (``repeats`` inside a rule's cooldown are
    counted, not listed); the newest one in full."""
    if not fired:
        st.caption("No alert about this session.")
        return
    newest = fired[0]
    when = pd.Timestamp(newest["at"]).strftime("%d %b %H:%M:%S UTC")
    st.warning(f"Alert at {when}: {newest['message']}")
    table = pd.DataFrame(fired)[["at", "kind", "severity", "status", "message"]]
    table["at"] = pd.to_datetime(table["at"]).dt.strftime("%d %b %H:%M:%S")
    st.dataframe(
        table,
        width="stretch",
        hide_index=True,
        key="paper.alerts",
        column_config={"message": st.column_config.TextColumn("Message", width="large")},
    )
    if repeats:
        st.caption(f"{repeats} repeat(s) within the rules' cooldown not listed (kept in Alerts).")


__all__ = [
    "age_text",
    "plain",
    "render_alerts",
    "render_book",
    "render_drift",
    "render_health",
    "render_live_test",
    "render_model_health",
    "render_status",
]
