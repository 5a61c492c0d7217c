"""Strategy files described without running them (the window's list and fields)."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.strategies.describe import describe_file, list_strategy_files
from tests.conftest import ROOT


def test_the_examples_are_described_from_their_source() -> None:
    files = list_strategy_files(ROOT / "strategies")
    assert [p.name for p in files] == ["momentum.py", "rsi_trend.py"]
    trend = describe_file(ROOT / "strategies" / "rsi_trend.py")
    assert trend.error is None and trend.name == "RSI above its trend"
    assert trend.defaults == {"period": 14, "oversold": 30.0, "overbought": 70.0, "trend": 60}


def test_describing_runs_no_user_code_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "loud.py"
    path.write_text("import a_module_that_does_not_exist\nraise SystemExit('ran!')\n"
                    "NAME, PARAMS = 'Loud', {'mode': ('fast', 'slow'), 'n': 3, 'on': True}\n",
                    encoding="utf-8")
    info = describe_file(path)
    assert info.error is None and info.name == "Loud"
    assert info.defaults == {"mode": "fast", "n": 3, "on": True}
    assert info.choices == {"mode": ("fast", "slow")}
    assert "a_module_that_does_not_exist" not in sys.modules


def test_files_it_cannot_describe_say_why_in_one_line(tmp_path: Path) -> None:
    cases = {"syntax.py": "NAME = (\n", "computed.py": "NAME = 'x'\nPARAMS = dict(n=3)\n",
             "noname.py": "PARAMS = {}\n", "_private.py": "NAME, PARAMS = 'p', {}\n"}
    for name, source in cases.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    assert [p.name for p in list_strategy_files(tmp_path)] == [
        "computed.py", "noname.py", "syntax.py"]
    errors = {p.name: describe_file(p).error for p in list_strategy_files(tmp_path)}
    assert "line 1: syntax error" in str(errors["syntax.py"])
    assert "PARAMS is not a literal" in str(errors["computed.py"])
    assert "NAME is not" in str(errors["noname.py"])
    assert all("\n" not in str(e) for e in errors.values())
    assert list_strategy_files(tmp_path / "missing") == []
