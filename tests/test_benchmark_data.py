"""The benchmarks measure the universe they name: a stale generated folder is rewritten."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import ensure_universe
from engine.data import load_market_data


def test_a_generated_universe_is_kept_while_current_and_rewritten_when_stale(
        tmp_path: Path) -> None:
    folder = tmp_path / "universe"
    ensure_universe(folder, 6, "2024-01-01", "2024-03-01", seed=3)
    stock_list = folder / "stock_list.txt"
    written = stock_list.stat().st_mtime_ns
    ensure_universe(folder, 6, "2024-01-01", "2024-03-01", seed=3)
    assert stock_list.stat().st_mtime_ns == written  # current: kept as it is

    # What an older datagen wrote: a 921xxx.BJ code, which is not an A-share (SPEC §1).
    codes = stock_list.read_text(encoding="utf-8").split()
    stale = folder / "921023_BJ.parquet"
    stale.write_bytes((folder / f"{codes[-1].replace('.', '_')}.parquet").read_bytes())
    stock_list.write_text("\n".join([*codes[:-1], "921023.BJ"]) + "\n", encoding="utf-8")
    ensure_universe(folder, 6, "2024-01-01", "2024-03-01", seed=3)
    assert stock_list.read_text(encoding="utf-8").split() == codes and not stale.exists()
    assert load_market_data(folder, use_cache=False).n_stocks == 6

    # Too few stocks: stale too.
    stock_list.write_text("\n".join(codes[:-1]) + "\n", encoding="utf-8")
    ensure_universe(folder, 6, "2024-01-01", "2024-03-01", seed=3)
    assert stock_list.read_text(encoding="utf-8").split() == codes
