"""The plan cache: hits and misses, JSON persistence, read-only use, bad files."""

from __future__ import annotations

import json

import pytest

from habitat_llm4teach.teacher.cache import CacheKey, PlanCache, PlanCacheError
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall

KEY = CacheKey("Agent sees <yellow key>, holds <nothing>. Goal: open the door.", "m", "v1", "score")
ANSWER = PlanDistribution((Plan((SkillCall("pick up", "yellow key"),), 0.75), Plan((SkillCall("explore"),), 0.25)), invalid=1)


def test_hits_misses_and_source():
    cache = PlanCache()
    assert cache.get(KEY) is None
    cache.put(KEY, ANSWER)
    hit = cache.get(KEY)
    assert hit.plans == ANSWER.plans and hit.source == "cache" and hit.invalid == 1
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)
    assert cache.get(CacheKey(KEY.description, "other-model", "v1", "score")) is None


def test_json_roundtrip_is_readable(tmp_path):
    path = tmp_path / "plans.json"
    cache = PlanCache(path)
    cache.put(KEY, ANSWER)
    cache.save()
    data = json.loads(path.read_text())
    assert data["entries"][0]["plans"][0]["plan"] == "pick up yellow key"
    assert PlanCache(path, read_only=True).get(KEY).plans == ANSWER.plans


def test_read_only_never_writes(tmp_path):
    path = tmp_path / "plans.json"
    writer = PlanCache(path)
    writer.put(KEY, ANSWER)
    writer.save()
    before = path.read_text()
    reader = PlanCache(path, read_only=True)
    reader.put(CacheKey("other", "m", "v1", "score"), ANSWER)
    reader.save()
    assert path.read_text() == before
    with pytest.raises(PlanCacheError, match="does not exist"):
        PlanCache(tmp_path / "missing.json", read_only=True)


def test_corrupt_cache_file(tmp_path):
    path = tmp_path / "plans.json"
    path.write_text("{not json")
    with pytest.raises(PlanCacheError, match="cannot read plan cache"):
        PlanCache(path)
    path.write_text(json.dumps({"format": 99, "entries": []}))
    with pytest.raises(PlanCacheError, match="format 99"):
        PlanCache(path)
