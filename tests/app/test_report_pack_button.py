"""The report pack button (app/components/report_pack.py) in a Streamlit AppTest: a
click builds the pack (HTML and the Chromium PDF) and offers both as downloads; a
strategy that does not exist is refused in a sentence."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def test_the_button_builds_the_pack_and_offers_both_files() -> None:
    source = "from app.components.report_pack import render_report_pack_button\n"
    at = AppTest.from_string(
        source + 'render_report_pack_button("strategy", "ma_crossover")\n', default_timeout=120
    )
    at.run()
    assert not at.exception and at.get("download_button") == []
    at.button(key="report_pack.strategy.ma_crossover.build").click().run()
    assert not at.exception
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download report pack (HTML)", "Download report pack (PDF)"]
    files = at.session_state["report_pack.strategy.ma_crossover"]
    assert open(files["pdf"], "rb").read(4) == b"%PDF"
    assert "Report pack: strategy ma_crossover" in open(files["html"], encoding="utf-8").read()
    at.run()  # a rerun keeps the downloads without building again
    assert len(at.get("download_button")) == 2


def test_an_unknown_strategy_is_refused_in_a_sentence() -> None:
    source = "from app.components.report_pack import render_report_pack_button\n"
    at = AppTest.from_string(
        source + 'render_report_pack_button("strategy", "nope")\n', default_timeout=60
    )
    at.run()
    at.button(key="report_pack.strategy.nope.build").click().run()
    assert not at.exception
    (error,) = at.error
    assert "Strategy nope is not one of the strategies" in error.value
    assert "Value error" not in error.value and at.get("download_button") == []
