"""Data layer: stock files and lists in, validated and aligned market arrays out."""

from engine.data.align import PLANES, AlignedArrays, align
from engine.data.cache import default_cache_dir
from engine.data.layouts.detect import LAYOUT_CHOICES, scan_folder
from engine.data.loader import MarketData, load_market_data
from engine.data.naming import code_from_file_name, normalize_code
from engine.data.stocklist import read_stock_list
from engine.data.summary import coverage

__all__ = [
    "LAYOUT_CHOICES",
    "PLANES",
    "AlignedArrays",
    "MarketData",
    "align",
    "code_from_file_name",
    "coverage",
    "default_cache_dir",
    "load_market_data",
    "normalize_code",
    "read_stock_list",
    "scan_folder",
]
