"""The one table of metrics: key, label, display kind and which direction is better."""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    """One metric of SPEC §7 (or a walk-forward's extra figure)."""

    key: str
    label: str
    #: Display kind (``engine.results.formatting.NUMBER_SPECS``, or "text").
    kind: str
    #: "max" if a larger value is better, "min" if a smaller one is, "" if the metric
    #: describes a run rather than rates it (days, trades, exposure, the drawdown dates).
    #: The max drawdown is negative, so its largest value is the one closest to zero.
    goal: str = ""


#: Every metric of a run, in display order.
RUN_METRICS: tuple[Metric, ...] = (
    Metric("total_return", "Total return", "pct", "max"),
    Metric("cagr", "CAGR", "pct", "max"),
    Metric("volatility", "Volatility (ann.)", "pct", "min"),
    Metric("sharpe", "Sharpe", "ratio", "max"),
    Metric("sortino", "Sortino", "ratio", "max"),
    Metric("max_drawdown", "Max drawdown", "pct", "max"),
    Metric("max_drawdown_peak", "Drawdown peak", "text"),
    Metric("max_drawdown_trough", "Drawdown trough", "text"),
    Metric("max_drawdown_duration_days", "Longest drawdown (days)", "int", "min"),
    Metric("calmar", "Calmar", "ratio", "max"),
    Metric("trades", "Closed trades", "int"),
    Metric("win_rate", "Win rate", "pct", "max"),
    Metric("profit_factor", "Profit factor", "ratio", "max"),
    Metric("avg_trade_return", "Avg trade return", "pct", "max"),
    Metric("avg_bars_held", "Avg bars held", "ratio"),
    Metric("total_commission", "Total commission", "money", "min"),
    Metric("total_tax", "Total stamp tax", "money", "min"),
    Metric("total_transfer_fee", "Total transfer fee", "money", "min"),
    Metric("turnover", "Turnover (× mean equity)", "ratio", "min"),
    Metric("exposure", "Exposure", "pct"),
    Metric("benchmark_total_return", "Benchmark return", "pct"),
    Metric("excess_return", "Excess return", "pct", "max"),
    Metric("beta", "Beta (to the benchmark)", "ratio"),
    Metric("alpha", "Alpha (ann.)", "pct", "max"),
    Metric("tracking_error", "Tracking error (ann.)", "pct"),
    Metric("information_ratio", "Information ratio", "ratio", "max"),
    Metric("final_equity", "Final equity", "money", "max"),
    Metric("days", "Trading days", "int"),
)
#: Figures only some results have (a walk-forward's), shown after the run's when present.
EXTRA: tuple[Metric, ...] = (
    Metric("wf_efficiency", "Walk-forward efficiency", "ratio"),
    Metric("deflated_sharpe", "Deflated Sharpe (best of the grid)", "ratio"),
    Metric("pbo", "Probability of overfitting (PBO)", "pct"),
)
#: Every metric by key.
BY_KEY: dict[str, Metric] = {m.key: m for m in (*RUN_METRICS, *EXTRA)}


def metric_goal(key: str) -> str | None:
    """"max" if a larger value of metric ``key`` is better, "min" if a smaller one is,
    None if it has no better direction (or is no metric)."""
    metric = BY_KEY.get(key)
    return metric.goal or None if metric is not None else None
