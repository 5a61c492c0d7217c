"""TongDaXin's ex-rights table (gbbq) adjusts .day bars and gives their limits' reference
(SPEC §1, §4): the decoder, the formula on each kind of event, the cache, the errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cli.flags import add_run_flags, config_from_args
from engine.config import BacktestConfig
from engine.data.layouts import tdx_gbbq
from engine.data.layouts.tdx import DAY_RECORD
from engine.data.loader import MarketData, load_market_data
from engine.datagen.universe import generate_universe
from engine.errors import DataError
from engine.results.tables import BacktestResult
from engine.run.backtest import run_backtest

# Four records enciphered by ``tdx_gbbq.encipher``; pytdx 1.72's GbbqReader reads the same
# values from these bytes (checked when this was written; see the pytdx test below).
PINNED = bytes.fromhex(
    "04000000acfd12bca3ec09674f1e8f63c95fdd31063a42865e2b75304100000000631224b0f311c9"
    "a92115d1c3264f610a9f26e436da94829000000000009238e011ea992d554f1e8f63c95fdd315223"
    "1bfe0278ef4440000020400d2f19288cecdb1a72af482bdcc2a56741a19911729baf714700c82f47")
PINNED_RECORDS = [
    (1, b"600000", 20130619, 1, 0.0, 0.0, 10.0, 0.0),  # 10-for-10 bonus
    (0, b"000001", 20120704, 1, 1.7, 0.0, 0.0, 0.0),  # cash 1.70 per 10 shares
    (0, b"300340", 20130619, 1, 0.5, 7.3, 3.0, 2.5),  # all four at once
    (2, b"920001", 20240102, 2, 1.5e4, 2.5e4, 3.5e4, 4.5e4),  # a share-capital change
]
VOLUME = 1_000_000
#: (date, open, high, low, close) of a bar, in yuan.
Bar = tuple[str, float, float, float, float]


def half_up_cent(x: float) -> float:
    """SPEC §4's rounding, written out from the spec."""
    return float(np.floor(x * 100 + 0.500001) / 100)


def spec_pre_close(c: float, f1: float, f2: float, f3: float, f4: float) -> float:
    """SPEC §1's ex-rights price, f1-f4 the table's float32 values as they are."""
    f1, f2, f3, f4 = (float(np.float32(f)) for f in (f1, f2, f3, f4))
    return half_up_cent((c - f1 / 10 + f2 * f4 / 10) / (1 + f3 / 10 + f4 / 10))


def flat(date: str, price: float) -> Bar:
    return (date, price, price, price, price)


def write_day(root: Path, code: str, rows: list[Bar], volumes: list[int] | None = None
              ) -> Path:
    exchange = code[7:].lower()
    folder = root / "vipdoc" / exchange / "lday"
    folder.mkdir(parents=True, exist_ok=True)
    records = np.zeros(len(rows), dtype=DAY_RECORD)
    records["date"] = [int(d.replace("-", "")) for d, *_ in rows]
    for k, name in enumerate(("open", "high", "low", "close")):
        records[name] = [round(row[k + 1] * 100) for row in rows]
    records["volume"] = VOLUME if volumes is None else volumes
    path = folder / f"{exchange}{code[:6]}.day"
    records.tofile(path)
    return path


def gbbq_bytes(events: list[tuple[str, str, int, float, float, float, float]]) -> bytes:
    """A table of (code, ex-date, category, f1, f2, f3, f4) events, enciphered."""
    records = np.array([(tdx_gbbq.MARKETS.index(code[7:]), code[:6].encode(),
                         int(date.replace("-", "")), category, *values)
                        for code, date, category, *values in events], dtype=tdx_gbbq.RECORD)
    return tdx_gbbq.encipher(records)


def install(root: Path, stocks: dict[str, list[Bar]],
            events: list[tuple[str, str, int, float, float, float, float]]) -> Path:
    """A TongDaXin installation: ``vipdoc`` and ``T0002/hq_cache/gbbq``."""
    for code, rows in stocks.items():
        write_day(root, code, rows)
    table = root / "T0002" / "hq_cache" / "gbbq"
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_bytes(gbbq_bytes(events))
    return root


