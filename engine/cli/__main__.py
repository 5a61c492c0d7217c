"""``python -m engine.cli``: the ``backtest`` command."""

import sys

from engine.cli.main import main

sys.exit(main())
