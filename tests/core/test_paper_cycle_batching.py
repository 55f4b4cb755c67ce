"""The paper worker's database work per cycle with the simulator: a bounded number of SQL
statements, and a seeded replay whose orders, fills and equity are exactly those of the
worker before its writes were batched (golden values recorded from that code), compared
with `tests.golden.mismatches`: floats to 1e-9 relative (a position size computed through
the regime model's matrix products moves by up to 5e-12 from one OpenBLAS kernel to
another), ids, counts, sides and quantities exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, event, text

from core.broker import SimBroker
from core.data.loaders import embedded_sources
from core.paper.group import GroupCommit
from core.paper.session import common_calendar, make_broker
from core.paper.worker import PaperWorker
from core.risk import RiskLimits
from tests.core.paper_fixtures import running_session_db, sim_config
from tests.golden import REL, mismatches

SYMBOLS = ["SP500", "IBM"]
TRAIN, BARS = 260, 360


def _config(symbols: list[str]) -> dict[str, Any]:
    return sim_config("golden", symbols, train_bars=TRAIN)


def _engine(path: Path, symbols: list[str]) -> Engine:
    return running_session_db(path, _config(symbols))


def _frames(symbols: list[str]) -> dict[str, pd.DataFrame]:
    """The symbols' first ``BARS`` common bars."""
    source = embedded_sources()["ohlcv_daily"]
    frames = {s: source.load(s) for s in symbols}
    common = common_calendar(frames)[:BARS]
    return {s: f.loc[common] for s, f in frames.items()}


def _worker(
    engine: Engine, symbols: list[str], limits: RiskLimits, group: GroupCommit | None = None
) -> PaperWorker:
    return PaperWorker(
        engine=engine,
        session_name="golden",
        prices=_frames(symbols),
        broker=make_broker(engine, _config(symbols)),
        limits=lambda: limits,
        sleep=lambda _s: None,
        group_commit=group,
    )


GROUP = GroupCommit(max_bars=16, max_ms=math.inf)
"""Groups of exactly 16 bars (no time limit, so the test does not depend on the machine)."""


def _ledger(engine: Engine) -> dict[str, Any]:
    """Orders, fills, positions, equity and decisions, unrounded, in a stable order."""
    queries = {
        "orders": "SELECT client_order_id, side, qty, status, filled_qty, avg_fill_price "
        "FROM orders ORDER BY client_order_id",
        "fills": "SELECT o.client_order_id, f.qty, f.price, f.fee "
        "FROM fills f JOIN orders o ON o.id = f.order_id ORDER BY o.client_order_id, f.id",
        "positions": "SELECT symbol, qty, avg_price, realized_pnl FROM positions ORDER BY symbol",
        "equity": "SELECT bar, equity, cash FROM equity_snapshots ORDER BY bar",
        "decisions": "SELECT bar, symbol, json_extract(payload, '$.approved_qty'), "
        "json_extract(payload, '$.regime'), json_extract(payload, '$.client_order_id') "
        "FROM decisions ORDER BY bar, symbol",
    }
    with engine.connect() as con:
        return {k: [list(r) for r in con.execute(text(q))] for k, q in queries.items()}


def _assert_golden_book(book: dict[str, Any]) -> None:
    found = mismatches(book, GOLDEN_BOOK)
    assert not found, "the ledger differs from the golden one:\n" + "\n".join(found[:20])


def test_a_seeded_replay_equals_the_unbatched_worker(tmp_path: Path) -> None:
    # Golden values recorded from the worker before its writes were batched (one
    # transaction per statement group); default limits, so the sizer and the pre-trade
    # cuts are exercised across two symbols.
    engine = _engine(tmp_path / "golden.db", SYMBOLS)
    first = _worker(engine, SYMBOLS, RiskLimits()).run(steps=40)
    second = _worker(engine, SYMBOLS, RiskLimits()).run()  # a restart resumes at the cursor
    book = _ledger(engine)
    engine.dispose()
    totals = {
        k: first.as_dict()[k] + second.as_dict()[k]
        for k in ("cycles", "orders", "fills", "rejected", "sized_within_limits")
    }
    assert totals == GOLDEN["totals"]
    assert len(book["orders"]) == GOLDEN["orders"]
    assert len(book["fills"]) == GOLDEN["fills"]
    assert len(book["decisions"]) == GOLDEN["decisions"]
    assert book["equity"][-1][1] == pytest.approx(GOLDEN["final_equity"], rel=REL)
    assert second.final_equity == pytest.approx(GOLDEN["final_equity"], rel=REL)
    _assert_golden_book(book)