def load(root: Path, **kwargs: object) -> MarketData:
    return load_market_data(root, use_cache=False, **kwargs)  # type: ignore[arg-type]


def gap_warnings(data: MarketData) -> list[str]:
    return [w for w in data.warnings if "beyond the price limit" in w]


def column(data: MarketData, name: str, code: str) -> np.ndarray:
    """A stock's values of a plane on the days it has a bar."""
    j = data.codes.index(code)
    return data.plane(name)[data.tradable[:, j], j]


# -- the decoder ---------------------------------------------------------------------------


def test_a_pinned_blob_deciphers_to_its_records_and_back() -> None:
    records = tdx_gbbq.decipher(PINNED, Path("gbbq"))
    expected = np.array(PINNED_RECORDS, dtype=tdx_gbbq.RECORD)
    assert records.tobytes() == expected.tobytes()
    assert tdx_gbbq.encipher(records) == PINNED
    table = tdx_gbbq.events_of(records, Path("gbbq"))  # category 1 only
    assert table.keys.tolist() == [1_600_000, 1, 300340]
    assert table.dates.tolist() == [20130619, 20120704, 20130619]
    assert table.cash.tolist() == [0.0, float(np.float32(1.7)), 0.5]
    assert table.price[2] == float(np.float32(7.3)) and table.rights[2] == 2.5


def test_the_decoder_reads_what_pytdx_reads(tmp_path: Path) -> None:
    reader = pytest.importorskip("pytdx.reader.gbbq_reader")
    path = tmp_path / "gbbq"
    path.write_bytes(PINNED)
    frame = reader.GbbqReader().get_df(str(path))
    mine = tdx_gbbq.decipher(PINNED, path)
    assert frame["datetime"].tolist() == mine["date"].tolist()
    assert frame["code"].tolist() == [c.decode() for c in mine["code"]]
    assert frame["songgu_qianzongguben"].tolist() == mine["f3"].astype(float).tolist()


def test_100k_records_decipher_in_well_under_a_second() -> None:
    rng = np.random.default_rng(3)
    records = np.zeros(100_000, dtype=tdx_gbbq.RECORD)
    records["code"] = b"600000"
    records["date"] = 20100101 + rng.integers(0, 1200, records.size)
    records["category"] = rng.integers(1, 12, records.size)
    records["f3"] = rng.random(records.size)
    data = tdx_gbbq.encipher(records)
    t0 = time.perf_counter()
    back = tdx_gbbq.decipher(data, Path("gbbq"))
    assert time.perf_counter() - t0 < 0.5  # 0.04 s on the development machine
    assert back.tobytes() == records.tobytes()


# -- the formula (SPEC §1) ---------------------------------------------------------------


BONUS_BARS = [flat("2013-06-14", 20.00), flat("2013-06-17", 20.20),
              ("2013-06-18", 10.20, 10.40, 10.00, 10.30), flat("2013-06-19", 10.40)]


def test_a_bonus_halves_the_prices_before_it_and_sets_the_ex_date_reference(
        tmp_path: Path) -> None:
    root = install(tmp_path / "tdx", {"600000.SH": BONUS_BARS},
                   [("600000.SH", "2013-06-18", 1, 0.0, 0.0, 10.0, 0.0)])
    data = load(root)
    pre_close = spec_pre_close(20.20, 0.0, 0.0, 10.0, 0.0)
    assert pre_close == 10.10
    factor = pre_close / 20.20
    assert column(data, "close", "600000.SH").tolist() == [20.00 * factor, 20.20 * factor,
                                                           10.30, 10.40]
    # The ex-date's limits are the table's pre_close +/- 10%, not the last close's.
    assert column(data, "up_limit", "600000.SH")[2] == half_up_cent(pre_close * 1.1) == 11.11
    assert column(data, "down_limit", "600000.SH")[2] == half_up_cent(pre_close * 0.9)
    assert gap_warnings(data) == []
    raw = load(root, adjust="none")  # raw prices, the same limits
    assert column(raw, "close", "600000.SH").tolist() == [20.00, 20.20, 10.30, 10.40]
    assert column(raw, "up_limit", "600000.SH")[2] == 11.11
    assert gap_warnings(raw) == []
    (root / "T0002" / "hq_cache" / "gbbq").unlink()  # without it: raw, and a warning
    bare = load(root)
    assert column(bare, "close", "600000.SH")[0] == 20.00
    assert column(bare, "up_limit", "600000.SH")[2] == half_up_cent(20.20 * 1.1)
    assert len(gap_warnings(bare)) == 1


