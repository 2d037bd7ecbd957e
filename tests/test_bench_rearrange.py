"""scripts/bench_rearrange.py: the interval around a teacher-alone success rate, against scipy's Wilson interval
(an independent implementation) and the rate's bounds; the order, means and resumption of the interleaved
training-speed runs (with stand-in measurements: what the bench does with them, not what they measure)."""

from __future__ import annotations

import sys

import pytest

from helpers import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_rearrange  # noqa: E402

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("successes, episodes", [(11, 20), (12, 20), (0, 20), (20, 20), (1, 1), (29, 50)])
def test_wilson_interval_matches_scipy(successes: int, episodes: int) -> None:
    expected = scipy_stats.binomtest(successes, episodes).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = bench_rearrange.wilson_interval(successes, episodes)
    assert low == pytest.approx(expected.low, abs=1e-6)
    assert high == pytest.approx(expected.high, abs=1e-6)
    assert 0.0 <= low <= successes / episodes <= high <= 1.0


@pytest.mark.parametrize("successes, episodes", [(3, 0), (-1, 20), (21, 20)])
def test_wilson_interval_rejects_impossible_counts(successes: int, episodes: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        bench_rearrange.wilson_interval(successes, episodes)


def _args(tmp_path, **changes):
    import argparse

    values = dict(episodes=20, split="val", envs=2, updates=40, steps=32, sps_repeats=3, model="", override=[], fresh=False)
    values.update(changes)
    return argparse.Namespace(**values)


def test_the_sps_arms_run_interleaved_each_as_often_first_and_a_rerun_reuses_what_finished(tmp_path, capsys) -> None:
    order: list[str] = []

    def arm(name: str, speeds: list[float]):
        def measure(run_dir):
            order.append(run_dir.name)
            return {"sps": speeds[len([o for o in order if o.startswith(name + "_")]) - 1]}
        return measure

    measures = {"sps_teacher_on": arm("sps_teacher_on", [9.0, 12.0, 15.0]), "sps_teacher_off": arm("sps_teacher_off", [10.0, 20.0, 30.0])}
    results = bench_rearrange.interleaved_sps(tmp_path, _args(tmp_path), measures)
    assert order == ["sps_teacher_on_run1", "sps_teacher_off_run1", "sps_teacher_off_run2", "sps_teacher_on_run2",
                     "sps_teacher_on_run3", "sps_teacher_off_run3"]
    assert results["sps_teacher_on"]["sps"] == 12.0 and results["sps_teacher_off"]["sps"] == 20.0
    assert [r["sps"] for r in results["sps_pairs"]["sps_teacher_off"]] == [10.0, 20.0, 30.0]

    # Resumable: the finished runs are read back, not measured again; a run with other settings is measured again.
    order.clear()
    assert bench_rearrange.interleaved_sps(tmp_path, _args(tmp_path), measures)["sps_teacher_on"]["sps"] == 12.0
    assert order == []
    bench_rearrange.interleaved_sps(tmp_path, _args(tmp_path, updates=10, sps_repeats=1), measures)
    assert order == ["sps_teacher_on_run1", "sps_teacher_off_run1"]
