"""The command line's progress bar (``--no-progress`` hides it)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


class ProgressBar:
    """A tqdm bar on stderr fed by engine progress events (see ``engine.progress``).

    It counts either the pipeline's ``stages`` (a run) or the units of ``unit_stage``
    (a sweep's combinations); other events only relabel it. Hidden when stderr is not a
    terminal or ``enabled`` is False.
    """

    def __init__(self, stages: Sequence[str] = (), unit_stage: str | None = None,
                 enabled: bool = True) -> None:
        self.stages, self.unit_stage, self.enabled = tuple(stages), unit_stage, enabled
        self.bar: Any = None

    def __enter__(self) -> ProgressBar:
        from tqdm import tqdm

        self.bar = tqdm(total=len(self.stages) or None, file=sys.stderr, leave=False,
                        disable=None if self.enabled else True, dynamic_ncols=True,
                        bar_format="{desc:<12}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                   "[{elapsed}<{remaining}]")
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def __call__(self, stage: str, done: int, total: int, worker: int | None = None) -> None:
        """Take one progress event."""
        if self.unit_stage and stage in (self.unit_stage, "startup", "done"):
            self.bar.total, self.bar.n = total, done
        elif stage in self.stages and worker is None:
            self.bar.n = self.stages.index(stage)
        elif stage == "done":
            self.bar.n = self.bar.total
        self.bar.set_description_str(stage, refresh=False)
        self.bar.update(0)
