"""One decision pipeline for replay, paper trading and pages.

:class:`DecisionPipeline` turns each bar into a :class:`Decision`: incremental agent
states, filtered regime update, selector weights, volatility- and confidence-scaled
sizing, a pre-trade :class:`RiskHook` and a latency figure. :class:`ModelPipeline` is the
same pipeline with a registered classifier's probability as its signal. :func:`replay` runs it over
history (a vectorized path gives the same decisions); :func:`bench_pipeline` measures it.
"""

from core.pipeline._incremental import IncrementalStrategy, make_kernel
from core.pipeline.bench import bench_pipeline, build_pipeline
from core.pipeline.model import ModelPipeline, model_signal, model_targets
from core.pipeline.online_features import OnlineFeatures
from core.pipeline.pipeline import (
    Decision,
    DecisionPipeline,
    GateDecision,
    OrderIntent,
    RiskHook,
    SizingSpec,
    SymbolBook,
    approve_all,
    place_order,
)
from core.pipeline.replay import replay

__all__ = [
    "Decision",
    "DecisionPipeline",
    "GateDecision",
    "IncrementalStrategy",
    "ModelPipeline",
    "OnlineFeatures",
    "OrderIntent",
    "RiskHook",
    "SizingSpec",
    "SymbolBook",
    "approve_all",
    "bench_pipeline",
    "build_pipeline",
    "make_kernel",
    "model_signal",
    "model_targets",
    "place_order",
    "replay",
]
