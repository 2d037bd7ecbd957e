"""scripts/probe_rearrange_skills.py: where each episode's object starts or goes, read from the episode as habitat
loads it, and the kind of receptacle its success is counted under.

The episode fields are copied from the rearrange test pack's train split (episodes 0, 1, 19 and 5), so the
parsing is checked against the dataset's own spelling, not against names made up here."""

from __future__ import annotations

import sys
import types

from helpers import REPO

sys.path.insert(0, str(REPO / "scripts"))
import probe_rearrange_skills as probe  # noqa: E402


def _episode(target: str, receptacle: str, ao_states: dict, goal: list) -> types.SimpleNamespace:
    return types.SimpleNamespace(targets={target: [[1.0, 0.0, 0.0, 0.0]]}, name_to_receptacle={target: receptacle},
                                 ao_states=ao_states, goal_receptacles=[goal])


CLOSED_COUNTER = {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0, "5": 0.0, "6": 0.0}
IN_OPEN_DRAWER = _episode(
    "013_apple_:0000", "kitchen_counter_:0000|receptacle_aabb_drawer_middle_top_frl_apartment_kitchen_counter",
    {"fridge_:0000": {"2": 0.0}, "kitchen_counter_:0000": {**CLOSED_COUNTER, "5": 0.5, "7": 0.0}},
    ["frl_apartment_chair_01_:0000", None])
IN_FRIDGE = _episode(
    "012_strawberry_:0000", "fridge_:0000|receptacle_aabb_middle_topfrl_apartment_refrigerator",
    {"fridge_:0000": {"2": 1.5}, "kitchen_counter_:0000": {**CLOSED_COUNTER, "7": 0.0}},
    ["frl_apartment_chair_01_:0000", None])
ON_COUNTER = _episode(
    "011_banana_:0000", "kitchen_counter_:0000|receptacle_aabb_counter_right_kitchen_counter",
    {"fridge_:0000": {"2": 0.0}, "kitchen_counter_:0000": {**CLOSED_COUNTER, "7": 0.5}},
    ["kitchen_counter_:0000", 7])
ON_SOFA = _episode(
    "005_tomato_soup_can_:0000", "frl_apartment_sofa_:0000|receptacle_aabb_Sofa_frl_apartment_sofa",
    {"fridge_:0000": {"2": 0.0}, "kitchen_counter_:0000": {**CLOSED_COUNTER, "7": 0.0}},
    ["frl_apartment_table_02_:0000", None])


def test_pick_names_the_receptacle_the_object_starts_in_and_what_is_open_there():
    assert probe._receptacle("pick", IN_OPEN_DRAWER) == "kitchen_counter drawer_middle_top (open: 5)"
    assert probe._receptacle("pick", IN_FRIDGE) == "fridge middle_top (open: 2)"
    assert probe._receptacle("pick", ON_COUNTER) == "kitchen_counter counter_right (open: 7)"
    assert probe._receptacle("pick", ON_SOFA) == "sofa Sofa"


def test_place_names_the_goal_furniture_and_its_link():
    assert probe._receptacle("place", ON_COUNTER) == "kitchen_counter link 7 (open: 7)"
    assert probe._receptacle("place", IN_OPEN_DRAWER) == "chair_01 top"


def test_receptacle_kinds():
    kinds = [probe._receptacle_kind(probe._receptacle("pick", episode))
             for episode in (IN_OPEN_DRAWER, IN_FRIDGE, ON_COUNTER, ON_SOFA)]
    assert kinds == ["drawer", "fridge", "surface", "surface"]
    assert probe._receptacle_kind("kitchen_counter sink") == "sink"
