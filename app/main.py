"""Router: page config, navigation over ``pages/``, the shared sidebar, then the page.

``streamlit run app/main.py`` finds :data:`streamlit_app` (an ``st.App`` serving this
script; Streamlit imports this file as the module ``main`` to get it), whose lifespan
starts the server's warm-up (:mod:`app.warm_start`) as the server starts, before anyone
opens a page. Each session then runs this file as ``__main__``: :func:`main`.

The frame (page config, navigation, the sidebar's heading) is drawn before anything
heavy is imported, so that a visit arriving while the warm-up still works sees it at
once; the services, and through them pandas and the database, come after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import streamlit as st

from app import state, warm_start, warmup
from app.navigation import PAGES, WARM_ENGINE_FOR

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
TITLE = "Trading Research Workbench"


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
    from app import cached

    with st.sidebar:
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
    """One run of a session: the frame, sign-in, the sidebar, then the page.

    Every run enters :data:`app.warmup.GATE`, so that the server's warm-up steps (and the
    engine warm-up, on a visit to a page of :data:`WARM_ENGINE_FOR` without it) only
    begin while no page is running.
    """
    warmup.GATE.enter()
    try:
        st.set_page_config(page_title=TITLE, page_icon="📈", layout="wide")
        state.init()
        navigation = build_navigation()
        with st.sidebar:
            st.markdown(f"### {TITLE}")
        from app import cached
        from app.session import render_sign_in

        if navigation.url_path in WARM_ENGINE_FOR:
            cached.engine_warmup()
        cached.jobs_worker()  # long operations run as jobs in a worker process
        cached.alerts_watchdog()  # heartbeat / stale-data alerts from outside the workers
        render_sign_in()  # before anything from the data is shown
        render_sidebar()
        navigation.run()
    finally:
        warmup.GATE.leave()


if __name__ == "__main__":  # a session's run; importing the module only reads PAGES
    main()
elif __name__ == "main":  # `streamlit run app/main.py` looks for an st.App here
    streamlit_app = st.App(__file__, lifespan=warm_start.lifespan)
