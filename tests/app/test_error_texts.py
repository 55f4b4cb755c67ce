"""Every request model's invalid values become plain sentences: the field named by its
label, the valid range, integers as integers, no pydantic phrasing, no field identifier and,
for a page, no CLI flag. The models are found by reading ``app/operations`` itself, so a new
request model is checked as soon as it exists."""

from __future__ import annotations

import importlib
import re
import types
import typing
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, ValidationError

from app.operations import all_operations
from app.operations.errors import field_errors, field_label, number_text, request_models

FOLDER = Path(__file__).resolve().parents[2] / "app" / "operations"
PYDANTIC = ("Value error", "Assertion failed", "should", "Input should", "String should")
FLAG = re.compile(r"(?<![\w-])--[a-z]")
FLOAT_INT = re.compile(r"(?<![\w.])-?\d+\.0(?![\d])")
NOT_MODELS = {"errors", "fields", "params", "__init__"}


def _declared() -> list[type[BaseModel]]:
    """Every pydantic model declared in a module of app/operations (requests and the
    models they are made of), plus every operation's request."""
    found: dict[str, type[BaseModel]] = {op.request.__name__: op.request for op in all_operations()}
    for path in sorted(FOLDER.glob("*.py")):
        if path.stem in NOT_MODELS:
            continue
        module = importlib.import_module(f"app.operations.{path.stem}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found.setdefault(value.__name__, value)
    return [found[name] for name in sorted(found)]


MODELS = _declared()
REQUESTS = [m for m in MODELS if m.__name__.endswith("Request")]


def _plain(annotation: Any) -> Any:
    """The annotation without ``None`` and ``Annotated``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _plain(typing.get_args(annotation)[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _plain(args[0]) if len(args) == 1 else annotation
    return annotation


def _bounds(info: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for meta in info.metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if isinstance(meta, getattr(at, name.title().replace("_", ""), ())):
                out[name] = getattr(meta, name)
        if hasattr(meta, "pattern") and getattr(meta, "pattern", None):
            out["pattern"] = 1
    return out


def invalid_values(info: Any) -> list[Any]:
    """Values the field refuses by its own declaration (bounds, type, choices)."""
    kind, bounds = _plain(info.annotation), _bounds(info)
    values: list[Any] = []
    if kind in (int, float):
        step = 1 if kind is int else 0.5
        if "ge" in bounds:
            values.append(bounds["ge"] - step)
        if "gt" in bounds:
            values.append(bounds["gt"])
        if "le" in bounds:
            values.append(bounds["le"] + step if bounds["le"] < 2**62 else 2**63)
        if "lt" in bounds:
            values.append(bounds["lt"])
        values.append("many")
        if kind is int:
            values.append(2.5)
    elif kind in (str, SecretStr):
        if bounds.get("min_length", 0) >= 1:
            values.append("")
        if "max_length" in bounds:
            values.append("x" * (int(bounds["max_length"]) + 1))
        if "pattern" in bounds:
            values.append("a b\n!")
        values.append(12.5 if kind is str else [])
    elif typing.get_origin(kind) is Literal:
        values.append("no-such-choice")
    elif kind is date:
        values.append("2020-13-45")
    elif kind is bool:
        values.append("perhaps")
    elif typing.get_origin(kind) is list:
        if bounds.get("min_length", 0) >= 1:
            values.append([])
        if "max_length" in bounds:
            values.append([f"S{i}" for i in range(int(bounds["max_length"]) + 1)])
        values.append("not a list")
    elif typing.get_origin(kind) is dict:
        values.append("not a mapping")
    return values


CASES = [
    (model, name, value)
    for model in REQUESTS
    for name, info in model.model_fields.items()
    for value in invalid_values(info)
]


def _snake_fields(model: type[BaseModel]) -> set[str]:
    return {n for n in model.model_fields if "_" in n}


def check_sentence(message: str, *, model: type[BaseModel], label: str, integer: bool) -> None:
    """The rules every message a user sees follows (as a page shows it)."""
    assert label.lower() in message.lower(), (label, message)
    assert not any(p in message for p in PYDANTIC), message
    for name in _snake_fields(model):
        assert not re.search(rf"(?<![\w'\"]){name}(?![\w'\"])", message), (name, message)
    if integer:
        assert not FLOAT_INT.search(message), message
    assert not FLAG.search(message), message
    assert message.endswith(".") and message[:1] == message[:1].upper(), message


def _refusal(model: type[BaseModel], values: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        model(**values)
    return info.value


def test_the_models_are_found() -> None:
    names = {m.__name__ for m in REQUESTS}
    assert {"WalkForwardRequest", "SweepRequest", "PaperRequest", "DataImportRequest"} <= names
    assert len(CASES) > 300
    # Every request is one the sentence builder knows (its labels come from its titles).
    assert names <= set(request_models()), names - set(request_models())


@pytest.mark.parametrize(
    ("model", "name", "value"), CASES, ids=[f"{m.__name__}.{n}={v!r:.12}" for m, n, v in CASES]
)
def test_each_invalid_field_value_reads_as_a_sentence(
    model: type[BaseModel], name: str, value: Any
) -> None:
    exc = _refusal(model, {name: value})
    mine = [p for p in field_errors(exc) if p.field == name]
    assert mine, (name, [p.message for p in field_errors(exc)])
    integer = _plain(model.model_fields[name].annotation) is int
    for problem in mine:
        leaf = problem.path[-1] if problem.path else name
        label = field_label(model, leaf) if leaf in model.model_fields else leaf
        check_sentence(problem.message, model=model, label=label, integer=integer)
    # The CLI shows the same sentence with the flag in brackets; the API the same text.
    flag = f"--{name.replace('_', '-')}"
    cli = [p.message for p in field_errors(exc, flags={name: flag}) if p.field == name]
    assert cli == [f"{p.message[:-1]} ({flag})." for p in mine]


NUMERIC = [
    (model, name, info)
    for model in REQUESTS
    for name, info in model.model_fields.items()
    if _plain(info.annotation) in (int, float) and _bounds(info)
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_out_of_range_numbers_name_the_label_and_the_bound(data: st.DataObject) -> None:
    model, name, info = data.draw(st.sampled_from(NUMERIC))
    bounds, kind = _bounds(info), _plain(info.annotation)
    sides = [k for k in ("ge", "gt", "le", "lt") if k in bounds]
    side = data.draw(st.sampled_from(sides))
    bound = bounds[side]
    if kind is int:
        below = st.integers(max_value=int(bound) - (1 if side == "ge" else 0), min_value=-(10**12))
        above = st.integers(min_value=int(bound) + (1 if side == "le" else 0), max_value=2**70)
    else:
        below = st.floats(max_value=bound, exclude_max=side == "ge", min_value=-1e15)
        above = st.floats(min_value=bound, exclude_min=side == "le", max_value=1e15)
    value = data.draw(below if side in ("ge", "gt") else above)
    exc = _refusal(model, {name: value})
    (problem,) = [p for p in field_errors(exc) if p.field == name]
    check_sentence(
        problem.message, model=model, label=field_label(model, name), integer=kind is int
    )
    shown = f"{int(bound):,}" if float(bound).is_integer() and abs(bound) >= 10_000 else None
    assert (shown or f"{bound:g}".removesuffix(".0")) in problem.message, problem.message


DATED = [
    m
    for m in REQUESTS
    if {"start", "end"} <= set(m.model_fields)
    and _plain(m.model_fields["start"].annotation) is date
]
VALID: dict[str, dict[str, Any]] = {
    "SweepRequest": {"grid": {"fast": {"start": 5, "stop": 20, "step": 5}}},
    "CompareRequest": {"arms": ["ma_crossover", "buy_and_hold"]},
    "PortfolioRequest": {"symbols": ["AAPL", "MSFT"]},
    "PredictRequest": {"model": 1, "symbols": ["SP500"]},
}


@settings(max_examples=15, deadline=None)
@given(st.dates(date(1990, 1, 1), date(2030, 1, 1)), st.integers(0, 4000))
def test_an_inverted_period_names_both_dates(first: date, days_back: int) -> None:
    last = first - timedelta(days=days_back)
    for model in DATED:
        values = {**VALID.get(model.__name__, {}), "start": first, "end": last}
        exc = _refusal(model, values)
        (problem,) = field_errors(exc)
        assert problem.field == "start", problem
        check_sentence(problem.message, model=model, label="first date", integer=True)
        assert f"{first}" in problem.message and f"{last}" in problem.message


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_an_inverted_grid_range_shows_integers(start: int, below: int) -> None:
    stop = start - below
    exc = _refusal(
        __import__("app.operations.sweep", fromlist=["SweepRequest"]).SweepRequest,
        {"grid": {"fast": {"start": float(start), "stop": float(stop), "step": 1.0}}},
    )
    (problem,) = field_errors(exc)
    assert problem.path == ("grid", "fast")
    assert f"stop {stop:,} is below start {start:,}".lower().replace(",", "") in (
        problem.message.lower().replace(",", "")
    ), problem.message
    assert not FLOAT_INT.search(problem.message) and "Value error" not in problem.message


@settings(max_examples=25, deadline=None)
@given(st.integers(20, 4000), st.data())
def test_a_step_below_the_test_window_names_both_labels(test_bars: int, data: Any) -> None:
    from app.operations.walkforward import WalkForwardRequest

    step = data.draw(st.integers(1, test_bars - 1))
    exc = _refusal(
        WalkForwardRequest,
        {"model": "logistic", "test_bars": test_bars, "step_bars": step},
    )
    (problem,) = field_errors(exc)
    assert problem.field == "step_bars"
    message = problem.message
    check_sentence(message, model=WalkForwardRequest, label="Step (bars)", integer=True)
    assert "Test bars" in message
    assert number_text(step) in message and number_text(test_bars) in message
    cli = field_errors(exc, flags={"step_bars": "--step-bars"})[0].message
    assert cli == f"{message[:-1]} (--step-bars)."


RULES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "WalkForwardRequest",
        {"strategy": "ma_crossover", "model": "logistic"},
        "strategy",
        "Strategy",
    ),
    ("WalkForwardRequest", {"strategy": "ma_crossover"}, "grid", "Grid"),
    ("WalkForwardRequest", {"strategy": "nope", "grid": {}}, "strategy", "Strategy"),
    (
        "SweepRequest",
        {"grid": {"fast": {"start": 5, "stop": 20, "step": 5}}, "fixed": {"fast": 3}},
        "fixed",
        "Strategy parameters",
    ),
    (
        "SweepRequest",
        {"grid": {"fast": {"start": 5, "stop": 20, "step": 5}}, "metric": "luck"},
        "metric",
        "Rank by",
    ),
    ("BacktestRequest", {"regime_mode": "filter", "regimes": []}, "regimes", "Trade in regimes"),
    ("PredictRequest", {"model": 1}, "symbols", "Symbols"),
    ("PredictRequest", {"model": 1, "symbols": ["A"], "all_symbols": True}, "symbols", "Symbols"),
    ("RegimeFitRequest", {}, "file", "File"),
    ("PaperRequest", {"data_feed": "sip"}, "data_feed", "Alpaca data feed"),
    ("PaperRequest", {"model": "m:1", "retrain": {}}, "retrain", "Live retraining"),
    ("PaperRequest", {"model": "m:1", "challenger": "m:1"}, "challenger", "Challenger"),
    ("PaperRequest", {"model": "m@champion", "retrain": {"window_bars": 1}}, "retrain", "Window"),
]


@pytest.mark.parametrize(("model_name", "values", "field", "label"), RULES)
def test_rules_across_fields_stand_beside_their_field(
    model_name: str, values: dict[str, Any], field: str, label: str
) -> None:
    model = request_models()[model_name]
    exc = _refusal(model, values)
    (problem,) = field_errors(exc)
    assert problem.field == field, problem
    check_sentence(problem.message, model=model, label=label, integer=True)


def test_a_taken_dataset_name_is_worded_for_every_front_end() -> None:
    from core.data.imports import _taken

    exc = _taken("prices", "prices.csv")
    (defect,) = exc.defects
    assert "choose another name" in defect.message and "--" not in defect.message
    assert defect.column == "name"


def test_a_plain_value_error_naming_its_field_is_labelled() -> None:
    from app.api.errors import InvalidRequest

    (problem,) = field_errors(InvalidRequest("step_bars 100 leaves no fold", "step_bars"))
    assert problem.field == "step_bars"
    assert problem.message == "Step (bars) 100 leaves no fold."
    (cli,) = field_errors(
        InvalidRequest("step_bars 100 leaves no fold", "step_bars"),
        flags={"step_bars": "--step-bars"},
    )
    assert cli.message == "Step (bars) 100 leaves no fold (--step-bars)."


def test_long_values_are_cut_and_control_characters_dropped() -> None:
    from app.operations.backtest import BacktestRequest

    (problem,) = field_errors(_refusal(BacktestRequest, {"strategy": "x" * 500 + "\x07"}))
    assert len(problem.message) < 300 and "\x07" not in problem.message
    assert "…" in problem.message and "strategy" in problem.message.lower()


def test_strategy_parameters_are_named_by_their_form_label() -> None:
    from app.operations.backtest import BacktestRequest

    exc = _refusal(BacktestRequest, {"params": {"fast": 0}})
    (problem,) = field_errors(exc)
    assert problem.path == ("params", "fast")
    assert problem.message.startswith("Fast must be an integer in [1, "), problem.message