def test_group_commit_replays_exactly_the_unbatched_worker(tmp_path: Path) -> None:
    # the same golden values with 16 bars per transaction, the first run ending mid-group
    engine = _engine(tmp_path / "grouped.db", SYMBOLS)
    commits = [0]
    event.listen(engine, "commit", lambda _c: commits.__setitem__(0, commits[0] + 1))
    first = _worker(engine, SYMBOLS, RiskLimits(), GROUP).run(steps=40)
    second = _worker(engine, SYMBOLS, RiskLimits(), GROUP).run()
    book = _ledger(engine)
    engine.dispose()
    totals = {
        k: first.as_dict()[k] + second.as_dict()[k]
        for k in ("cycles", "orders", "fills", "rejected", "sized_within_limits")
    }
    assert totals == GOLDEN["totals"]
    assert second.final_equity == pytest.approx(GOLDEN["final_equity"], rel=REL)
    _assert_golden_book(book)
    assert commits[0] < 60  # 100 bars in 3 + 4 groups, not one commit per bar


def test_a_crash_inside_a_group_loses_it_whole_and_the_restart_replays_it_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process "dies" at bar 300's open, the 9th bar of the group 292..307: nothing of
    # bars 292..299 may be stored, and the restart must end with the golden book.
    engine = _engine(tmp_path / "crash.db", SYMBOLS)
    crash_at = _frames(SYMBOLS)["SP500"].index[300].to_pydatetime()
    original = SimBroker.on_bar

    def dying(self: SimBroker, ts: Any, prices: Any) -> Any:
        if ts == crash_at:
            raise SystemExit("killed at bar 300")
        return original(self, ts, prices)

    monkeypatch.setattr(SimBroker, "on_bar", dying)
    with pytest.raises(SystemExit):
        _worker(engine, SYMBOLS, RiskLimits(), GROUP).run()
    with engine.connect() as con:
        assert con.execute(text("SELECT cursor FROM paper_sessions")).scalar() == 291
        assert con.execute(text("SELECT max(bar) FROM decisions")).scalar() == 291
        assert con.execute(text("SELECT max(bar) FROM equity_snapshots")).scalar() == 291
        assert con.execute(text("SELECT count(*) FROM worker_heartbeat")).scalar() == 32
    monkeypatch.setattr(SimBroker, "on_bar", original)
    resumed = _worker(engine, SYMBOLS, RiskLimits(), GROUP).run()
    book = _ledger(engine)
    engine.dispose()
    assert resumed.final_equity == pytest.approx(GOLDEN["final_equity"], rel=REL)
    ids = [row[0] for row in book["orders"]]
    assert len(ids) == len(set(ids)) == GOLDEN["orders"]  # none duplicated, none lost
    _assert_golden_book(book)


@pytest.mark.parametrize("change", ["fee + 1e-6", "one price * (1 + 1e-7)"])
def test_a_real_change_fails_the_golden_ledger(tmp_path: Path, change: str) -> None:
    # the tolerance absorbs the kernels' last bits, not a fee or a price off in the 7th digit
    config = _config(SYMBOLS)
    frames = _frames(SYMBOLS)
    if change == "fee + 1e-6":
        config["fees"] += 1e-6
    else:
        ibm = frames["IBM"].copy()
        ibm.iloc[300, ibm.columns.get_loc("close")] *= 1 + 1e-7
        frames["IBM"] = ibm
    engine = running_session_db(tmp_path / "changed.db", config)
    PaperWorker(
        engine=engine,
        session_name="golden",
        prices=frames,
        broker=make_broker(engine, config),
        limits=RiskLimits,
        sleep=lambda _s: None,
    ).run()
    book = _ledger(engine)
    engine.dispose()
    assert [row[0] for row in book["orders"]] == [row[0] for row in GOLDEN_BOOK["orders"]]
    assert mismatches(book, GOLDEN_BOOK)


