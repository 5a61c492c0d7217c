"""A load of unadjusted TongDaXin bars warns about overnight gaps beyond the price limit
(SPEC §1: the mark of ex-rights days when no ex-rights table adjusts the bars)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.layouts.tdx import DAY_RECORD
from engine.data.loader import load_market_data
from engine.datagen.universe import generate_universe

START, END = "2021-01-01", "2021-12-31"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tdx_clean")
    generate_universe(folder, 8, START, END, seed=5, layout="tdx")
    return folder


def _gap_warnings(warnings: tuple[str, ...]) -> list[str]:
    return [w for w in warnings if "beyond the price limit" in w]


def test_a_clean_tdx_folder_gives_no_gap_warning(clean: Path, tmp_path: Path) -> None:
    data = load_market_data(clean, cache_dir=tmp_path)
    assert data.layout == "tdx"
    assert _gap_warnings(data.warnings) == []


def test_a_halved_price_is_one_warning_counting_stocks_and_gaps(tmp_path: Path) -> None:
    folder = tmp_path / "tdx"
    generate_universe(folder, 8, START, END, seed=5, layout="tdx")
    day = sorted(folder.glob("vipdoc/*/lday/*.day"))[2]
    records = np.fromfile(day, dtype=DAY_RECORD)
    cut = len(records) // 2
    for name in ("open", "high", "low", "close"):  # a 10-for-10 bonus: prices halve
        records[name][cut:] = np.maximum(records[name][cut:] // 2, 1)
    records.tofile(day)
    code = f"{day.stem[2:]}.{day.stem[:2].upper()}"
    ymd = str(records["date"][cut])
    date = np.datetime64(f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}", "D")

    for _ in range(2):  # built, then served from the aligned cache
        data = load_market_data(folder, cache_dir=tmp_path / "cache")
        found = _gap_warnings(data.warnings)
        assert len(found) == 1, data.warnings
        assert found[0].startswith(f"1 of 8 stocks has 1 overnight gap beyond the "
                                   f"price limit ({code}; first {code} on {date})")
        assert "前复权" in found[0] and "adj_factor" in found[0] and "gbbq" in found[0]
    assert data.from_cache


def test_per_stock_files_with_the_same_gap_do_not_warn(tmp_path: Path) -> None:
    paths = generate_universe(tmp_path, 8, START, END, seed=5)
    frame = pd.read_parquet(paths[2])
    cut = len(frame) // 2
    for name in ("open", "high", "low", "close"):
        frame.loc[cut:, name] = (frame.loc[cut:, name] / 2).round(2)
    frame.to_parquet(paths[2], index=False)
    data = load_market_data(tmp_path, use_cache=False)
    assert data.layout == "per-stock" and data.n_stocks == 8
    assert _gap_warnings(data.warnings) == []
