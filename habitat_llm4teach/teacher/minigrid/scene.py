"""Description text -> scene: the inverse of describe.py, for the query command and labelled sets.

Rebuilds the perceived objects, the held object and the mission from a
description such as ``Agent sees <yellow key>, <yellow door (locked)>, holds
<nothing>. Goal: open the door.``; positions are unknown (0, 0), which is all
candidate-skill generation and plan validation need.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np

from habitat_llm4teach.teacher.minigrid.perception import KINDS
from habitat_llm4teach.teacher.minigrid.types import PerceivedObject, Perception

_DESCRIPTION = re.compile(r"Agent sees (?P<sees>.*?), holds <(?P<holds>[^>]*)>\.\s*(?:Goal: (?P<goal>.*?)\.?\s*)?$")
_OBJECT = re.compile(r"^(?P<name>[a-z ]+?)(?: \((?P<state>open|closed|locked)\))?$")


class DescriptionError(ValueError):
    """Text that is not in the description format."""


def _object(text: str) -> PerceivedObject:
    match = _OBJECT.match(text.strip().lower())
    if match is None or match["name"].split()[-1] not in KINDS:
        raise DescriptionError(f"cannot read object <{text}>; expected '<colour kind>' with kind in {KINDS}")
    *color, kind = match["name"].split()
    return PerceivedObject(kind, " ".join(color), (0, 0), match["state"])


def scene_from_description(text: str) -> Perception:
    match = _DESCRIPTION.match(text.strip())
    if match is None:
        raise DescriptionError(
            f"'{text}' is not a description like 'Agent sees <yellow key>, <yellow door (locked)>, holds <nothing>. "
            "Goal: open the door.'"
        )
    if not re.fullmatch(r"<[^<>]+>(?:, <[^<>]+>)*", match["sees"]):
        raise DescriptionError(f"cannot read the seen objects '{match['sees']}'; expected '<a>, <b>, ...'")
    seen = re.findall(r"<([^>]*)>", match["sees"])
    objects = tuple(_object(s) for s in seen if s.strip().lower() != "nothing")
    holding: Optional[PerceivedObject] = None if match["holds"].strip().lower() == "nothing" else _object(match["holds"])
    return Perception(objects, holding, (0, 0), 0, np.zeros((1, 1, 3), dtype=np.uint8), (match["goal"] or "").strip())
