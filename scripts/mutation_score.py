"""Print the mutation score per module from mutmut's results in mutants/.

Usage: ``python scripts/mutation_score.py [--min-score 90]`` after ``mutmut run``
(``make mutation`` does both). Killed and timed-out mutants count as caught; the score is
caught / all mutants of the module. Surviving mutants are listed by name, so that they can
be inspected with ``mutmut show NAME``. With ``--min-score`` the exit code is 1 when any
module scores lower.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

CAUGHT = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout"}
SURVIVED = {0}
NO_TESTS = {5, 33}


def _status(code: int | None) -> str:
    if code is None:
        return "not checked"
    if code in CAUGHT:
        return "caught"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--min-score", type=float, default=None)
    args = parser.parse_args(argv)
    metas = sorted(args.mutants.glob("**/*.py.meta"))
    if not metas:
        print(f"no mutmut results under {args.mutants}/: run `make mutation` first")
        return 2
    by_module: dict[str, Counter[str]] = {}
    survivors: dict[str, list[str]] = {}
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        module = str(meta.relative_to(args.mutants)).removesuffix(".meta")
        counts: Counter[str] = Counter(_status(c) for c in codes.values())
        by_module[module] = counts
        survivors[module] = sorted(
            k for k, c in codes.items() if _status(c) not in ("caught", "not checked")
        )
    low = False
    print(f"{'module':<32} {'caught':>7} {'total':>6} {'score':>7}  survived  no-tests  other")
    for module, counts in by_module.items():
        total = sum(counts.values())
        score = 100.0 * counts["caught"] / total
        low |= args.min_score is not None and score < args.min_score
        print(
            f"{module:<32} {counts['caught']:>7} {total:>6} {score:>6.1f}%  "
            f"{counts['survived']:>8}  {counts['no tests']:>8}  "
            f"{counts['other'] + counts['not checked']:>5}"
        )
    for module, names in survivors.items():
        if names:
            print(f"\nnot caught in {module}: " + ", ".join(n.rpartition(".")[2] for n in names))
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
