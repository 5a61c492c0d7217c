"""Stock lists: text, CSV and parquet; both spellings; missing codes fail or are excluded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.data import load_market_data, read_stock_list
from engine.errors import DataError
from tests.conftest import WriteStock, bars

DATES = ["2024-01-02", "2024-01-03"]


@pytest.fixture
def folder(write_stock: WriteStock) -> Path:
    for name in ("000001_SZ.parquet", "600000.SH.parquet", "300750_SZ.csv"):
        path = write_stock(name, bars(DATES))
    return path.parent


def test_text_list_with_comments_commas_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# my picks\n000001.SZ, 600000_SH  # bank\n\nsz300750 000001.SZ\n",
                    encoding="utf-8")
    assert read_stock_list(path) == ["000001.SZ", "600000.SH", "300750.SZ"]


@pytest.mark.parametrize("column", ["ts_code", "code", "TS_CODE"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_lists(tmp_path: Path, column: str, suffix: str) -> None:
    frame = pd.DataFrame({column: ["000001.SZ", "600000_SH"], "name": ["平安银行", "浦发银行"]})
    path = tmp_path / f"list{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    assert read_stock_list(path) == ["000001.SZ", "600000.SH"]


def test_table_list_without_code_column(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    pd.DataFrame({"stock": ["000001.SZ"]}).to_csv(path, index=False)
    with pytest.raises(DataError,
                       match=r"list.csv.*code column \(ts_code, code, symbol.*found: stock"):
        read_stock_list(path)


def test_bad_code_in_list(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("000001.SZ\nAPPLE\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"list.txt: 'APPLE' is not a stock code"):
        read_stock_list(path)


def test_all_stocks_by_default_sorted_by_code(folder: Path) -> None:
    assert load_market_data(folder).codes == ("000001.SZ", "300750.SZ", "600000.SH")


def test_selection_from_list_file_and_codes(folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "picks.txt"
    path.write_text("600000_SH\n000001.SZ\n", encoding="utf-8")
    assert load_market_data(folder, path).codes == ("000001.SZ", "600000.SH")
    assert load_market_data(folder, "300750.SZ, 600000").codes == ("300750.SZ", "600000.SH")
    assert load_market_data(folder, ["sz000001"]).codes == ("000001.SZ",)


def test_missing_code_fails_naming_it(folder: Path) -> None:
    with pytest.raises(DataError, match=r"stock 000002.SZ has no file in .*000002_SZ.parquet"):
        load_market_data(folder, ["000001.SZ", "000002.SZ"])


def test_missing_code_excluded_with_skip(folder: Path) -> None:
    data = load_market_data(folder, ["000001.SZ", "000002.SZ"], on_bad_stock="skip")
    assert data.codes == ("000001.SZ",)
    assert data.excluded == (("000002.SZ", "", "no file in the data folder"),)


def test_bare_code_means_the_exchange_of_its_prefix_not_an_index_of_same_digits(
        write_stock: WriteStock) -> None:
    write_stock("000001_SZ.parquet", bars(DATES))
    path = write_stock("000001_SH.parquet", bars(DATES))  # the SSE Composite index
    data = load_market_data(path.parent, "000001")
    assert data.codes == ("000001.SZ",)
    assert any("1 security that is not an A-share (1 index): 000001.SH" in w
               for w in data.warnings)
    assert load_market_data(path.parent).codes == ("000001.SZ",)
    with pytest.raises(DataError, match=r"000001.SH is an index, not an A-share"):
        load_market_data(path.parent, "000001.SH")


def test_two_parquet_files_for_one_code(write_stock: WriteStock) -> None:
    write_stock("000001_SZ.parquet", bars(DATES))
    path = write_stock("000001.SZ.parquet", bars(DATES))
    with pytest.raises(DataError, match=r"000001.SZ.parquet and 000001_SZ.parquet both hold"):
        load_market_data(path.parent)


def test_a_list_of_only_comments_is_named(folder: Path, tmp_path: Path) -> None:
    listing = tmp_path / "mine.txt"
    listing.write_text("# my picks\n\n  # none yet\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"^stock list mine\.txt holds no stock code") as info:
        load_market_data(folder, listing)
    assert info.value.file == str(listing)
    with pytest.raises(DataError, match=r"^the stock selection ', ,' holds no stock code"):
        load_market_data(folder, ", ,")
    with pytest.raises(DataError, match=r"^the stock selection holds no stock code"):
        load_market_data(folder, ())
