"""Human-readable metric names and values, shared by the CLI and the GUI."""

from __future__ import annotations

import math
from typing import Any

# (key, label, kind): kind is "pct", "ratio", "money", "int", "days" or "text".
METRICS: tuple[tuple[str, str, str], ...] = (
    ("total_return", "Total return", "pct"),
    ("cagr", "CAGR", "pct"),
    ("volatility", "Volatility (ann.)", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("max_drawdown_peak", "Drawdown peak", "text"),
    ("max_drawdown_trough", "Drawdown trough", "text"),
    ("max_drawdown_duration_days", "Longest drawdown (days)", "int"),
    ("calmar", "Calmar", "ratio"),
    ("trades", "Closed trades", "int"),
    ("win_rate", "Win rate", "pct"),
    ("profit_factor", "Profit factor", "ratio"),
    ("avg_trade_return", "Avg trade return", "pct"),
    ("avg_bars_held", "Avg bars held", "ratio"),
    ("total_commission", "Total commission", "money"),
    ("total_tax", "Total stamp tax", "money"),
    ("turnover", "Turnover (× mean equity)", "ratio"),
    ("exposure", "Exposure", "pct"),
    ("benchmark_total_return", "Benchmark return (EW B&H)", "pct"),
    ("excess_return", "Excess return", "pct"),
    ("final_equity", "Final equity", "money"),
    ("days", "Trading days", "int"),
)
MISSING = "—"


def format_value(value: Any, kind: str) -> str:
    """Text of one metric value; undefined (None/NaN) shows as "—"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if kind == "pct":
        return f"{value * 100:,.2f}%"
    if kind == "ratio":
        return f"{value:,.2f}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind in ("int", "days"):
        return f"{int(value):,d}"
    return str(value)


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) for every known metric, in display order."""
    return [(label, format_value(metrics.get(key), kind)) for key, label, kind in METRICS]


def text_table(rows: list[tuple[str, str]]) -> str:
    """Two aligned columns as plain text."""
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"{label:<{width}}  {value:>16}" for label, value in rows)
