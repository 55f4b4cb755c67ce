"""Lazy package namespaces: a name is imported from its submodule on first access.

A package ``__init__`` that imports every submodule makes ``import core.sweep.grid`` pay
for pandas, numba and the rest. With :func:`attach`, ``from core.sweep import GridAxis``
imports only :mod:`core.sweep.grid`, and ``import core.sweep`` imports nothing else
(PEP 562 module ``__getattr__``). Type checkers read the same names from an
``if TYPE_CHECKING:`` block of the real imports beside the call.

>>> import sys
>>> getattr_, dir_ = attach("core", {"serialize": ["json_safe"]})
>>> getattr_("json_safe").__name__
'json_safe'
>>> "json_safe" in dir_()
True
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str,
    attrs: Mapping[str, Iterable[str]],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``attrs[sub]`` comes from
    ``package.sub``, each of ``submodules`` is the submodule itself; imported on first use
    and then kept in the package's namespace.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    attrs : mapping of str to iterable of str
        Submodule (relative to ``package``) -> the names it provides.
    submodules : iterable of str
        Submodules offered as attributes (``from core.backtest import metrics``).
    """
    owner = {name: sub for sub, names in attrs.items() for name in names}
    subs = set(submodules)

    def __getattr__(name: str) -> Any:
        if name in subs:
            value: Any = importlib.import_module(f"{package}.{name}")
        elif name in owner:
            value = getattr(importlib.import_module(f"{package}.{owner[name]}"), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *owner, *subs})

    return __getattr__, __dir__
