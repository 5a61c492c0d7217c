"""Words a user reads (issue 24, item 8): counts in the number they take ("1 stock list",
"2 subfolders"), and a folder's warnings said once, not at each of its many reloads."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.data.loader import load_market_data
from engine.errors import DataError
from engine.util.words import counted
from tests.conftest import WriteStock, bars

DATES = ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_a_folder_of_one_stock_list_says_one_stock_list(tmp_path: Path) -> None:
    (tmp_path / "stock_list.txt").write_text("000001.SZ\n", encoding="utf-8")
    (tmp_path / "old").mkdir()
    with pytest.raises(DataError) as info:
        load_market_data(tmp_path)
    message = str(info.value)
    assert "1 stock list (stock_list.txt)" in message and "stock lists" not in message
    assert "1 subfolder not searched (old)" in message


def test_a_folder_warning_is_logged_once_however_often_it_is_loaded(
        write_stock: WriteStock, caplog: pytest.LogCaptureFixture) -> None:
    path = write_stock("000001_SZ.parquet", bars(DATES))
    write_stock("000300_SH.parquet", bars(DATES))  # an index: left out, with a warning
    with caplog.at_level(logging.WARNING):
        for end in ("2024-01-04", "2024-01-04", "2024-01-03", "2024-01-04"):
            data = load_market_data(path.parent, end=end)
            assert data.codes == ("000001.SZ",)
    said = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert said == ["left out 1 security that is not an A-share (1 index): 000300.SH"]
    assert said[0] in data.warnings  # the window and the CLI still get it with each load


@pytest.mark.parametrize(("n", "noun", "text"), [
    (1, "stock list", "1 stock list"), (2, "stock list", "2 stock lists"),
    (7244, "rejection", "7,244 rejections"), (1, "security", "1 security"),
    (0, "stock", "0 stocks")])
def test_counts_take_their_number(n: int, noun: str, text: str) -> None:
    plural = "securities" if noun == "security" else None
    assert counted(n, noun, plural) == text
