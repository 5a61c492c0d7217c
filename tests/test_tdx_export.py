"""TongDaXin exports (SPEC §1): ``SH#600000.txt`` files in GBK, read as their own prices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.data.layouts.detect import LAYOUT_CHOICES, layout_title, scan_folder
from engine.data.loader import load_market_data
from engine.datagen.universe import generate_universe
from engine.errors import DataError

START, END = "2021-01-01", "2021-12-31"
TITLE = "600000 浦发银行 日线 前复权"
HEADER = ["日期", "开盘", "最高", "最低", "收盘", "成交量", "成交额"]
ROWS = [["2024/01/02", "10.50", "10.80", "10.40", "10.70", "1000", "10700.00"],
        ["2024/01/03", "10.70", "10.90", "10.60", "10.85", "2000", "21700.00"],
        ["2024/01/04", "10.85", "10.85", "10.10", "10.20", "0", "0.00"],
        ["2024/01/05", "10.20", "10.30", "10.00", "10.01", "1500", "15015.00"]]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    for layout in ("per-stock", "tdx-export"):
        generate_universe(root / layout, 12, START, END, seed=7, layout=layout)
    return {layout: root / layout for layout in ("per-stock", "tdx-export")}


def _write(folder: Path, text: str, name: str = "SH#600000.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode("gbk"))
    return path


def _export(sep: str, rows: list[list[str]] = ROWS, closing: bool = True,
            dash: bool = False) -> str:
    lines = [TITLE, sep.join(HEADER)]
    for row in rows:
        date = row[0].replace("/", "-") if dash else row[0]
        lines.append(sep.join([date, *row[1:]]))
    if closing:
        lines.append("数据来源:通达信")
    return "\r\n".join(lines) + "\r\n"


def test_the_layout_is_a_choice_with_a_title() -> None:
    assert "tdx-export" in LAYOUT_CHOICES
    assert layout_title("tdx-export") == "TongDaXin exports"


def test_a_datagen_export_folder_loads_the_per_stock_layouts_bars(
        folders: dict[str, Path]) -> None:
    raw = folders["tdx-export"].joinpath("SZ#000001.txt").read_bytes()
    assert raw.decode("gbk").splitlines()[0].endswith("日线 不复权")
    assert raw.rstrip().endswith("数据来源:通达信".encode("gbk"))
    expected = load_market_data(folders["per-stock"], use_cache=False)
    data = load_market_data(folders["tdx-export"], use_cache=False)
    assert data.layout == "tdx-export" and data.n_stocks == 12
    assert data.codes == expected.codes
    np.testing.assert_array_equal(data.dates, expected.dates)
    np.testing.assert_array_equal(data.tradable, expected.tradable)
    for plane in ("open", "high", "low", "close", "volume", "up_limit", "down_limit"):
        assert np.array_equal(data.plane(plane), expected.plane(plane), equal_nan=True), plane
    assert data.excluded == ()
    assert not any("ignored" in w for w in data.warnings)  # stock_list.txt is a list
    scan = scan_folder(folders["tdx-export"])
    assert [p.name for p in scan.stock_lists] == ["stock_list.txt"]


@pytest.mark.parametrize("sep", ["\t", ",", " ", "    "])
@pytest.mark.parametrize("dash", [False, True])
def test_separators_and_date_forms(tmp_path: Path, sep: str, dash: bool) -> None:
    _write(tmp_path, _export(sep, dash=dash))
    data = load_market_data(tmp_path, use_cache=False)
    assert data.layout == "tdx-export" and data.codes == ("600000.SH",)
    # 2024-01-04 traded no share: no bar.
    assert [str(d) for d in data.dates] == ["2024-01-02", "2024-01-03", "2024-01-05"]
    np.testing.assert_array_equal(data.close[:, 0], [10.70, 10.85, 10.01])
    np.testing.assert_array_equal(data.open[:, 0], [10.50, 10.70, 10.20])
    np.testing.assert_array_equal(data.volume[:, 0], [1000, 2000, 1500])


def test_the_closing_line_is_not_a_bar_and_may_be_absent(tmp_path: Path) -> None:
    _write(tmp_path / "a", _export("\t"))
    _write(tmp_path / "b", _export("\t", closing=False))
    a = load_market_data(tmp_path / "a", use_cache=False)
    b = load_market_data(tmp_path / "b", use_cache=False)
    assert a.dates.size == b.dates.size == 3
    np.testing.assert_array_equal(a.close, b.close)


def test_space_padded_columns_and_bj_and_utf8(tmp_path: Path) -> None:
    lines = ["920001 某某 日线 不复权", "      日期      开盘      最高      最低      收盘"
             "         成交量          成交额",
             "  2024/01/02     10.50     10.80     10.40     10.70        1000     10700.00",
             "  2024/01/03     10.70     10.90     10.60     10.85        2000     21700.00",
             "数据来源:通达信"]
    (tmp_path / "BJ#920001.txt").write_text("\n".join(lines), encoding="utf-8")
    data = load_market_data(tmp_path, use_cache=False)
    assert data.codes == ("920001.BJ",)
    np.testing.assert_array_equal(data.close[:, 0], [10.70, 10.85])


def test_a_bad_number_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][4] = "1O.85"
    _write(tmp_path, _export("\t", rows))
    with pytest.raises(DataError) as caught:
        load_market_data(tmp_path, use_cache=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("SH#600000.txt: line 4 has `收盘` '1O.85', not a number")
    assert caught.value.row == "4"


@pytest.mark.parametrize(("cell", "why"), [("2024.01.03", "the date '2024.01.03'"),
                                           ("24/01/03", "the date '24/01/03'")])
def test_a_bad_date_is_one_line_naming_file_and_line(tmp_path: Path, cell: str,
                                                     why: str) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][0] = cell
    _write(tmp_path, _export(",", rows))
    with pytest.raises(DataError, match=rf"^SH#600000\.txt: line 4 has {why} "):
        load_market_data(tmp_path, use_cache=False)


def test_a_short_row_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[2] = rows[2][:5]
    _write(tmp_path, _export("\t", rows))
    with pytest.raises(DataError, match=r"^SH#600000\.txt: line 5 does not have the header's "
                       r"7 columns"):
        load_market_data(tmp_path, use_cache=False)


def test_a_bad_stock_is_skipped_with_its_reason(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][1] = "abc"
    _write(tmp_path, _export("\t", rows), "SZ#000001.txt")
    _write(tmp_path, _export("\t"))
    data = load_market_data(tmp_path, on_bad_stock="skip", use_cache=False)
    assert data.codes == ("600000.SH",)
    assert data.excluded[0][:2] == ("000001.SZ", "SZ#000001.txt")
    assert "line 3" in data.excluded[0][2]


def test_minute_exports_and_duplicates_are_errors(tmp_path: Path) -> None:
    _write(tmp_path / "m", _export("\t").replace("日线", "5分钟线"))
    with pytest.raises(DataError, match=r"SH#600000\.txt: line 1 says it holds 5分钟线 bars"):
        load_market_data(tmp_path / "m", use_cache=False)
    _write(tmp_path / "d", _export("\t"))
    _write(tmp_path / "d", _export("\t"), "sh#600000.txt")
    if len(list((tmp_path / "d").iterdir())) == 2:  # a case-sensitive file system
        with pytest.raises(DataError, match=r"both hold 600000\.SH"):
            load_market_data(tmp_path / "d", use_cache=False)


def test_datagen_cli_writes_the_layout(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "engine.cli.main", "datagen", str(tmp_path),
                    "--stocks", "3", "--layout", "tdx-export", "--start", START, "--end",
                    "2021-02-01"], check=True, capture_output=True)
    assert len(list(tmp_path.glob("S?#*.txt"))) == 3
    assert load_market_data(tmp_path, use_cache=False).layout == "tdx-export"
