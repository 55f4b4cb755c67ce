"""The Paper trading page's start form: feed, timeframe, dataset and symbols, speed,
model and challenger, promotion policy, costs; each refusal shown beside its field."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, get_args

import streamlit as st

from app.components.forms import cost_inputs
from app.operations.errors import field_errors
from app.operations.paper import PaperRequest
from app.services.paper import MIN_TRAIN_BARS

START_LABELS = {
    "session": "Session",
    "feed": "Feed",
    "timeframe": "Timeframe",
    "dataset": "Dataset",
    "symbols": "Symbols",
    "speed": "Speed (bars/s)",
    "model": "Model",
    "challenger": "Challenger",
    "promotion": "Promotion",
    "train_bars": "Training bars",
    "initial_cash": "Starting cash",
    "fees": "Fees (bps per fill)",
    "slippage": "Slippage (bps per fill)",
    "seed": "Seed",
    "data_feed": "Alpaca data feed",
}
"""Label of each start-form field (named in its refusals)."""
FLAGS = {
    "--feed": "feed",
    "--timeframe": "timeframe",
    "--speed": "speed",
    "--model": "model",
    "--challenger": "challenger",
    "--promotion": "promotion",
    "--data-feed": "data_feed",
    "--symbol": "symbols",
    "train_bars": "train_bars",
    "symbols": "symbols",
}
"""The option names in the service's sentences -> the field they are about."""
ERRORS = "paper.field_errors"
FEED_TEXT = {
    "replay": "replay: the dataset as fast as the worker runs",
    "simulated": "simulated-live: the dataset on the wall clock at the chosen speed",
    "alpaca": "alpaca: live bars (needs keys)",
}
NO_KEYS = (
    "Alpaca (live bars) is not offered: set ALPACA_API_KEY and ALPACA_SECRET_KEY in the "
    "environment or .streamlit/secrets.toml to trade live."
)


def _choices(field: str) -> list[str]:
    """A literal field's values, its default first."""
    info = PaperRequest.model_fields[field]
    return [info.default, *(v for v in get_args(info.annotation) if v != info.default)]


def _plain(message: str) -> str:
    """A service sentence with its CLI options named as the form's labels (a leading
    "--option value: " is dropped: the sentence stands beside that field)."""
    if message.startswith("--") and ": " in message:
        message = message.split(": ", 1)[1]
    for flag, field in sorted(FLAGS.items(), key=lambda kv: -len(kv[0])):
        if flag.startswith("--"):
            message = message.replace(flag, START_LABELS[field])
    message = message.replace("train_bars", START_LABELS["train_bars"])
    return message[:1].upper() + message[1:].rstrip(".") + "."


def field_of(message: str) -> str:
    """The form field a sentence is about (the first option it names; ``session`` when
    it names none)."""
    hits = [(m.start(), FLAGS[m.group(0)]) for m in re.finditer("|".join(FLAGS), message)]
    return min(hits)[1] if hits else "session"


def record_errors(exc: Exception) -> None:
    """Keep each problem of a refusal under its field, for the next render."""
    out: dict[str, list[str]] = {}
    for problem in field_errors(exc, labels=START_LABELS):
        field = problem.field if problem.field in START_LABELS else field_of(problem.message)
        out.setdefault(field, []).append(_plain(problem.message))
    st.session_state[ERRORS] = out


def _errors_under(slot: Any, errors: Mapping[str, list[str]], field: str) -> None:
    for message in errors.get(field, []):
        slot.error(message)


def request_from_state(ss: Any) -> PaperRequest:
    """The start form's settings as a request (ValidationError when refused)."""
    return PaperRequest(
        session=ss["paper.session"],
        feed=ss["paper.feed"],
        timeframe=ss["paper.timeframe"],
        dataset=ss["paper.dataset"],
        symbols=ss["paper.symbols"],
        model=(ss.get("paper.model") or "").strip() or None,
        challenger=(ss.get("paper.challenger") or "").strip() or None,
        promotion=ss["paper.promotion"],
        data_feed=ss.get("paper.data_feed") or "iex",
        broker=ss["paper.broker"],
        train_bars=int(ss["paper.train"]),
        selector=ss["paper.selector"],
        initial_cash=float(ss["paper.cash"]),
        fees=float(ss["paper.fees"]) / 1e4,
        slippage=float(ss["paper.slippage"]) / 1e4,
        seed=int(ss["paper.seed"]),
    )


