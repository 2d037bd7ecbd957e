"""Where a teacher's plans come from: the :class:`PlanSource` interface and its in-process implementation.

A teacher (teacher/guidance.py's ``Teacher``) turns observations into plan queries
(``teacher/types.PlanQuery``) and asks its plan source for their plan distributions.
Two sources exist, chosen by ``llm4teach.teacher.server.enabled``:

- :class:`LocalPlanSource` (here): the planner in this process, blocking, cache first.
- ``RemotePlanSource`` (server/remote.py): the node's inference server, non-blocking by
  default: a query without an answer yet gets ``None`` and its step goes unguided.

Both count ``teacher/plan_cache_hit_rate`` the same way: the share of lookups
answered from a plan cache (the planner's; through the server, the answer table of
this rank or the server's cache); a lookup that runs or waits for the LLM is a miss.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Optional, Sequence

from habitat_llm4teach.teacher.planner import Planner, PromptSet, build_planner
from habitat_llm4teach.teacher.types import PlanDistribution, PlanQuery

# The hit rate every plan source reports, logged under the module's name.
PLAN_CACHE_HIT_RATE = "teacher/plan_cache_hit_rate"


class HitCounter:
    """Plan-cache hits among lookups, between two ``pop`` calls."""

    def __init__(self) -> None:
        self.hits = self.lookups = 0

    def count(self, answer: PlanDistribution) -> None:
        self.lookups += 1
        self.hits += answer.source == "cache"

    def pop(self) -> float:
        rate = self.hits / self.lookups if self.lookups else float("nan")
        self.hits = self.lookups = 0
        return rate


class PlanSource(ABC):
    """Plan distributions for a batch of queries; ``None`` for a query not answered yet (its step is unguided)."""

    @abstractmethod
    def plans(self, queries: Sequence[PlanQuery]) -> list[Optional[PlanDistribution]]: ...

    @abstractmethod
    def pop_stats(self) -> dict[str, float]:
        """The source's statistics since the last call (always the same keys: DD-PPO all-reduces them)."""

    def llm_at_work(self) -> bool:
        """Whether an LLM is computing answers to this source's queries now, outside the caller's process.

        False for a source that answers before returning (the in-process planner)."""
        return False

    @property
    @abstractmethod
    def cache_path(self) -> Optional[str]:
        """The plan cache file, absolute (None: in memory only)."""

    @abstractmethod
    def save(self) -> None:
        """Persist the plan cache now."""

    @abstractmethod
    def close(self) -> None:
        """End of training: save what is unsaved and release processes or sockets."""


class LocalPlanSource(PlanSource):
    """The planner in this process: every query answered before returning (the LLM runs here, blocking)."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self._hits = HitCounter()

    def plans(self, queries: Sequence[PlanQuery]) -> list[Optional[PlanDistribution]]:
        answers = []
        for query in queries:  # one by one: a repeated description is a cache hit the second time
            answer = self.planner.plan(query)
            self._hits.count(answer)
            answers.append(answer)
        return answers

    def pop_stats(self) -> dict[str, float]:
        return {PLAN_CACHE_HIT_RATE: self._hits.pop()}

    @property
    def cache_path(self) -> Optional[str]:
        path = self.planner.cache.path
        return None if path is None else str(path.resolve())

    def save(self) -> None:
        self.planner.cache.save()

    def close(self) -> None:
        self.planner.cache.save()


# (teacher config, prompt set) -> plan source; an env's teacher calls it once the env passed its checks.
SourceFactory = Callable[[Any, PromptSet], PlanSource]


def local_source(teacher_config: Any, prompts: PromptSet) -> PlanSource:
    """The planner in this process (loads the LLM): every teacher's plan source unless the server is asked for."""
    return LocalPlanSource(build_planner(teacher_config, prompts))
