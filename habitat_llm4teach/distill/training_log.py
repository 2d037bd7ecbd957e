"""What the llm4teach trainer reports once per log interval (``L4TTrainer._training_log``).

habitat-baselines' ``PPOTrainer._training_log`` writes every metric to TensorBoard and prints four long
text lines; ours keeps every TensorBoard scalar and replaces the text with one short line. This module
owns that report:

- ``ScalarsWithoutNaN``: the TensorBoard writer habitat's method (and ours) writes through. A NaN is a
  statistic with nothing to measure (agreement when the teacher guided no step, server latency with no
  request): it is skipped rather than drawn. Skipping happens only here, at write time, because DD-PPO
  all-reduces the losses dict as one sorted vector, so every rank must keep the same keys.
  The writer remembers what it wrote, so the text line shows exactly what TensorBoard got.
- ``habitat_text_lines_hidden``: hides habitat's text lines while its ``_training_log`` runs.
- ``progress_line`` / ``parse_progress_lines``: the one line, e.g.
  ``update 120  step 61440  fps 210.4  success 0.83  return 0.71  lambda 9.995  guided 0.97  agree 0.64  distill_loss 0.120``
  and its reader (tests, benchmark scripts). A value not measured yet shows as ``-``.
"""

from __future__ import annotations

import logging
import math
import re
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Optional

from habitat import logger as habitat_logger

# The line's fields in order: name -> format of the value. update and step are counts, the rest rates.
LINE_FIELDS: dict[str, str] = {
    "update": "{:.0f}",
    "step": "{:.0f}",
    "fps": "{:.1f}",
    "success": "{:.2f}",
    "return": "{:.2f}",
    "lambda": "{:.3f}",  # the paper schedule moves by 0.005 per update
    "guided": "{:.2f}",
    "agree": "{:.2f}",  # share of guided steps where the student picks the teacher's action
    "distill_loss": "{:.3f}",
}
NOT_MEASURED = "-"
_FIELD_SEPARATOR = "  "
_LINE = re.compile(r"\bupdate (\d+)  step (\d+)  (.*)$", re.MULTILINE)


class ScalarsWithoutNaN:
    """Wraps habitat's TensorboardWriter: ``add_scalar`` skips NaN values and records the last value per tag."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.last: dict[str, float] = {}  # tag -> last value written
        self.skipped: list[str] = []  # tags whose value was NaN, in call order

    def add_scalar(self, tag: str, value: Any, *args: Any, **kwargs: Any) -> None:
        number = float(value)  # habitat passes floats, numpy scalars and 0-d tensors
        if math.isnan(number):
            self.skipped.append(tag)
            return
        self.last[tag] = number
        self._writer.add_scalar(tag, value, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Everything else (videos, flush, close) goes to habitat's writer unchanged.
        return getattr(self._writer, name)


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


@contextmanager
def habitat_text_lines_hidden() -> Iterator[None]:
    """Drop habitat's INFO lines (its log-interval text) while the block runs; warnings still show."""
    drop_info = _BelowWarning()
    habitat_logger.addFilter(drop_info)
    try:
        yield
    finally:
        habitat_logger.removeFilter(drop_info)


def progress_line(values: Mapping[str, Optional[float]]) -> str:
    """One line of ``LINE_FIELDS`` in order; a field missing, None or NaN prints as ``-``."""
    unknown = set(values) - set(LINE_FIELDS)
    if unknown:
        raise KeyError(f"progress_line has no field(s) {sorted(unknown)}; fields: {list(LINE_FIELDS)}")
    parts = []
    for name, fmt in LINE_FIELDS.items():
        value = values.get(name)
        shown = NOT_MEASURED if value is None or math.isnan(value) else fmt.format(value)
        parts.append(f"{name} {shown}")
    return _FIELD_SEPARATOR.join(parts)


def parse_progress_lines(text: str) -> list[dict[str, Optional[float]]]:
    """Every progress line in ``text`` (a log or captured output), as ``{field: value or None}``."""
    lines = []
    for match in _LINE.finditer(text):
        values: dict[str, Optional[float]] = {"update": float(match.group(1)), "step": float(match.group(2))}
        for part in match.group(3).split(_FIELD_SEPARATOR):
            name, _, shown = part.strip().partition(" ")
            if name in LINE_FIELDS:
                values[name] = None if shown == NOT_MEASURED else float(shown)
        lines.append(values)
    return lines
