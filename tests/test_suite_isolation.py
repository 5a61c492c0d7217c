"""The test suite never writes into the user's aligned cache or run history (issue 24,
item 12): not at import, not in a module-scoped fixture (both run before the per-test
``isolated_cache``), not in a test."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from engine.data.cache import default_cache_dir
from engine.data.loader import load_market_data
from engine.results.store_path import default_store_path
from tests.conftest import SAMPLE

#: Where a module imported by the suite would write: its cache folder and run store.
AT_IMPORT = (default_cache_dir(), default_store_path())


def _throwaway(path: Path) -> bool:
    return Path(tempfile.gettempdir()).resolve() in path.resolve().parents


@pytest.fixture(scope="module")
def module_load() -> tuple[Path, Path, Path | None]:
    """What a module-scoped fixture that loads data writes to."""
    data = load_market_data(SAMPLE, end="2024-06-28")
    return default_cache_dir(), default_store_path(), data.cache_path


def test_a_module_at_import_sees_a_throwaway_cache_and_store() -> None:
    assert all(_throwaway(path) for path in AT_IMPORT), AT_IMPORT


def test_a_module_scoped_fixture_writes_into_a_throwaway_cache(
        module_load: tuple[Path, Path, Path | None]) -> None:
    cache, store, entry = module_load
    assert _throwaway(cache) and _throwaway(store)
    assert entry is not None and _throwaway(entry)


def test_a_test_gets_its_own_cache(isolated_cache: Path) -> None:
    assert default_cache_dir() == isolated_cache
