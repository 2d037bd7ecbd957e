"""lambda schedules: values, switch-off, adaptive fade, state round trips, clear errors."""

from __future__ import annotations

import math

import pytest

from habitat_llm4teach.config.structured import DistillConfig
from habitat_llm4teach.distill.schedules import (
    SCHEDULES,
    AdaptiveSchedule,
    ExponentialSchedule,
    LinearSchedule,
    NoDistillation,
    PaperSchedule,
    build_schedule,
)


def test_paper_schedule_defaults_are_the_papers():
    schedule = build_schedule(DistillConfig())
    assert isinstance(schedule, PaperSchedule)
    assert schedule.value(0) == 10.0
    assert schedule.value(1) == pytest.approx(9.995)
    assert schedule.value(1000) == pytest.approx(5.0)
    assert schedule.value(1980) == pytest.approx(0.1)
    assert schedule.value(10**6) == 0.1  # floor, never switched off by default


def test_paper_schedule_switches_off_after_off_after_updates():
    schedule = PaperSchedule(off_after=3)
    assert [schedule.value(n) for n in range(5)] == pytest.approx([10.0, 9.995, 9.99, 0.0, 0.0])
    assert PaperSchedule(off_after=0).value(0) == 0.0


def test_linear_schedule_goes_from_start_to_floor():
    schedule = LinearSchedule(start=2.0, floor=0.5, linear_updates=3)
    assert [schedule.value(n) for n in range(5)] == pytest.approx([2.0, 1.5, 1.0, 0.5, 0.5])


def test_exponential_schedule_decays_to_its_floor():
    schedule = ExponentialSchedule(start=8.0, floor=1.5, decay_rate=0.5)
    assert [schedule.value(n) for n in range(5)] == pytest.approx([8.0, 4.0, 2.0, 1.5, 1.5])


def test_adaptive_schedule_is_paper_until_the_student_beats_the_teacher_then_fades_to_the_floor():
    schedule = AdaptiveSchedule(teacher_success=0.6, margin=0.1, fade_updates=4, floor=0.5)
    paper = PaperSchedule(floor=0.5)
    schedule.observe(0.65, num_updates_done=0)  # better than the teacher, not by the margin
    assert schedule.value(5) == paper.value(5)
    schedule.observe(0.71, num_updates_done=10)
    assert schedule.fade_start == 10
    assert schedule.value(10) == pytest.approx(paper.value(10))
    assert schedule.value(12) == pytest.approx(0.5 + (paper.value(12) - 0.5) * 0.5)
    assert schedule.value(14) == 0.5 and schedule.value(100) == 0.5
    assert not schedule.is_off(100)  # the floor keeps the teacher asked
    schedule.observe(0.0, num_updates_done=20)  # once started, the fade runs to the end
    assert schedule.fade_start == 10 and schedule.value(20) == 0.5


def test_adaptive_schedule_with_a_zero_floor_fades_off_and_retires_the_teacher():
    schedule = AdaptiveSchedule(teacher_success=0.6, margin=0.1, fade_updates=4, floor=0.0)
    schedule.observe(0.8, num_updates_done=10)
    assert schedule.value(12) == pytest.approx(PaperSchedule(floor=0.0).value(12) * 0.5)
    assert schedule.value(14) == 0.0 and schedule.is_off(14) and not schedule.is_off(13)


def test_a_negative_margin_fades_once_the_student_nears_a_teacher_it_cannot_exceed():
    schedule = AdaptiveSchedule(teacher_success=1.0, margin=-0.05, fade_updates=2)
    schedule.observe(0.95, num_updates_done=3)  # within 0.05 but not past teacher - 0.05
    assert schedule.fade_start is None
    schedule.observe(0.96, num_updates_done=4)
    assert schedule.fade_start == 4 and schedule.value(5) == pytest.approx(0.1 + (PaperSchedule().value(5) - 0.1) * 0.5)
    assert schedule.value(6) == pytest.approx(0.1) and not schedule.is_off(6)


