"""Description text back to a scene (query command, labelled sets)."""

import pytest

from habitat_llm4teach.teacher.minigrid.scene import DescriptionError, scene_from_description


def test_reads_objects_states_holding_and_goal():
    scene = scene_from_description("Agent sees <yellow key>, <blue door (locked)>, <lava>, holds <red key>. Goal: open the door.")
    assert [(o.kind, o.color, o.state) for o in scene.objects] == [("key", "yellow", None), ("door", "blue", "locked"), ("lava", "", None)]
    assert scene.holding.name == "red key"
    assert scene.mission == "open the door"


def test_nothing_seen_nothing_held():
    scene = scene_from_description("Agent sees <nothing>, holds <nothing>. Goal: get to the green goal square.")
    assert scene.objects == () and scene.holding is None


@pytest.mark.parametrize("text", ["", "hello", "Agent sees <purple unicorn>, holds <nothing>.", "Agent sees <key, holds <nothing>."])
def test_rejects_other_text(text):
    with pytest.raises(DescriptionError):
        scene_from_description(text)
