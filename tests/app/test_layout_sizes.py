"""The architecture's size rule (../shared/ARCHITECTURE.md, docs/architecture.md): every
module of ``app/services`` is a thin facade of at most 150 lines, every page in ``pages/``
a thin file of at most 180. A file that grows past its limit fails here, by name; split
it by responsibility instead of raising the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES_MAX = 150
PAGES_MAX = 180
SERVICES = sorted((ROOT / "app" / "services").rglob("*.py"))
PAGES = sorted((ROOT / "pages").glob("*.py"))


def line_count(path: Path) -> int:
    """Lines of a file as ``wc -l`` counts them for a file that ends with a newline (a last
    line without one counts too)."""
    return len(path.read_text(encoding="utf-8").splitlines())


def test_line_count_counts_like_wc(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n\ny = 2\n")
    (tmp_path / "b.py").write_text("x = 1\ny = 2")  # no final newline
    assert line_count(tmp_path / "a.py") == 3
    assert line_count(tmp_path / "b.py") == 2


def test_the_rule_sees_the_services_and_the_pages() -> None:
    names = {p.name for p in SERVICES}
    assert {"backtest.py", "jobs.py", "regime.py"} <= names, names
    assert {"backtest.py", "regime.py"} <= {p.name for p in PAGES}


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: str(p.relative_to(ROOT)))
def test_service_module_is_at_most_150_lines(path: Path) -> None:
    n = line_count(path)
    assert n <= SERVICES_MAX, (
        f"{path.relative_to(ROOT)} has {n} lines; app/services modules are thin facades of "
        f"at most {SERVICES_MAX} lines: split it by responsibility"
    )


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_is_at_most_180_lines(path: Path) -> None:
    n = line_count(path)
    assert n <= PAGES_MAX, (
        f"{path.relative_to(ROOT)} has {n} lines; a page is one thin file of at most "
        f"{PAGES_MAX} lines (inputs -> service call -> components): move work into a "
        "service or a component"
    )