GOLDEN: dict[str, Any] = {
    "totals": {"cycles": 100, "orders": 77, "fills": 77, "rejected": 0, "sized_within_limits": 169},
    "orders": 77,
    "fills": 77,
    "decisions": 200,
    "final_equity": 98691.9934482996,
}
GOLDEN_BOOK: dict[str, Any] = json.loads(
    Path(__file__).with_name("paper_golden_ledger.json").read_text()
)
"""The whole ledger. Recorded under OPENBLAS_CORETYPE=SkylakeX, where this code's ledger
rounded as before (prices and fees to 8 decimals, equity to 6) has the sha256 digest the
unbatched worker gave (f80f1065...d75cf7), so it is that worker's ledger."""


if __name__ == "__main__":  # prints the ledger of the code in this tree
    import sys
    import tempfile

    path = Path(tempfile.mkdtemp()) / "golden.db"
    eng = _engine(path, SYMBOLS)
    _worker(eng, SYMBOLS, RiskLimits()).run(steps=40)
    _worker(eng, SYMBOLS, RiskLimits()).run()
    json.dump(_ledger(eng), sys.stdout)
    print()


MAX_STATEMENTS_PER_CYCLE = 16
"""One transaction per bar: a cycle that fills one order and places another; a quiet
cycle sends 11 (before the batching: about 40 in about 19 transactions)."""
MAX_STATEMENTS_PER_GROUPED_CYCLE = 1.25
"""16 bars per transaction: statements over bars for 48 bars (1.08 measured; a group sends
about 14 in all)."""


def _counted_replay(tmp_path: Path, group: GroupCommit | None) -> tuple[list[int], list[int]]:
    """Statements and commits seen from one cycle's hook to the next, 60 one-symbol bars."""
    engine = _engine(tmp_path / "count.db", ["SP500"])
    seen = [0, 0]
    per_cycle: list[int] = []
    per_cycle_commits: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        seen[0] += 1

    @event.listens_for(engine, "commit")
    def _commit(_conn: Any) -> None:
        seen[1] += 1

    def on_cycle(_report: Any) -> None:
        per_cycle.append(seen[0])
        per_cycle_commits.append(seen[1])
        seen[0] = seen[1] = 0

    worker = PaperWorker(
        engine=engine,
        session_name="golden",
        prices=_frames(["SP500"]),
        broker=make_broker(engine, _config(["SP500"])),
        on_cycle=on_cycle,
        sleep=lambda _s: None,
        group_commit=group,
    )
    summary = worker.run(steps=64)
    engine.dispose()
    assert summary.cycles == 64 and summary.orders >= 5  # it trades: fills are counted too
    return per_cycle, per_cycle_commits


def test_a_replay_cycle_sends_a_bounded_number_of_sql_statements(tmp_path: Path) -> None:
    # Counted with SQLAlchemy's before_cursor_execute from one cycle's hook to the next
    # (control poll, fills, decisions, orders, close, heartbeat, lease); the first
    # cycle's count holds the start-up.
    statements, commits = _counted_replay(tmp_path, None)
    cycles, commits = statements[1:], commits[1:]
    assert max(cycles) <= MAX_STATEMENTS_PER_CYCLE
    assert sorted(cycles)[len(cycles) // 2] <= 11
    assert all(n == 1 for n in commits)  # one transaction per cycle


def test_a_grouped_replay_commits_once_per_group(tmp_path: Path) -> None:
    # 64 bars in 4 groups of 16: the hooks of a group's bars but the last run before its
    # commit, so the last bar's count holds the group's writes; groups 2..4 counted.
    statements, commits = _counted_replay(tmp_path, GROUP)
    later, later_commits = statements[16:], commits[16:]
    assert sum(later_commits) == 3
    assert [i for i, n in enumerate(later_commits) if n] == [15, 31, 47]  # at group ends
    assert sum(later) / len(later) <= MAX_STATEMENTS_PER_GROUPED_CYCLE
