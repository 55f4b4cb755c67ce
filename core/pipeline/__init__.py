"""One decision pipeline for replay, paper trading and pages.

:class:`DecisionPipeline` turns each bar into a :class:`Decision`: incremental agent
states, filtered regime update, selector weights, volatility- and confidence-scaled
sizing, a pre-trade :class:`RiskHook` and a latency figure. :func:`replay` runs it over
history (a vectorized path gives the same decisions); :func:`bench_pipeline` measures it.
"""

from core.pipeline._incremental import IncrementalStrategy, make_kernel
from core.pipeline.bench import bench_pipeline, build_pipeline
from core.pipeline.pipeline import (
    Decision,
    DecisionPipeline,
    PortfolioState,
    ProposedOrder,
    RiskDecision,
    RiskHook,
    SizingSpec,
    approve_all,
    replay,
)

__all__ = [
    "Decision",
    "DecisionPipeline",
    "IncrementalStrategy",
    "PortfolioState",
    "ProposedOrder",
    "RiskDecision",
    "RiskHook",
    "SizingSpec",
    "approve_all",
    "bench_pipeline",
    "build_pipeline",
    "make_kernel",
    "replay",
]
