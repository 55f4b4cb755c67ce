"""A walk-forward's self-contained HTML report, and the plain explanations of DSR and PBO
that the report and the page show."""

from __future__ import annotations

import html
from collections.abc import Sequence

from core.walkforward.result import WalkForwardResult

DSR_MEANING = (
    "the probability that the out-of-sample Sharpe is above zero "
    "after correcting for the number of configurations tried and for fat tails "
    "(significant at 0.95). Trials are counted raw: every grid combination (or tuning "
    "trial) counts, correlated ones included; the Sharpe dispersion comes from the "
    "trials' own out-of-sample Sharpe ratios."
)
PBO_MEANING = (
    "how often the configuration that was best in sample ranks below the median out of "
    "sample (0.5 or more means selection is no better than chance)."
)
DSR_EXPLAINED = f"Deflated Sharpe ratio: {DSR_MEANING}"
PBO_EXPLAINED = f"Probability of backtest overfitting: {PBO_MEANING}"
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1f2328}"
    "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:4px 8px;"
    "text-align:left}th{background:#f6f8fa}dt{font-weight:600;margin-top:.5em}"
)


def _rows(rows: Sequence[Sequence[str]]) -> str:
    """Table rows: the first cell is the row's header, the others its data."""
    return "".join(
        f"<tr><th scope='row'>{html.escape(row[0], quote=False)}</th>"
        + "".join(f"<td>{html.escape(cell, quote=False)}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fixed(x: float | None, digits: int) -> str:
    return "n/a" if x is None or x != x else f"{x:,.{digits}f}"


def report_html(
    result: WalkForwardResult,
    *,
    title: str,
    setup: Sequence[tuple[str, str]] = (),
    folds: str | None = None,
) -> str:
    """A self-contained HTML export (plotly.js embedded, works offline): warnings first,
    what was validated and how (``setup``: label and text rows, e.g. strategy, grid,
    costs, execution, run id, data hash), each figure once, what DSR and PBO mean, the
    stitched OOS equity and the fold table (``folds``: its HTML, default the raw table)."""
    import plotly.graph_objects as go

    r = result
    fig = go.Figure(go.Scatter(x=r.oos_equity.index, y=r.oos_equity, name="OOS equity"))
    fig.update_layout(title="Stitched out-of-sample equity", height=420)
    figures: list[tuple[str, str, str]] = [
        ("In-sample Sharpe (mean of folds)", _fixed(r.is_sharpe, 3), ""),
        ("Out-of-sample Sharpe (stitched)", _fixed(r.oos_sharpe, 3), ""),
        (
            "Out-of-sample total return",
            "n/a" if r.oos_return != r.oos_return else f"{r.oos_return:.2%}",
            "",
        ),
    ]
    if r.oos_auc is not None:
        figures.append(("Out-of-sample AUC (stitched)", _fixed(r.oos_auc, 3), ""))
    figures += [
        (
            "Deflated Sharpe ratio (DSR)",
            f"{_fixed(r.deflated_sharpe, 3)} over {r.trials:,} trials ({r.trial_counting})",
            _sentence(DSR_MEANING),
        ),
        (
            "Probability of backtest overfitting (PBO)",
            "n/a (no grid of alternatives for a model)" if r.pbo is None else _fixed(r.pbo, 3),
            _sentence(PBO_MEANING),
        ),
    ]
    if r.lookahead is not None:
        figures.append(("Look-ahead check", str(r.lookahead["message"]), ""))
    warnings = "".join(
        "<div class='warning' style='border:2px solid #c62828;background:#fdecea;"
        f"padding:8px;margin:8px 0'><b>WARNING:</b> {html.escape(w)}</div>"
        for w in r.warnings
    )
    table = (
        folds if folds is not None else r.folds.to_html(index=False, float_format="{:,.4f}".format)
    )
    head = html.escape(title)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{head}</title>"
        f"<style>{STYLE}</style></head><body><h1>{head}</h1>{warnings}"
        f"<h2>What was validated</h2><table>{_rows(setup)}</table>"
        "<h2>Results</h2><table><tr><th scope='col'>Figure</th><th scope='col'>Value</th>"
        f"<th scope='col'>What it means</th></tr>{_rows(figures)}</table>"
        f"{fig.to_html(full_html=False, include_plotlyjs=True)}"
        f"<h2>Folds</h2>{table}</body></html>"
    )


__all__ = ["DSR_EXPLAINED", "DSR_MEANING", "PBO_EXPLAINED", "PBO_MEANING", "report_html"]
