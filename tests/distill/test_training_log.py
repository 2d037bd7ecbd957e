"""The llm4teach trainer's log-interval report: one progress line, every scalar habitat writes, no NaN in TensorBoard."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict, deque

import pytest
import torch
from habitat import logger as habitat_logger

from habitat_llm4teach.distill.trainer import L4TTrainer
from habitat_llm4teach.distill.training_log import (
    LINE_FIELDS,
    ScalarsWithoutNaN,
    habitat_text_lines_hidden,
    parse_progress_lines,
    progress_line,
)
from habitat_llm4teach.distill.updater import DISTILL_AGREEMENT, DISTILL_GUIDED_FRAC, DISTILL_LAMBDA, DISTILL_LOSS

NAN = float("nan")


class RecordingWriter:
    """Stands in for habitat's TensorboardWriter: records every add_scalar call."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.flushed = False

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, float(value), step))

    def flush(self):
        self.flushed = True


class RecordedLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def habitat_lines():
    handler = RecordedLines()
    habitat_logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        habitat_logger.removeHandler(handler)


# -- the line ------------------------------------------------------------------------------------------


def test_progress_line_is_one_short_line_with_every_field_in_order():
    line = progress_line({"update": 120, "step": 61440, "fps": 210.4, "success": 0.834, "return": 0.71,
                          "lambda": 9.4, "guided": 0.97, "agree": 0.64, "distill_loss": 0.1234})
    assert line == ("update 120  step 61440  fps 210.4  success 0.83  return 0.71  lambda 9.400  guided 0.97  "
                    "agree 0.64  distill_loss 0.123")
    assert "\n" not in line and len(line) < 120


def test_unmeasured_fields_show_a_dash_never_nan():
    line = progress_line({"update": 1, "step": 32, "fps": 4.0, "success": None, "agree": NAN})
    assert "success -" in line and "agree -" in line and "return -" in line
    assert "nan" not in line.lower()


def test_unknown_field_is_an_error():
    with pytest.raises(KeyError, match="loss_typo"):
        progress_line({"update": 1, "loss_typo": 0.5})


def test_parse_reads_back_every_line_of_a_log():
    first = progress_line({"update": 1, "step": 32, "fps": 4.0, "lambda": 10.0, "distill_loss": 0.5})
    second = progress_line({"update": 2, "step": 64, "fps": 5.5, "success": 0.5, "lambda": 9.995})
    log = f"2026-01-01 00:00:00,000 {first}\nsomething else\nupdate: 2\tfps: 5.5\n2026-01-01 00:00:01,000 {second}\n"
    parsed = parse_progress_lines(log)
    assert [p["update"] for p in parsed] == [1, 2]
    assert parsed[0]["lambda"] == 10.0 and parsed[0]["success"] is None and parsed[0]["distill_loss"] == 0.5
    assert parsed[1]["lambda"] == 9.995 and parsed[1]["fps"] == 5.5 and parsed[1]["step"] == 64
    assert set(parsed[1]) == set(LINE_FIELDS)


# -- TensorBoard -----------------------------------------------------------------------------------------


def test_nan_scalars_are_skipped_and_the_rest_pass_through():
    writer = RecordingWriter()
    scalars = ScalarsWithoutNaN(writer)
    scalars.add_scalar("teacher/server/latency_p95_ms", NAN, 32)
    scalars.add_scalar("learner/distill/loss", torch.tensor(0.25), 32)
    scalars.add_scalar("perf/fps", 210.0, 32)
    assert writer.scalars == [("learner/distill/loss", 0.25, 32), ("perf/fps", 210.0, 32)]
    assert scalars.last == {"learner/distill/loss": 0.25, "perf/fps": 210.0}
    assert scalars.skipped == ["teacher/server/latency_p95_ms"]
    scalars.flush()  # everything else reaches habitat's writer
    assert writer.flushed


def test_habitats_info_lines_are_hidden_only_inside_the_block(habitat_lines):
    with habitat_text_lines_hidden():
        habitat_logger.info("update: 1\tfps: 4.000")
        habitat_logger.warning("a warning still shows")
    habitat_logger.info("after the block")
    assert habitat_lines == ["a warning still shows", "after the block"]


# -- the trainer's _training_log -------------------------------------------------------------------------


def _trainer(composed, num_updates_done: int, num_steps_done: int) -> L4TTrainer:
    trainer = L4TTrainer(composed("minigrid/llm4teach", ["habitat_baselines.log_interval=1"]))
    trainer.num_updates_done, trainer.num_steps_done = num_updates_done, num_steps_done
    trainer.t_start = time.time() - 10.0
    trainer._single_proc_infos = {}
    # habitat's window of cumulative episode stats: 4 episodes ended, 3 successes, return 2.0 in all.
    trainer.window_episode_stats = defaultdict(deque)
    for name, before, after in (("count", 2.0, 6.0), ("reward", 1.0, 3.0), ("success", 1.0, 4.0)):
        trainer.window_episode_stats[name].extend([torch.tensor([[before]]), torch.tensor([[after]])])
    return trainer


def test_training_log_writes_habitats_scalars_without_nan_and_prints_one_line(composed, habitat_lines):
    trainer = _trainer(composed, num_updates_done=3, num_steps_done=96)
    writer = RecordingWriter()
    losses = {
        "value_loss": 0.5, "action_loss": -0.01,
        DISTILL_LAMBDA: 9.99, DISTILL_LOSS: 0.12, DISTILL_GUIDED_FRAC: 0.0,
        DISTILL_AGREEMENT: NAN,  # the teacher guided no step: nothing to agree on
        "teacher/guided_frac": 0.0, "teacher/server/latency_p95_ms": NAN,  # no request answered
    }
    trainer._training_log(writer, losses)

    written = {tag: value for tag, value, _ in writer.scalars}
    assert not any(math.isnan(value) for value in written.values())
    assert {"reward", "metrics/success", "perf/fps", "learner/value_loss", "learner/action_loss",
            "learner/distill/lambda", "learner/distill/loss", "learner/distill/guided_frac", "teacher/guided_frac"} <= set(written)
    assert "learner/distill/agreement" not in written and "teacher/server/latency_p95_ms" not in written
    assert {step for _, _, step in writer.scalars} == {96}
    assert written["metrics/success"] == pytest.approx(0.75) and written["reward"] == pytest.approx(0.5)

    assert len(habitat_lines) == 1, habitat_lines  # habitat's four text lines are replaced by ours
    (line,) = parse_progress_lines(habitat_lines[0])
    assert line["update"] == 3 and line["step"] == 96 and line["fps"] == pytest.approx(written["perf/fps"], abs=0.05)
    assert line["success"] == 0.75 and line["return"] == 0.5
    assert line["lambda"] == 9.99 and line["guided"] == 0.0 and line["agree"] is None and line["distill_loss"] == 0.12


def test_before_any_episode_ends_success_and_return_are_not_measured(composed, habitat_lines):
    trainer = _trainer(composed, num_updates_done=1, num_steps_done=32)
    for name in ("count", "reward", "success"):
        trainer.window_episode_stats[name] = deque([torch.tensor([[0.0]])])
    trainer._training_log(RecordingWriter(), {DISTILL_LAMBDA: 10.0})
    (line,) = parse_progress_lines("\n".join(habitat_lines))
    assert line["success"] is None and line["return"] is None and line["lambda"] == 10.0