@pytest.mark.parametrize(("name", "values"), [
    ("rights issue 配股: 3 shares per 10 at 7.30", (0.0, 7.3, 0.0, 3.0)),
    ("cash dividend 分红: 3.17 per 10", (3.17, 0.0, 0.0, 0.0)),
    ("all at once", (1.2, 8.8, 2.0, 1.5)),
])
def test_each_kind_of_event_follows_the_spec_formula(
        tmp_path: Path, name: str, values: tuple[float, float, float, float]) -> None:
    bars = [flat("2020-03-02", 12.00), flat("2020-03-03", 12.35),
            ("2020-03-04", 11.00, 11.50, 10.80, 11.20), flat("2020-03-05", 11.30)]
    root = install(tmp_path / "tdx", {"000001.SZ": bars},
                   [("000001.SZ", "2020-03-04", 1, *values)])
    data = load(root)
    pre_close = spec_pre_close(12.35, *values)
    factor = pre_close / 12.35
    closes = column(data, "close", "000001.SZ")
    assert closes.tolist() == [12.00 * factor / 1.0, 12.35 * factor / 1.0, 11.20, 11.30], name
    assert column(data, "up_limit", "000001.SZ")[2] == half_up_cent(pre_close * 1.1)
    raw = load(root, adjust="none")
    assert column(raw, "down_limit", "000001.SZ")[2] == half_up_cent(pre_close * 0.9)
    assert column(raw, "close", "000001.SZ")[1] == 12.35


def test_two_events_reaching_one_bar_apply_in_date_order(tmp_path: Path) -> None:
    # Suspended 3-6 and 3-9: a dividend dated 3-6 and a bonus dated 3-9 both reach 3-10;
    # the file lists the later one first.
    bars = [flat("2020-03-04", 20.00), flat("2020-03-05", 20.25),
            flat("2020-03-10", 10.00), flat("2020-03-11", 10.10)]
    root = install(tmp_path / "tdx", {"600000.SH": bars},
                   [("600000.SH", "2020-03-09", 1, 0.0, 0.0, 10.0, 0.0),
                    ("600000.SH", "2020-03-06", 1, 1.0, 0.0, 0.0, 0.0)])
    data = load(root)
    first = spec_pre_close(20.25, 1.0, 0.0, 0.0, 0.0)  # 20.15
    second = spec_pre_close(first, 0.0, 0.0, 10.0, 0.0)  # the first's pre_close as C
    assert second == 10.08  # bonus first would give half_up(10.125) - 0.10 = 10.03
    assert column(data, "up_limit", "600000.SH")[2] == half_up_cent(second * 1.1)
    factor = (first / 20.25) * (second / first)
    assert column(data, "close", "600000.SH")[:2] == pytest.approx(
        [20.00 * factor, 20.25 * factor], rel=1e-15)


def test_an_event_during_a_suspension_applies_to_the_first_bar_after(tmp_path: Path) -> None:
    bars = [flat("2021-05-06", 30.00), flat("2021-05-07", 30.60),  # suspended 5-10 .. 5-14
            flat("2021-05-17", 15.50), flat("2021-05-18", 15.60)]
    root = install(tmp_path / "tdx", {"000002.SZ": bars},
                   [("000002.SZ", "2021-05-12", 1, 0.0, 0.0, 10.0, 0.0)])
    data = load(root)
    assert column(data, "up_limit", "000002.SZ")[2] == half_up_cent(15.30 * 1.1)
    assert column(data, "close", "000002.SZ")[:2].tolist() == [15.00, 15.30]
    assert gap_warnings(data) == []