def test_adaptive_schedule_keeps_the_paper_switch_off():
    schedule = AdaptiveSchedule(teacher_success=0.9, off_after=2)
    assert schedule.value(1) > 0 and schedule.value(2) == 0.0


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_round_trip_continues_exactly(name):
    config = DistillConfig(schedule=name, teacher_success=0.5, fade_updates=10)
    first = build_schedule(config)
    for n in range(7):
        first.observe(0.2 if n < 4 else 0.9, n)
    resumed = build_schedule(config)
    resumed.load_state_dict(first.state_dict())
    assert resumed.state_dict() == first.state_dict()
    assert [resumed.value(n) for n in range(7, 30)] == [first.value(n) for n in range(7, 30)]
    if name == "adaptive":
        assert resumed.fade_start == 4


def test_loading_another_schedules_state_is_a_clear_error():
    with pytest.raises(ValueError, match="schedule 'linear' into a 'paper' schedule"):
        PaperSchedule().load_state_dict(LinearSchedule().state_dict())


@pytest.mark.parametrize(
    "overrides,message",
    [
        (dict(schedule="cosine"), "llm4teach.distill.schedule must be one of"),
        (dict(start=-1.0), "llm4teach.distill.start"),
        (dict(floor=20.0), "llm4teach.distill.floor"),
        (dict(start=math.nan), "llm4teach.distill.start"),
        (dict(decay_per_update=-0.1), "llm4teach.distill.decay_per_update"),
        (dict(off_after=-2), "llm4teach.distill.off_after"),
        (dict(schedule="linear", linear_updates=0), "llm4teach.distill.linear_updates"),
        (dict(schedule="exponential", decay_rate=1.5), "llm4teach.distill.decay_rate"),
        (dict(schedule="adaptive"), "llm4teach.distill.teacher_success"),
        (dict(schedule="adaptive", teacher_success=1.2), "llm4teach.distill.teacher_success"),
        (dict(schedule="adaptive", teacher_success=0.5, fade_updates=0), "llm4teach.distill.fade_updates"),
        (dict(schedule="adaptive", teacher_success=0.5, margin=-1.5), "llm4teach.distill.margin"),
        (dict(schedule="adaptive", teacher_success=0.5, margin=math.nan), "llm4teach.distill.margin"),
    ],
)
def test_bad_schedule_name_or_parameter_is_a_value_error_naming_it(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(DistillConfig(**overrides))


def test_negative_update_count_and_bad_success_rate_are_rejected():
    with pytest.raises(ValueError, match="num_updates_done"):
        PaperSchedule().value(-1)
    with pytest.raises(ValueError, match="student_success"):
        AdaptiveSchedule(teacher_success=0.5).observe(1.5, 0)


def test_is_off_exactly_when_lambda_stays_zero():
    paper = PaperSchedule(off_after=3)
    assert [paper.is_off(n) for n in range(5)] == [False, False, False, True, True]
    assert not any(PaperSchedule().is_off(n) for n in (0, 10**6))  # floor > 0: never off
    assert not LinearSchedule(floor=0.0).is_off(10**6)  # lambda is 0 there, but only the switch-off counts
    adaptive = AdaptiveSchedule(teacher_success=0.5, fade_updates=2, floor=0.0)
    adaptive.observe(0.9, 10)
    assert [adaptive.is_off(n) for n in (10, 11, 12)] == [False, False, True]
    assert adaptive.value(12) == 0.0
    at_floor = AdaptiveSchedule(teacher_success=0.5, fade_updates=2)  # floor 0.1: faded, never off
    at_floor.observe(0.9, 10)
    assert not at_floor.is_off(10**6) and at_floor.value(10**6) == pytest.approx(0.1)


def test_none_schedule_is_plain_ppo():
    schedule = build_schedule(DistillConfig(schedule="none"))
    assert isinstance(schedule, NoDistillation)
    assert schedule.value(0) == 0.0 and schedule.is_off(0)