def render_start_form(
    datasets: list[str],
    symbols_of: Callable[[str], list[str]],
    on_start: Callable[[], None],
    *,
    alpaca_keys: bool,
) -> None:
    """A new session's settings (defaults from :class:`PaperRequest`; a stored session
    is started with its own), the speed and a confirmation."""
    new, label = PaperRequest(), START_LABELS
    errors = st.session_state.pop(ERRORS, {})

    def pick(dataset: str) -> list[str]:
        """A dataset's default symbols: the request's where it has them, else its first 5."""
        symbols = symbols_of(dataset)
        return [s for s in new.symbols if s in symbols] or symbols[:5]

    def on_dataset() -> None:
        st.session_state["paper.symbols"] = pick(st.session_state["paper.dataset"])

    dataset = st.selectbox(label["dataset"], datasets, key="paper.dataset", on_change=on_dataset)
    symbols = symbols_of(dataset)
    if "paper.symbols" not in st.session_state:
        st.session_state["paper.symbols"] = pick(dataset)
    feeds = [f for f in _choices("feed") if alpaca_keys or f != "alpaca"]
    with st.form("paper.start_form"):
        c1, c2, c3, c4 = st.columns([1, 2, 1, 1])
        c1.text_input(label["session"], value=new.session, key="paper.session")
        _errors_under(c1, errors, "session")
        c2.radio(label["feed"], feeds, format_func=FEED_TEXT.get, key="paper.feed", horizontal=True)
        if not alpaca_keys:
            c2.caption(NO_KEYS)
        _errors_under(c2, errors, "feed")
        c3.selectbox(label["timeframe"], _choices("timeframe"), key="paper.timeframe")
        _errors_under(c3, errors, "timeframe")
        c4.number_input(label["speed"], 0.5, 500.0, 20.0, 0.5, key="paper.speed")
        _errors_under(c4, errors, "speed")
        st.multiselect(f"{label['symbols']} ({dataset})", symbols, key="paper.symbols")
        _errors_under(st, errors, "symbols")
        m1, m2, m3 = st.columns([2, 2, 1])
        hint = "NAME:VERSION or NAME@champion; empty: the rule agents"
        m1.text_input(label["model"], key="paper.model", placeholder=hint)
        _errors_under(m1, errors, "model")
        m2.text_input(label["challenger"], key="paper.challenger", placeholder="optional")
        _errors_under(m2, errors, "challenger")
        m3.radio(label["promotion"], _choices("promotion"), key="paper.promotion")
        _errors_under(m3, errors, "promotion")
        c5, c6, c7, c8, c9 = st.columns(5)
        c5.number_input(
            label["train_bars"], MIN_TRAIN_BARS, 4000, new.train_bars, 50, key="paper.train"
        )
        _errors_under(c5, errors, "train_bars")
        c6.number_input(label["initial_cash"], 1e3, 1e9, new.initial_cash, 1e3, key="paper.cash")
        cost_inputs(c7, c8, fees_key="paper.fees", slippage_key="paper.slippage")
        c9.number_input(label["seed"], 0, 2**31 - 1, new.seed, 1, key="paper.seed")
        c10, c11, c12, c13 = st.columns(4)
        c10.radio("Broker", _choices("broker"), horizontal=True, key="paper.broker")
        c11.selectbox("Selector", _choices("selector"), key="paper.selector")
        if alpaca_keys:
            c12.radio(label["data_feed"], _choices("data_feed"), key="paper.data_feed")
            _errors_under(c12, errors, "data_feed")
        c13.checkbox("I confirm starting the worker", key="paper.confirm_start")
        for field in set(errors) - {
            "session",
            "feed",
            "timeframe",
            "speed",
            "symbols",
            "model",
            "challenger",
            "promotion",
            "train_bars",
            "data_feed",
        }:
            _errors_under(st, errors, field)
        st.form_submit_button("Start", type="primary", on_click=on_start)


__all__ = [
    "ERRORS",
    "START_LABELS",
    "field_of",
    "record_errors",
    "render_start_form",
    "request_from_state",
]