def test_a_record_without_volume_is_no_bar_and_an_unsorted_file_is_read_in_date_order(
        tmp_path: Path) -> None:
    # 600000.SH: a volume-0 record at 5.00 on 6-17, the event's day: C is 6-14's close and
    # the event reaches 6-18. 000001.SZ: the bonus bars written newest first.
    volumes = [VOLUME, 0, VOLUME, VOLUME]
    bars = [flat("2013-06-14", 20.00), flat("2013-06-17", 5.00),
            flat("2013-06-18", 10.10), flat("2013-06-19", 10.40)]
    root = tmp_path / "tdx"
    write_day(root, "600000.SH", bars, volumes)
    install(root, {"000001.SZ": BONUS_BARS[::-1]},
            [("600000.SH", "2013-06-17", 1, 0.0, 0.0, 10.0, 0.0),
             ("000001.SZ", "2013-06-18", 1, 0.0, 0.0, 10.0, 0.0)])
    data = load(root)
    assert column(data, "close", "600000.SH").tolist() == [10.00, 10.10, 10.40]
    assert column(data, "up_limit", "600000.SH")[1] == 11.00
    assert column(data, "close", "000001.SZ").tolist() == [10.00, 10.10, 10.30, 10.40]
    assert column(data, "up_limit", "000001.SZ")[2] == 11.11
    assert any("not sorted" in w for w in data.warnings)


def test_other_categories_and_events_outside_the_bars_change_nothing(
        tmp_path: Path) -> None:
    bars = [flat("2019-01-02", 10.00), flat("2019-01-03", 10.10), flat("2019-01-04", 10.20)]
    root = install(tmp_path / "tdx", {"600000.SH": bars, "000001.SZ": bars}, [
        ("600000.SH", "2019-01-03", 2, 5.0, 6.0, 7.0, 8.0),  # 送配股上市
        ("600000.SH", "2019-01-04", 5, 1e4, 2e4, 1e4, 2e4),  # 股本变化
        ("600000.SH", "2018-12-28", 1, 0.0, 0.0, 10.0, 0.0),  # before the first bar
        ("600000.SH", "2019-01-02", 1, 0.0, 0.0, 10.0, 0.0),  # on the first bar: no C
        ("600000.SH", "2019-01-07", 1, 0.0, 0.0, 10.0, 0.0),  # after the last bar
        ("000001.SH", "2019-01-03", 1, 5.0, 0.0, 0.0, 0.0),  # the SH index, not 000001.SZ
        ("601398.SH", "2019-01-03", 1, 5.0, 0.0, 0.0, 0.0),  # a stock not in the folder
    ])
    data = load(root)
    for code in ("600000.SH", "000001.SZ"):
        assert column(data, "close", code).tolist() == [10.00, 10.10, 10.20]
        assert column(data, "up_limit", code)[1:].tolist() == [11.00, 11.11]
    assert data.fingerprint == load(root, tdx_gbbq=_empty_table(tmp_path)).fingerprint


def _empty_table(folder: Path) -> Path:
    path = folder / "empty_gbbq"
    path.write_bytes(gbbq_bytes([]))
    return path


# -- the table where it is, and named ----------------------------------------------------


def test_the_table_is_found_from_vipdoc_itself_and_named_anywhere(tmp_path: Path) -> None:
    event = [("600000.SH", "2013-06-18", 1, 0.0, 0.0, 10.0, 0.0)]
    root = install(tmp_path / "tdx", {"600000.SH": BONUS_BARS}, event)
    assert column(load(root / "vipdoc"), "close", "600000.SH")[0] == 10.00
    bare = tmp_path / "copy"  # a vipdoc outside an installation, its table named
    write_day(bare, "600000.SH", BONUS_BARS)
    assert column(load(bare), "close", "600000.SH")[0] == 20.00
    named = tmp_path / "elsewhere.gbbq"
    named.write_bytes(gbbq_bytes(event))
    assert column(load(bare, tdx_gbbq=named), "close", "600000.SH")[0] == 10.00
    # A table named for an installation replaces the one beside vipdoc.
    assert column(load(root, tdx_gbbq=_empty_table(tmp_path)), "close", "600000.SH")[0] == 20.0


