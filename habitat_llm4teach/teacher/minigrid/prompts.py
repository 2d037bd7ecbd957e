"""The planner's prompt set for MiniGrid: system prompt, worked examples, queries, parser.

A query (:func:`query_of`) is a perception's description and facts, its candidate
next skills (``describe.py``) and the names each skill may target (``parse.py``). The examples'
queries are generated from their descriptions (``scene.py``) the same way, so
examples and queries cannot drift apart. Bump ``PROMPT_VERSION`` on any change
here: it is part of the plan-cache key.
"""

from __future__ import annotations

from typing import Optional

from habitat_llm4teach.teacher.minigrid.describe import candidate_skills, describe, facts
from habitat_llm4teach.teacher.minigrid.parse import allowed_targets, parse_steps
from habitat_llm4teach.teacher.minigrid.scene import scene_from_description
from habitat_llm4teach.teacher.minigrid.types import SKILL_NAMES, Perception
from habitat_llm4teach.teacher.planner import PromptSet
from habitat_llm4teach.teacher.types import PlanQuery

PROMPT_SET_NAME = "minigrid"

PROMPT_VERSION = "minigrid-v6"

SYSTEM_PROMPT = """You plan for an agent in a grid world. You get what the agent sees and holds, its goal, facts about them, and the skills it can use now. Answer with the skill the agent should do next, written exactly as in the list.
The agent holds at most one object. A locked door opens only if the agent holds the key of the same colour; a closed door that is not locked opens without a key. pick up X walks to X and picks it up; open X walks to door X and opens it; go to X walks onto X; explore searches places not seen yet. Only keys of locked doors and what the goal names are ever needed; other balls, boxes, keys and lava are not.
Decide with these rules; the first rule that matches gives the answer:
1. A fact says the key you hold opens a locked door: open that door.
2. The goal square is seen and the goal is to get to it: go to it.
3. The object the goal names is seen: pick it up, or drop what you hold if your hands are full.
4. You see a closed door that is not locked: open that door.
5. A fact says a key you see opens a locked door: pick up that key, or drop what you hold if your hands are full.
6. You hold nothing, see a key, and see no locked door: pick up that key.
7. Otherwise: explore."""

# (description, next skill, whole plan), one per rule and a few for the order of the rules; the facts and the
# candidate skills shown with each are generated like the query's. No description here is in a labelled set.
EXAMPLES = (
    ("Agent sees <purple key>, <purple door (locked)>, holds <green key>. Goal: open the door.",
     "drop green key", "drop green key, pick up purple key, open purple door"),
    ("Agent sees <nothing>, holds <nothing>. Goal: get to the blue goal square.",
     "explore", "explore, go to blue goal"),
    ("Agent sees <green door (locked)>, <purple box>, holds <nothing>. Goal: open the door.",
     "explore", "explore, pick up green key, open green door"),
    ("Agent sees <purple key>, <grey door (locked)>, holds <nothing>. Goal: open the door.",
     "explore", "explore, pick up grey key, open grey door"),
    ("Agent sees <red key>, <yellow key>, <yellow door (locked)>, holds <nothing>. Goal: open the door.",
     "pick up yellow key", "pick up yellow key, open yellow door"),
    ("Agent sees <yellow key>, <blue ball>, <yellow door (locked)>, holds <nothing>. Goal: open the door.",
     "pick up yellow key", "pick up yellow key, open yellow door"),
    ("Agent sees <blue door (closed)>, holds <nothing>. Goal: open the door.",
     "open blue door", "open blue door"),
    ("Agent sees <red ball>, holds <yellow key>. Goal: open the door.",
     "explore", "explore, open yellow door"),
    ("Agent sees <grey door (locked)>, <red box>, holds <grey key>. Goal: open the door.",
     "open grey door", "open grey door"),
)


def query_text(perception: Perception, description: Optional[str] = None) -> str:
    """What the LLM reads for ``perception``: its description (or the given text) and, on the next line, the facts."""
    text = describe(perception) if description is None else description
    stated = facts(perception)
    return f"{text}\n{stated}" if stated else text


def query_of(perception: Perception, description: Optional[str] = None) -> PlanQuery:
    """What the planner is asked for ``perception``: its description (or the given text), candidates, targets."""
    return PlanQuery.make(query_text(perception, description), candidate_skills(perception), allowed_targets(perception))


def query_from_description(text: str) -> PlanQuery:
    """The query for a description typed or recorded as text (scene.py reads it; DescriptionError otherwise)."""
    return query_of(scene_from_description(text), text.strip())


MINIGRID_PROMPTS = PromptSet(
    PROMPT_SET_NAME, PROMPT_VERSION, SKILL_NAMES, SYSTEM_PROMPT,
    tuple((query_from_description(text), next_skill, plan) for text, next_skill, plan in EXAMPLES),
    parse_steps, query_of,
)
