"""Router: page config, navigation over ``pages/``, the shared sidebar, then the page."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import streamlit as st

from app import cached, state, warmup
from app.session import render_sign_in

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"

# The page registry is data: (section, file, title, icon, url path).
PAGES: list[tuple[str, str, str, str, str]] = [
    ("Research", "data.py", "Data", ":material/database:", "data"),
    ("Research", "backtest.py", "Backtest", ":material/query_stats:", "backtest"),
    ("Research", "sweep.py", "Sweep", ":material/grid_on:", "sweep"),
    ("Research", "regime.py", "Regimes", ":material/stacked_line_chart:", "regime"),
    ("Models", "training.py", "Training", ":material/model_training:", "training"),
    ("Models", "registry.py", "Model registry", ":material/inventory_2:", "registry"),
    ("Models", "walkforward.py", "Walk-forward", ":material/timeline:", "walkforward"),
    ("Compare", "abtest.py", "A/B compare", ":material/compare_arrows:", "abtest"),
    ("Compare", "ensemble.py", "Ensemble", ":material/hub:", "ensemble"),
    ("Trading", "paper.py", "Paper trading", ":material/monitoring:", "paper"),
    ("Trading", "risk.py", "Risk", ":material/shield:", "risk"),
    ("Trading", "alerts.py", "Alerts", ":material/notifications:", "alerts"),
    ("System", "jobs.py", "Jobs", ":material/work_history:", "jobs"),
]
#: Pages whose actions run vectorbt backtests: visiting one starts the engine warm-up.
WARM_ENGINE_FOR = frozenset({"backtest", "abtest"})


def build_navigation() -> st.Page:
    """Group the registered pages by section; each lives at its own URL path.

    Streamlit serves the default page at ``/`` only, so the default is a hidden page
    that opens the first registered page at its own path (keeping the query string,
    which carries the sign-in session).
    """
    sections: dict[str, list[st.Page]] = {}
    for section, file, title, icon, url in PAGES:
        page = st.Page(PAGES_DIR / file, title=title, icon=icon, url_path=url)
        sections.setdefault(section, []).append(page)
    first = next(iter(sections.values()))[0]

    def open_first_page() -> None:
        st.switch_page(first, query_params=st.query_params.to_dict())

    home = st.Page(
        open_first_page, title=first.title, url_path="home", default=True, visibility="hidden"
    )
    sections[PAGES[0][0]].append(home)  # hidden: it adds no entry to the menu
    return st.navigation(sections)


def render_sidebar() -> None:
    """Dataset and symbol pickers shared by every research page."""
    with st.sidebar:
        st.markdown("### Trading Research Workbench")
        names = [cast(str, info["name"]) for info in cached.dataset_infos()]
        if state.get(state.DATASET) not in names:
            st.session_state[state.DATASET] = names[0]
        dataset = st.selectbox("Dataset", names, key=state.DATASET)
        symbols = cached.symbols(dataset)
        if not symbols:
            st.info("No symbols yet: import a file on the Data page.")
            st.session_state[state.SYMBOL] = None
            return
        if state.get(state.SYMBOL) not in symbols:
            st.session_state[state.SYMBOL] = symbols[0]
        st.selectbox("Symbol", symbols, key=state.SYMBOL)
        st.caption("Offline data embedded in the repository. See README for sources.")


def main() -> None:
    """Entry point of ``streamlit run app/main.py``.

    Every run enters :data:`app.warmup.GATE`, so that the background engine warm-up
    (started once per server, by the first visit to a page of :data:`WARM_ENGINE_FOR`)
    only works while no page is running. Other pages never import the engine.
    """
    warmup.GATE.enter()
    try:
        st.set_page_config(page_title="Trading Research Workbench", page_icon="📈", layout="wide")
        state.init()
        navigation = build_navigation()
        if navigation.url_path in WARM_ENGINE_FOR:
            cached.engine_warmup()
        cached.jobs_worker()  # long operations run as jobs in a worker process
        cached.alerts_watchdog()  # heartbeat / stale-data alerts from outside the workers
        render_sign_in()  # first: nothing from the data is shown before sign-in
        render_sidebar()
        navigation.run()
    finally:
        warmup.GATE.leave()


if __name__ == "__main__":  # Streamlit runs the script as ``__main__``; importing it reads PAGES
    main()
