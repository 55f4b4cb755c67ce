"""The A/B compare page's arm pickers: each arm's source, then that source's picker."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

from app.operations.abtest import parse_arm
from core.strategies import STRATEGIES, validate_params


def params_problem(strategy: str, arm: str) -> str | None:
    """What is wrong with a strategy arm's parameters, in a sentence (None when nothing)."""
    try:
        _kind, params = parse_arm(arm)
    except ValueError:
        return "write each parameter as name=value, comma separated (e.g. fast=20, slow=100)."
    try:
        validate_params(strategy, params)  # type: ignore[arg-type]  # a strategy arm's dict
    except ValueError as exc:
        text = str(exc).removeprefix(f"invalid parameters for {strategy}: ")
        # "fast: fast must be ..." and "fst: x has no parameter 'fst'" name it twice
        return re.sub(r"(^|; )(\w+): (?=\2\b|\w+ has no parameter '\2')", r"\1", text) + "."
    return None


def arm_inputs(saved: Sequence[Any], versions: Sequence[Any]) -> tuple[list[str], list[str]]:
    """Arms A, B and the optional C, one column each: the arms as ``parse_arm`` reads them,
    and the problems of their parameters, each naming the field by its label."""
    arms: list[str] = []
    problems: list[str] = []
    for i, column in enumerate(st.columns(3)):
        name = "ABC"[i]
        with column:
            source = st.radio(
                f"Arm {name}" + (" (optional)" if i == 2 else ""),
                ["strategy", "saved run", "model", "none"]
                if i == 2
                else ["strategy", "saved run", "model"],
                index=3 if i == 2 else 0,  # arm C is off unless asked for
                key=f"ab.{name}.source",
                horizontal=True,
            )
            if source == "strategy":
                strategy = st.selectbox(
                    f"Arm {name} strategy",
                    sorted(STRATEGIES),
                    key=f"ab.{name}.strategy",
                    index=sorted(STRATEGIES).index("buy_and_hold" if i == 0 else "ma_crossover"),
                )
                params = st.text_input(
                    f"Arm {name} parameters (k=v, comma separated)",
                    key=f"ab.{name}.params",
                    value="" if i != 1 else "fast=20, slow=100",
                )
                arm = f"{strategy}:{params}" if params.strip() else strategy
                arms.append(arm)
                problem = params_problem(strategy, arm)
                if problem is not None:
                    problems.append(f"Arm {name} parameters: {problem}")
            elif source == "model":
                if not versions:
                    st.caption("No registered models yet (Training page).")
                else:
                    version_id = st.selectbox(
                        f"Arm {name} registered model",
                        [v.id for v in versions],
                        index=min(i, len(versions) - 1),  # arms A and B: two versions
                        key=f"ab.{name}.model",
                        format_func=lambda vid: next(
                            f"{v.name} v{v.version} ({v.stage}, #{v.id})"
                            for v in versions
                            if v.id == vid
                        ),
                    )
                    arms.append(f"model:{version_id}")
            elif source == "saved run":
                if not saved:
                    st.caption("No saved backtests yet (Backtest page).")
                else:
                    run_id = st.selectbox(
                        f"Arm {name} saved backtest",
                        [r.id for r in saved],
                        key=f"ab.{name}.run",
                        format_func=lambda rid: next(
                            f"#{r.id} {r.title}" for r in saved if r.id == rid
                        ),
                    )
                    arms.append(f"run:{run_id}")
    return arms, problems
