"""API routes: the current regime of each symbol, from its forward-filtered probabilities.

The history is the Regimes page's: causal (parameters estimated on earlier bars only),
fitted once per prices and settings and kept in the stored-fit cache
(:mod:`app.services.regime_store`), so a second call, the page and ``workbench setup``
share it. Only filtered probabilities are returned, never the smoothed (hindsight) ones.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from app import defaults
from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.paths import API_PREFIX
from app.operations.regime import Method, RegimeFitRequest
from app.services import regime
from app.services.data import checked_symbols, load_prices
from app.services.regime_store import fit_key, stored_regimes
from app.services.regime_view import fit_and_store
from core.regime import LABELS

router = APIRouter(
    prefix=API_PREFIX,
    tags=["regimes"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
)
MAX_SYMBOLS = 20
_FIELDS = RegimeFitRequest.model_fields


class SymbolRegime(BaseModel):
    """The latest bar's forward-filtered regime probabilities of one symbol."""

    symbol: str
    as_of: str = Field(description="The bar these probabilities are for (ISO 8601)")
    probabilities: dict[str, float] = Field(
        description="P(regime) for bull, bear, sideways and volatile; they sum to 1"
    )
    label: str = Field(description="The most probable regime")
    confidence: float = Field(description="Its probability")
    first_bar: str = Field(description="The first bar with probabilities (ISO 8601)")
    bars: int = Field(description="Bars in the history")
    stored: bool = Field(description="Read from the stored fit (False: fitted by this call)")
    warnings: list[str]


class RegimesView(BaseModel):
    """The current regime of each requested symbol."""

    dataset: str
    method: str
    seed: int
    history: str = Field(description="How the history was estimated (causal)")
    refit_every: int
    probabilities: str = Field(description="What the probabilities are")
    symbols: list[SymbolRegime]


def _current(dataset: str, symbol: str, request: RegimeFitRequest) -> SymbolRegime:
    prices = load_prices(dataset, symbol)
    history = regime.history_spec(request.history, request.refit_every)
    key = fit_key(prices, symbol, request.method, request.seed, history)
    try:
        fitted: dict[str, Any] = stored_regimes(key) or fit_and_store(
            prices, key, method=request.method, seed=request.seed, history=history
        )
    except ValueError as exc:  # e.g. too short a history: say which symbol
        raise ValueError(f"regimes of {symbol} in {dataset}: {exc}") from exc
    frame = cast(pd.DataFrame, fitted["frame"])
    columns = [f"p_{label}" for label in LABELS]
    scored = frame.dropna(subset=columns)
    if scored.empty:
        raise ValueError(
            f"{symbol} in {dataset} has too few bars ({len(frame)}) for a causal regime "
            "history; its first fit needs more"
        )
    last = scored.iloc[-1]
    probabilities = {label: float(last[f"p_{label}"]) for label in LABELS}
    return SymbolRegime(
        symbol=symbol,
        as_of=pd.Timestamp(scored.index[-1]).isoformat(),
        probabilities=probabilities,
        label=str(last["label"]),
        confidence=float(last["confidence"]),
        first_bar=pd.Timestamp(scored.index[0]).isoformat(),
        bars=len(frame),
        stored=bool(fitted["stored"]),
        warnings=[str(w) for w in cast(list[Any], fitted["warnings"])],
    )


@router.get(
    "/regimes",
    summary="Current regime probabilities",
    description="For each symbol, the latest bar's FORWARD-FILTERED probabilities of bull, bear, "
    "sideways and volatile, its most probable regime and the bar they are for. Causal: bar t "
    "is filtered with parameters estimated on earlier bars only; smoothed (hindsight) "
    "probabilities are never returned. The first call for new prices or settings fits the "
    "history (seconds); it is stored, so later calls and the Regimes page read it at once.",
    response_model=RegimesView,
)
def current_regimes(
    symbols: Annotated[
        list[str],
        Query(min_length=1, max_length=MAX_SYMBOLS, description="Symbol (repeatable)"),
    ],
    dataset: Annotated[str, Query(min_length=1, max_length=64)] = defaults.DATASET,
    method: Annotated[Method, Query(description=_FIELDS["method"].description)] = "hmm",
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="Random seed of the fit")] = 0,
    history: Annotated[
        Literal["expanding", "rolling"], Query(description="Causal refits: expanding or rolling")
    ] = "expanding",
    refit_every: Annotated[int, Query(ge=1, le=2520, description="Bars between refits")] = 21,
) -> RegimesView:
    names = checked_symbols(dataset, symbols, every=False, hint="name a symbol")
    rows = []
    for symbol in dict.fromkeys(names):
        request = RegimeFitRequest(
            dataset=dataset,
            symbol=symbol,
            method=method,
            seed=seed,
            history=history,
            refit_every=refit_every,
        )
        rows.append(_current(dataset, symbol, request))
    return RegimesView(
        dataset=dataset,
        method=method,
        seed=seed,
        history=regime.history_spec(history, refit_every).describe(),
        refit_every=refit_every,
        probabilities="forward-filtered with parameters estimated on earlier bars only "
        "(causal); no smoothed values",
        symbols=rows,
    )
