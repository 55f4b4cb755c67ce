"""Risk limits, the pre-trade check and the portfolio risk view.

>>> from core.risk import RiskLimits, ProposedOrder, PortfolioState, pre_trade_check
>>> state = PortfolioState(equity=100_000, cash=100_000, positions={}, prices={"AAPL": 200.0},
...                        start_of_day_equity=100_000, peak_equity=100_000)
>>> d = pre_trade_check(ProposedOrder("AAPL", "buy", 200), state, RiskLimits())
>>> d.approved, d.allowed_quantity
(True, 125.0)

Names are imported from their submodule on first access (:mod:`core._lazy`).
"""

from typing import TYPE_CHECKING

from core._lazy import attach

if TYPE_CHECKING:
    from core.risk.bench import bench_pre_trade
    from core.risk.limits import RiskLimits, VarMethod
    from core.risk.pretrade import ProposedOrder, RiskDecision, pre_trade_check
    from core.risk.report import RiskReport, portfolio_risk
    from core.risk.state import PortfolioState

__getattr__, __dir__ = attach(
    __name__,
    {
        "bench": ["bench_pre_trade"],
        "limits": ["RiskLimits", "VarMethod"],
        "pretrade": ["ProposedOrder", "RiskDecision", "pre_trade_check"],
        "report": ["RiskReport", "portfolio_risk"],
        "state": ["PortfolioState"],
    },
)

__all__ = [
    "PortfolioState",
    "ProposedOrder",
    "RiskDecision",
    "RiskLimits",
    "RiskReport",
    "VarMethod",
    "bench_pre_trade",
    "portfolio_risk",
    "pre_trade_check",
]
