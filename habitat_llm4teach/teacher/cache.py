"""The plan cache: one planner answer per (description, model, prompt version, mode).

In memory, and persisted as readable JSON so that a later run can load it
read-only and train without any LLM (the paper's offline plan tables, produced
by our own model). Hit and miss counts are exposed for logging.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CacheKey:
    description: str
    model: str
    prompt_version: str
    mode: str


class PlanCacheError(RuntimeError):
    """A plan cache file that cannot be read or written."""


def _plan_to_json(plan: Plan) -> dict:
    return {"plan": plan.text, "skills": [[s.skill, s.target] for s in plan.steps], "prob": plan.prob}


def _plan_from_json(entry: dict) -> Plan:
    return Plan(tuple(SkillCall(skill, target) for skill, target in entry["skills"]), float(entry["prob"]))


class PlanCache:
    def __init__(self, path: Optional[str | os.PathLike] = None, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self.hits = 0
        self.misses = 0
        self._entries: dict[CacheKey, PlanDistribution] = {}
        self._unsaved = False
        self._lock = threading.Lock()
        if self.path is not None and self.path.exists():
            self._load()
        elif read_only:
            raise PlanCacheError(f"read-only plan cache '{self.path}' does not exist")

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def get(self, key: CacheKey) -> Optional[PlanDistribution]:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            return PlanDistribution(found.plans, found.invalid, source="cache")

    def put(self, key: CacheKey, answer: PlanDistribution) -> None:
        if self.read_only:
            return
        with self._lock:
            self._entries[key] = answer
            self._unsaved = True

    def save(self) -> None:
        """Write the JSON file atomically when it has new entries (no-op without a path or when read-only)."""
        if self.path is None or self.read_only or not self._unsaved:
            return
        with self._lock:
            self._unsaved = False
            entries = [
                {
                    "description": k.description, "model": k.model, "prompt_version": k.prompt_version, "mode": k.mode,
                    "plans": [_plan_to_json(p) for p in v.plans], "invalid": v.invalid,
                }
                for k, v in sorted(self._entries.items(), key=lambda kv: (kv[0].mode, kv[0].description))
            ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({"format": FORMAT_VERSION, "entries": entries}, f, indent=1)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the table is meant to be shared and read
        os.replace(tmp, self.path)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            if data.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT_VERSION}")
            for e in data["entries"]:
                key = CacheKey(e["description"], e["model"], e["prompt_version"], e["mode"])
                self._entries[key] = PlanDistribution(tuple(_plan_from_json(p) for p in e["plans"]), int(e["invalid"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PlanCacheError(f"cannot read plan cache '{self.path}': {type(error).__name__}: {error}") from error
