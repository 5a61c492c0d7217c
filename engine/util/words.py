"""Words as a reader says them: counts ("1 stock", "7,244 rejections"), the display names
of the engine's rule values, rejection and exit reasons ("next open", "max positions"),
and the names of common indices ("000300.SH  CSI 300 / 沪深300")."""

from __future__ import annotations

from collections.abc import Mapping


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and ``noun`` in the number it takes (``plural``
    when adding "s" is wrong: "1 security", "3 securities")."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


#: What the window, the CLI and the reports call the engine's words, by the config field
#: or table column they are values of: the rule values (``engine.config.CHOICES``), the
#: rejection reasons (``engine.kernels.records.REASON_NAMES``) and the exit reasons
#: (``EXIT_NAMES``). Configurations, exported files and the run store keep the engine's
#: words; a value not listed is shown as it is.
DISPLAY_NAMES: Mapping[str, Mapping[str, str]] = {
    "rsi_method": {"wilder": "Wilder (smoothed)", "sma": "simple average"},
    "fill": {"next_open": "next open", "close": "same close"},
    "capital_mode": {"shared": "shared pool", "per_stock": "per stock"},
    "adjust": {"forward": "forward-adjusted", "none": "unadjusted"},
    "on_bad_stock": {"fail": "stop with an error", "skip": "leave it out"},
    "listing": {"list_date": "listing date", "first_bar": "first bar"},
    "lookahead_check": {"on": "on", "off": "off"},
    "reason": {"lot": "less than one lot", "limit_up": "limit up", "limit_down": "limit down",
               "suspended": "suspended", "t+1": "T+1 (bought that day)",
               "max_positions": "max positions"},
    "exit_reason": {"signal": "signal", "stop_loss": "stop loss", "take_profit": "take profit",
                    "trailing_stop": "trailing stop", "max_hold": "max hold",
                    "end": "open at the end"},
}
#: How a yes/no column reads, by its name (others: "yes" / "no").
BOOLEAN_WORDS: Mapping[str, tuple[str, str]] = {"open": ("open", "closed")}


def display_name(field: str, value: object) -> str:
    """``value`` of ``field`` (a config field or table column) as the window shows it."""
    text = str(value)
    return DISPLAY_NAMES.get(field, {}).get(text, text)


#: Names of common indices, English / Chinese, by code (both exchanges' codes of an index
#: that has two).
INDEX_NAMES: Mapping[str, str] = {
    "000001.SH": "SSE Composite / 上证指数", "000016.SH": "SSE 50 / 上证50",
    "000010.SH": "SSE 180 / 上证180", "000688.SH": "STAR 50 / 科创50",
    "000300.SH": "CSI 300 / 沪深300", "399300.SZ": "CSI 300 / 沪深300",
    "000903.SH": "CSI 100 / 中证100", "000905.SH": "CSI 500 / 中证500",
    "399905.SZ": "CSI 500 / 中证500", "000906.SH": "CSI 800 / 中证800",
    "000852.SH": "CSI 1000 / 中证1000", "932000.CSI": "CSI 2000 / 中证2000",
    "399001.SZ": "SZSE Component / 深证成指", "399006.SZ": "ChiNext / 创业板指",
    "399005.SZ": "SZSE SME 100 / 中小100", "899050.BJ": "BSE 50 / 北证50",
}


def index_title(code: str) -> str:
    """An index code with its name when it is a common one: "000300.SH  CSI 300 / 沪深300"."""
    name = INDEX_NAMES.get(code)
    return f"{code}  {name}" if name else code
