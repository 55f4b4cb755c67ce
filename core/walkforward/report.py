"""A walk-forward's self-contained HTML report, and the plain explanations of DSR and PBO
that the report and the page show."""

from __future__ import annotations

import html

from core.walkforward.result import WalkForwardResult

DSR_EXPLAINED = (
    "Deflated Sharpe ratio: the probability that the out-of-sample Sharpe is above zero "
    "after correcting for the number of configurations tried and for fat tails "
    "(significant at 0.95). Trials are counted raw: every grid combination (or tuning "
    "trial) counts, correlated ones included; the Sharpe dispersion comes from the "
    "trials' own out-of-sample Sharpe ratios."
)
PBO_EXPLAINED = (
    "Probability of backtest overfitting: how often the configuration that was best in "
    "sample ranks below the median out of sample (0.5 or more means selection is no "
    "better than chance)."
)


def report_html(result: WalkForwardResult, *, title: str) -> str:
    """A self-contained HTML export (plotly.js embedded, works offline): warnings first,
    summary with the explanations, stitched OOS equity and the fold table."""
    import plotly.graph_objects as go

    r = result
    fig = go.Figure(go.Scatter(x=r.oos_equity.index, y=r.oos_equity, name="OOS equity"))
    fig.update_layout(title="Stitched out-of-sample equity", height=420)
    pbo = "n/a (no grid of alternatives for a model)" if r.pbo is None else f"{r.pbo:.3f}"
    auc = "" if r.oos_auc is None else f"<li>Out-of-sample AUC (stitched): {r.oos_auc:.3f}</li>"
    check = (
        ""
        if r.lookahead is None
        else f"<li>Look-ahead check: {html.escape(r.lookahead['message'])}</li>"
    )
    warnings = "".join(
        "<div class='warning' style='border:2px solid #c62828;background:#fdecea;"
        f"padding:8px;margin:8px 0'><b>WARNING:</b> {html.escape(w)}</div>"
        for w in r.warnings
    )
    summary = (
        f"{warnings}<ul><li>In-sample Sharpe (mean of folds): {r.is_sharpe:.3f}</li>"
        f"<li>Out-of-sample Sharpe (stitched): {r.oos_sharpe:.3f}</li>{auc}"
        f"<li>Deflated Sharpe ratio: {r.deflated_sharpe:.3f} over {r.trials} trials "
        f"({html.escape(r.trial_counting)}). "
        f"{DSR_EXPLAINED}</li><li>PBO: {pbo}. {PBO_EXPLAINED}</li>{check}</ul>"
    )
    table = r.folds.to_html(index=False, float_format=lambda x: f"{x:.4f}")
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<h1>{title}</h1>{summary}{fig.to_html(full_html=False, include_plotlyjs=True)}"
        f"<h2>Folds</h2>{table}</body></html>"
    )


__all__ = ["DSR_EXPLAINED", "PBO_EXPLAINED", "report_html"]
