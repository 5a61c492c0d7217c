"""Every numba kernel releases the GIL, so a thread running one never stalls another."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from numba.core.registry import CPUDispatcher

import engine.kernels

KERNEL_MODULES = sorted(m.name for m in pkgutil.iter_modules(engine.kernels.__path__)
                        if m.name.endswith("_nb"))


def test_there_are_kernel_modules() -> None:
    assert {"indicators_nb", "signals_nb", "simulate_nb", "valuation_nb"} <= set(KERNEL_MODULES)


@pytest.mark.parametrize("name", KERNEL_MODULES)
def test_every_kernel_is_compiled_without_the_gil(name: str) -> None:
    module = importlib.import_module(f"engine.kernels.{name}")
    kernels = {k: v for k, v in vars(module).items()
               if isinstance(v, CPUDispatcher) and v.__module__ == module.__name__}
    assert kernels, f"no kernel in engine.kernels.{name}"
    holding = [k for k, v in kernels.items() if not v.targetoptions.get("nogil")]
    assert holding == [], f"kernels that hold the GIL: {holding}"
