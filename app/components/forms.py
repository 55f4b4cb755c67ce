"""Form components generated from pydantic models, with errors beside each field."""

from __future__ import annotations

import re
import typing
from typing import Any

import streamlit as st
from pydantic import BaseModel, ValidationError
from streamlit.delta_generator import DeltaGenerator

from app.operations.errors import field_errors, field_label


def _kind(annotation: Any) -> tuple[str, tuple[Any, ...]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "choice", typing.get_args(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "float", ()
    return "text", ()


def numeric_fields(model: type[BaseModel]) -> list[str]:
    """Names of int/float fields (sweepable)."""
    return [n for n, f in model.model_fields.items() if _kind(f.annotation)[0] in ("int", "float")]


def _strategy_of(model: type[BaseModel]) -> str | None:
    from core.strategies import STRATEGIES

    return next((n for n, e in STRATEGIES.items() if e.params_model is model), None)


def _valid_range_help(model: type[BaseModel], name: str, description: str | None) -> str | None:
    """The field's description plus its declared valid range (strategy parameters)."""
    strategy = _strategy_of(model)
    if strategy is None:
        return description
    from core.strategies.catalog import param_specs

    valid = f"Valid: {param_specs(strategy)[name].describe()}."
    return f"{description}. {valid}" if description else valid


def model_inputs(
    model: type[BaseModel],
    *,
    key: str,
    columns: int = 3,
    initial: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, DeltaGenerator]]:
    """One widget per field of ``model`` (starting at ``initial`` or the field default);
    returns the values and an error slot per field. Each help text states the valid range."""
    values: dict[str, Any] = {}
    slots: dict[str, DeltaGenerator] = {}
    fields = list(model.model_fields.items())
    if not fields:
        st.caption("This strategy has no parameters.")
        return values, slots
    grid = st.columns(columns)
    for i, (name, field) in enumerate(fields):
        with grid[i % columns]:
            kind, choices = _kind(field.annotation)
            label = field_label(model, name)
            help_text = _valid_range_help(model, name, field.description)
            wkey = f"{key}.{name}"
            default = (initial or {}).get(name, field.default)
            if kind == "bool":
                values[name] = st.checkbox(label, value=bool(default), key=wkey, help=help_text)
            elif kind == "choice":
                values[name] = st.selectbox(
                    label, choices, index=choices.index(default), key=wkey, help=help_text
                )
            elif kind == "int":
                values[name] = st.number_input(
                    label, value=int(default), step=1, key=wkey, help=help_text
                )
            elif kind == "float":
                values[name] = st.number_input(
                    label, value=float(default), step=0.01, format="%.4f", key=wkey, help=help_text
                )
            else:
                values[name] = st.text_input(label, value=str(default), key=wkey, help=help_text)
            slots[name] = st.empty()
    return values, slots


def show_errors(
    exc: ValidationError | ValueError,
    slots: dict[str, DeltaGenerator],
    labels: dict[str, str] | None = None,
) -> list[str]:
    """Put each validation error beside its field; return the ones with no field.

    Messages are plain sentences naming the field by its label
    (:func:`app.operations.errors.field_errors`). Accepts pydantic's ValidationError and
    any ValueError with a pydantic-style ``errors()`` (e.g.
    :class:`core.strategies.catalog.ParamRangeError`)."""
    leftovers: list[str] = []
    for error in field_errors(exc, labels=labels):
        target = next((part for part in reversed(error.path) if part in slots), None)
        if target is None:
            # A rule across fields (e.g. fast < slow): beside the first field it names.
            lowered = error.message.lower()
            words = {n: (labels or {}).get(n, n).lower() for n in slots}
            named = [n for n, word in words.items() if word in lowered]
            target = min(named, key=lambda n: lowered.index(words[n])) if named else None
        if target is not None:
            slots[target].error(error.message)
        else:
            leftovers.append(error.message)
    return leftovers


_AXIS_LABELS = {"start": "start", "stop": "stop", "step": "step"}
"""The grid row's inputs, named as the row shows them."""
_AXIS_FORM = re.compile(r"^(?:grid )?(?:[\w.]+=)?(-?[\d.e+-]+:-?[\d.e+-]+:-?[\d.e+-]+)(: )?", re.I)


def _axis_sentence(message: str) -> str:
    """A grid range's message without its ``grid name=`` prefix (the row names it), to
    follow ``"Label: "``: ``"100:80:1: Stop 80 is below start 100."`` -> ``"stop 80 is below
    start 100."``."""
    found = _AXIS_FORM.match(message)
    if found is None:
        text = message
    elif found.group(2):
        text = message[found.end() :]
    else:
        text = f"the range {found.group(1)}{message[found.end() :]}"
    if text[1:2].islower():  # it follows "Label: "; an acronym keeps its capitals
        text = text[:1].lower() + text[1:]
    return text


def grid_axis_inputs(
    model: type[BaseModel],
    *,
    key: str,
    coarse_int_steps: bool = False,
    inline_errors: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """One row per numeric field: a 'sweep it' checkbox and start/stop/step inputs.

    Returns the ticked axes as :class:`core.sweep.GridAxis` and one message
    per invalid range (too many points, non-finite, outside the parameter's declared
    range, fractional steps for an integer parameter), checked before any work. With
    ``inline_errors`` each message is also shown under its own row. Integer steps start
    at 1, or a quarter of the default when ``coarse_int_steps``; default stops stay
    inside the declared range.
    """
    from core.sweep import GridAxis, check_grid

    strategy = _strategy_of(model)
    specs: dict[str, Any] = {}
    if strategy is not None:
        from core.strategies.catalog import param_specs

        specs = param_specs(strategy)
    axes: dict[str, Any] = {}
    errors: list[str] = []
    for name in numeric_fields(model):
        default = model.model_fields[name].default
        is_int = isinstance(default, int)
        int_step = max(1, default // 4) if coarse_int_steps else 1
        stop = default * 4 if is_int else default * 2
        high = specs[name].high if name in specs else None
        if high is not None and stop > high:
            stop = int(high) if is_int else high
        c0, c1, c2, c3 = st.columns(4)
        label = field_label(model, name)
        on = c0.checkbox(label, value=name in ("fast", "slow"), key=f"{key}.{name}.on")
        lo = c1.number_input("start", value=default, key=f"{key}.{name}.lo")
        hi = c2.number_input("stop", value=stop, key=f"{key}.{name}.hi")
        step = c3.number_input(
            "step",
            value=int_step if is_int else round(default / 4, 4) or 0.1,
            key=f"{key}.{name}.step",
        )
        slot = st.empty()
        if on:
            try:
                axis = GridAxis(start=lo, stop=hi, step=step)
                if strategy is not None:
                    check_grid(strategy, {name: axis})
                axes[name] = axis
            except ValueError as exc:  # pydantic's ValidationError is one
                problems = field_errors(exc, labels={name: label, **_AXIS_LABELS})
                message = f"{label}: " + " ".join(_axis_sentence(p.message) for p in problems)
                errors.append(message)
                if inline_errors:
                    slot.error(message)
    return axes, errors


def cost_inputs(
    fees_slot: DeltaGenerator, slippage_slot: DeltaGenerator, *, fees_key: str, slippage_key: str
) -> tuple[float, float]:
    """Fee and slippage inputs in basis points, defaulting to the :class:`Costs` model's
    defaults and bounded by its limits; returns both as fractions (5 bps -> 0.0005)."""
    from app.operations.costs import MAX_COST, default_bps

    high = MAX_COST * 1e4
    fees = fees_slot.number_input(
        "Fees (bps per fill)", 0.0, high, default_bps("fees"), 0.5, key=fees_key
    )
    slippage = slippage_slot.number_input(
        "Slippage (bps per fill)", 0.0, high, default_bps("slippage"), 0.5, key=slippage_key
    )
    return fees / 1e4, slippage / 1e4
