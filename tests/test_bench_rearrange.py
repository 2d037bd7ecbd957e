"""scripts/bench_rearrange.py's interval around a teacher-alone success rate, against scipy's Wilson interval
(an independent implementation) and the rate's bounds."""

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
