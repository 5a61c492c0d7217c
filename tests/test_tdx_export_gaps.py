"""A 不复权 TongDaXin export is as unadjusted as a .day file: its load warns about the
overnight gaps beyond the price limit, as a vipdoc load without an ex-rights table does
(SPEC §1); a 前复权 export's prices are its own and give no such warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data.loader import load_market_data
from engine.datagen.layouts import write_tdx_export
from engine.datagen.universe import generate_frames


def _gap_warnings(warnings: tuple[str, ...]) -> list[str]:
    return [w for w in warnings if "beyond the price limit" in w]


def _exports(folder: Path, title: str) -> tuple[str, np.datetime64]:
    """Eight exports whose third stock's prices halve in the middle (a 10-for-10 bonus in
    raw prices), titled ``title``; the stock and the day its prices halve."""
    frames = generate_frames(8, "2021-01-01", "2021-12-31", seed=5)
    code = list(frames)[2]
    frame = frames[code]
    cut = len(frame) // 2
    for name in ("open", "high", "low", "close"):
        frame.loc[cut:, name] = (frame.loc[cut:, name] / 2).round(2)
    folder.mkdir()
    for path in write_tdx_export(folder, frames):
        text = path.read_bytes().decode("gbk").replace("日线 不复权", f"日线 {title}")
        path.write_bytes(text.encode("gbk"))
    return code, np.datetime64(frame["date"].iloc[cut], "D")


def test_an_unadjusted_export_warns_once_with_the_stock_and_day(tmp_path: Path) -> None:
    code, day = _exports(tmp_path / "exports", "不复权")
    for _ in range(2):  # built, then served from the aligned cache
        data = load_market_data(tmp_path / "exports", cache_dir=tmp_path / "cache")
        assert data.layout == "tdx-export"
        found = _gap_warnings(data.warnings)
        assert len(found) == 1, data.warnings
        assert found[0].startswith(f"1 of 8 stocks has 1 overnight gap beyond the "
                                   f"price limit ({code}; first {code} on {day})")
        assert "不复权 TongDaXin exports" in found[0] and "前复权" in found[0]
    assert data.from_cache


@pytest.mark.parametrize("title", ["前复权", "后复权"])
def test_an_adjusted_export_is_its_own_prices_without_a_warning(tmp_path: Path,
                                                                 title: str) -> None:
    _exports(tmp_path / "exports", title)
    data = load_market_data(tmp_path / "exports", use_cache=False)
    assert data.n_stocks == 8 and _gap_warnings(data.warnings) == []
