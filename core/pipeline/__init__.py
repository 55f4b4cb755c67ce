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
    GateDecision,
    OrderIntent,
    RiskHook,
    SizingSpec,
    SymbolBook,
    approve_all,
)
from core.pipeline.replay import replay

__all__ = [
    "Decision",
    "DecisionPipeline",
    "GateDecision",
    "IncrementalStrategy",
    "OrderIntent",
    "RiskHook",
    "SizingSpec",
    "SymbolBook",
    "approve_all",
    "bench_pipeline",
    "build_pipeline",
    "make_kernel",
    "replay",
]