def test_the_flag_and_the_config_field_reach_the_load(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_run_flags(parser)
    args = parser.parse_args(["--data", str(tmp_path), "--tdx-gbbq", "C:/new_tdx/gbbq"])
    assert config_from_args(args).tdx_gbbq == "C:/new_tdx/gbbq"


def test_a_table_named_for_another_layout_is_a_warning(tmp_path: Path) -> None:
    generate_universe(tmp_path / "files", 3, "2021-01-01", "2021-03-31", seed=2)
    data = load(tmp_path / "files", tdx_gbbq=_empty_table(tmp_path))
    assert any("is not used" in w and "empty_gbbq" in w for w in data.warnings)


@pytest.mark.parametrize(("name", "damage"), [
    ("truncated", lambda blob: blob[:-3]),
    ("a record too many in the count", lambda blob: (5).to_bytes(4, "little") + blob[4:]),
    ("empty", lambda blob: b""),
])
def test_a_bad_table_is_one_line_naming_the_file(tmp_path: Path, name: str, damage) -> None:
    root = install(tmp_path / "tdx", {"600000.SH": BONUS_BARS},
                   [("600000.SH", "2013-06-18", 1, 0.0, 0.0, 10.0, 0.0)])
    table = root / "T0002" / "hq_cache" / "gbbq"
    table.write_bytes(damage(PINNED))
    with pytest.raises(DataError) as caught:
        load(root)
    message = str(caught.value)
    assert str(table) in message and "\n" not in message, name
    assert "download" in message and Path(str(caught.value.file)) == table


def test_a_missing_named_table_is_one_line_naming_it(tmp_path: Path) -> None:
    write_day(tmp_path / "tdx", "600000.SH", BONUS_BARS)
    missing = tmp_path / "no_such_gbbq"
    with pytest.raises(DataError, match=r"no_such_gbbq.*cannot be read") as caught:
        load_market_data(tmp_path / "tdx", tdx_gbbq=missing, cache_dir=tmp_path / "cache")
    assert "\n" not in str(caught.value)


def test_a_table_giving_no_positive_price_fails_that_stock_naming_the_table(
        tmp_path: Path) -> None:
    root = install(tmp_path / "tdx", {"600000.SH": BONUS_BARS, "000001.SZ": BONUS_BARS},
                   [("600000.SH", "2013-06-18", 1, 500.0, 0.0, 0.0, 0.0)])  # 50 a share
    with pytest.raises(DataError, match="no positive ex-rights price on 20130618"):
        load(root)
    data = load(root, on_bad_stock="skip")
    assert data.codes == ("000001.SZ",) and "gbbq" in data.excluded[0][2]


# -- the cache ----------------------------------------------------------------------------


def test_a_changed_table_is_a_changed_input(tmp_path: Path) -> None:
    root = install(tmp_path / "tdx", {"600000.SH": BONUS_BARS},
                   [("600000.SH", "2013-06-18", 1, 0.0, 0.0, 10.0, 0.0)])
    cache = tmp_path / "cache"
    first = load_market_data(root, cache_dir=cache)
    again = load_market_data(root, cache_dir=cache)
    assert not first.from_cache and again.from_cache
    assert column(again, "close", "600000.SH")[0] == 10.00
    table = root / "T0002" / "hq_cache" / "gbbq"
    stat = table.stat()
    # The same size and mtime (an in-place copy with cp -p): a 10-for-5 bonus now.
    table.write_bytes(gbbq_bytes([("600000.SH", "2013-06-18", 1, 0.0, 0.0, 5.0, 0.0)]))
    os.utime(table, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert table.stat().st_size == stat.st_size
    changed = load_market_data(root, cache_dir=cache)
    assert not changed.from_cache
    assert changed.fingerprint != first.fingerprint
    pre_close = spec_pre_close(20.20, 0.0, 0.0, 5.0, 0.0)
    assert column(changed, "close", "600000.SH")[0] == 20.00 * (pre_close / 20.20)
    table.unlink()  # no table: a key of its own again
    assert not load_market_data(root, cache_dir=cache).from_cache


# -- in a run -------------------------------------------------------------------------------


def _rsi2_config(root: Path, tmp_path: Path) -> BacktestConfig:
    return BacktestConfig(data_dir=root, start="2013-06-01", end="2013-07-31", period=2,
                          cache_dir=tmp_path / "cache", workers=1)


def test_a_buy_on_an_ex_date_locked_at_the_tables_limit_up_is_rejected(
        tmp_path: Path) -> None:
    # RSI(2) leaves oversold on 6-07 (falls, then a rise): the buy's day is 6-10, the
    # ex-date, locked at limit-up of the table's pre_close 10.10 (11.11); the last close,
    # 20.20, would put the limit at 22.22 and let the buy fill at 11.11.
    closes = [20.50, 20.30, 20.10, 20.00, 20.20]
    days = ["2013-06-03", "2013-06-04", "2013-06-05", "2013-06-06", "2013-06-07"]
    bars = [flat(d, c) for d, c in zip(days, closes, strict=True)]
    bars += [flat("2013-06-10", 11.11), flat("2013-06-11", 11.50), flat("2013-06-13", 11.60)]
    root = install(tmp_path / "tdx", {"600000.SH": bars},
                   [("600000.SH", "2013-06-10", 1, 0.0, 0.0, 10.0, 0.0)])
    result = run_backtest(_rsi2_config(root, tmp_path))
    rejected = result.rejections
    assert rejected["reason"].astype(str).tolist()[:1] == ["limit_up"]
    assert str(rejected["date"].iloc[0])[:10] == "2013-06-10"
    assert result.fills.empty
    (root / "T0002" / "hq_cache" / "gbbq").unlink()
    unadjusted = run_backtest(_rsi2_config(root, tmp_path))
    assert len(unadjusted.fills) == 1  # filled at 11.11, a 45% "loss" on the first day


def test_no_position_books_an_ex_rights_gap_as_a_loss(tmp_path: Path) -> None:
    # The same universe as raw bars with a table, and as the generated (adjusted) bars.
    install_dir, files = tmp_path / "new_tdx", tmp_path / "files"
    generate_universe(install_dir, 40, "2021-01-01", "2022-06-30", seed=8,
                      layout="tdx-install")
    generate_universe(files, 40, "2021-01-01", "2022-06-30", seed=8)

    def run(folder: Path) -> BacktestResult:
        return run_backtest(BacktestConfig(data_dir=folder, start="2021-03-01",
                                           end="2022-06-30", cache_dir=tmp_path / "cache",
                                           workers=1))

    adjusted, generated = run(install_dir), run(files)
    assert gap_warnings_of(adjusted) == []
    np.testing.assert_array_equal(adjusted.trades["return"], generated.trades["return"])
    np.testing.assert_array_equal(adjusted.equity["equity"], generated.equity["equity"])
    (install_dir / "T0002" / "hq_cache" / "gbbq").unlink()
    raw = run(install_dir)
    assert len(gap_warnings_of(raw)) == 1
    assert raw.trades["return"].min() < -0.3  # a position held over a 10-for-10 bonus


def gap_warnings_of(result: BacktestResult) -> list[str]:
    return [w for w in result.warnings if "beyond the price limit" in w]


def test_a_generated_installation_loads_to_the_generated_prices(tmp_path: Path) -> None:
    generate_universe(tmp_path / "inst", 12, "2021-01-01", "2021-12-31", seed=5,
                      layout="tdx-install")
    generate_universe(tmp_path / "files", 12, "2021-01-01", "2021-12-31", seed=5)
    table = tdx_gbbq.read_table(tmp_path / "inst" / "T0002" / "hq_cache" / "gbbq")
    assert table.keys.size == 9  # 8 of 12 stocks with a bonus, 1 code outside
    inst, files = load(tmp_path / "inst"), load(tmp_path / "files")
    assert inst.warnings == () and inst.codes == files.codes
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(inst.plane(name), files.plane(name))
