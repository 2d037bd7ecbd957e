"""Skill controllers and the shared BFS planner, on hand-built maps driven by a tiny MiniGrid-like world."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest
from minigrid.core.actions import Actions
from minigrid.core.constants import COLOR_TO_IDX, DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

from habitat_llm4teach.envs.minigrid.symbolic import encode_symbolic
from habitat_llm4teach.teacher.minigrid.perception import perceive_minigrid
from habitat_llm4teach.teacher.minigrid.skills import DO_NOTHING, SKILLS, SkillStatus, SkillStep, get_skill
from habitat_llm4teach.teacher.minigrid.skills.base import front_cell, is_walkable, plan_to_face, plan_to_stand, reachable_poses
from habitat_llm4teach.teacher.minigrid.types import DROP, EXPLORE, GO_TO, OPEN, PICK_UP, SKILL_NAMES, Perception

EMPTY, WALL, LAVA = OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"], OBJECT_TO_IDX["lava"]
DOOR, UNSEEN = OBJECT_TO_IDX["door"], OBJECT_TO_IDX["unseen"]
PICKABLE = {OBJECT_TO_IDX[k] for k in ("key", "ball", "box")}


def cell(kind: str, color: str = "grey", state: str = "open") -> tuple[int, int, int]:
    return OBJECT_TO_IDX[kind], COLOR_TO_IDX[color], STATE_TO_IDX[state] if kind == "door" else 0


LEGEND = {
    " ": (0, 0, 0),  # unseen
    ".": cell("empty"),
    "#": cell("wall"),
    "L": cell("lava", "red"),
    "G": cell("goal", "green"),
    "y": cell("key", "yellow"),
    "r": cell("key", "red"),
    "b": cell("ball", "blue"),
    "Y": cell("door", "yellow", "locked"),
    "C": cell("door", "yellow", "closed"),
    "O": cell("door", "yellow", "open"),
}
AGENT = {">": 0, "v": 1, "<": 2, "^": 3}


class World:
    """A remembered map that is also the truth: enough MiniGrid to run skills to completion."""

    def __init__(self, rows: list[str], holding: Optional[tuple[int, int, int]] = None) -> None:
        self.grid = np.zeros((len(rows[0]), len(rows), 3), dtype=np.int64)
        for y, row in enumerate(rows):
            for x, char in enumerate(row):
                if char in AGENT:
                    self.pos, self.dir = (x, y), AGENT[char]
                    char = "."
                self.grid[x, y] = LEGEND[char]
        self.carried = np.array(holding if holding is not None else (0, 0, 0))
        self.visited = [self.pos]

    def perception(self) -> Perception:
        flat = encode_symbolic(self.grid, np.array([*self.pos, self.dir, *self.carried]), "open the door")
        return perceive_minigrid(flat)

    def step(self, action: int) -> None:
        ahead = front_cell(self.pos, self.dir)
        front = self.grid[ahead]
        if action == Actions.left:
            self.dir = (self.dir - 1) % 4
        elif action == Actions.right:
            self.dir = (self.dir + 1) % 4
        elif action == Actions.forward and (front[0] == LAVA or is_walkable(self.grid, ahead)):
            self.pos = ahead
            self.visited.append(ahead)
        elif action == Actions.pickup and front[0] in PICKABLE and not self.carried[0]:
            self.carried, self.grid[ahead] = front.copy(), LEGEND["."]
        elif action == Actions.drop and front[0] == EMPTY and self.carried[0]:
            self.grid[ahead], self.carried = self.carried, np.zeros(3, dtype=np.int64)
        elif action == Actions.toggle and front[0] == DOOR:
            unlocks = tuple(self.carried[:2]) == (OBJECT_TO_IDX["key"], front[1])
            if front[2] == STATE_TO_IDX["closed"] or (front[2] == STATE_TO_IDX["locked"] and unlocks):
                front[2] = STATE_TO_IDX["open"]

    def run(self, skill: str, target: Optional[str], limit: int = 60) -> SkillStep:
        for _ in range(limit):
            verdict = get_skill(skill).step(self.perception(), target)
            if verdict.status is not SkillStatus.RUNNING:
                return verdict
            self.step(verdict.action)
        return verdict

    def kind_at(self, xy: tuple[int, int]) -> int:
        return int(self.grid[xy][0])


OPEN_ROOM_WITH_LAVA = [
    "#######",
    "#.....#",
    "#>.L.y#",
    "#.....#",
    "#######",
]


def test_go_to_detours_around_lava_and_faces_the_target():
    world = World(OPEN_ROOM_WITH_LAVA)
    assert world.run(GO_TO, "yellow key").status is SkillStatus.DONE
    assert all(world.kind_at(c) != LAVA for c in world.visited)
    assert front_cell(world.pos, world.dir) == (5, 2)
    assert get_skill(GO_TO).step(world.perception(), "yellow key") == SkillStep(None, SkillStatus.DONE)


def test_lava_corridor_is_unreachable():
    world = World(["#######", "#>.L.y#", "#######"])
    assert plan_to_face(world.perception(), [(5, 1)]) is None
    assert world.run(GO_TO, "yellow key").status is SkillStatus.FAILED
    assert world.visited == [(1, 1)]


def test_bfs_paths_never_enter_lava_walls_unseen_or_objects():
    rng = np.random.default_rng(0)
    detours = 0
    for _ in range(100):
        chars = rng.choice(list("..........LL# yb"), size=(8, 8))
        chars[0, :] = chars[-1, :] = chars[:, 0] = chars[:, -1] = "#"
        chars[rng.integers(1, 7), rng.integers(1, 7)] = ">"
        world = World(["".join(r) for r in chars])
        target = (int(rng.integers(1, 7)), int(rng.integers(1, 7)))
        actions = plan_to_face(world.perception(), [target])
        for action in actions or []:
            world.step(action)
        if actions is not None:
            assert front_cell(world.pos, world.dir) == target
            detours += len(actions) > 3
        assert all(c == world.visited[0] or is_walkable(world.grid, c) for c in world.visited)
    assert detours >= 30  # the property was exercised on real paths, not only on unreachable targets


def test_doors_block_unless_open_and_the_agent_cell_never_blocks():
    rows = ["#####", "#>#.#", "#.X.#", "#####"]
    for door, reachable in (("O", True), ("C", False), ("Y", False)):
        world = World([r.replace("X", door) for r in rows])
        assert (plan_to_stand(world.perception(), [(3, 1)]) is not None) == reachable
    assert plan_to_stand(World(rows[:2] + ["#.O.#", "#####"]).perception(), [(1, 1)]) == []


def test_go_to_goal_steps_onto_it():
    world = World(["#####", "#>..#", "#..G#", "#####"])
    assert world.run(GO_TO, "green goal").status is SkillStatus.DONE
    assert world.pos == (3, 2)


@pytest.mark.parametrize("target", ["purple key", "yellow key"])
def test_go_to_fails_when_not_perceived_or_unreachable(target):
    world = World(["######", "#>.#y#", "######"])
    assert get_skill(GO_TO).step(world.perception(), target).status is SkillStatus.FAILED


def test_pick_up_walks_picks_and_is_done_when_holding_it():
    world = World(OPEN_ROOM_WITH_LAVA)
    assert world.run(PICK_UP, "yellow key").status is SkillStatus.DONE
    assert world.perception().holding.name == "yellow key"
    assert all(world.kind_at(c) != LAVA for c in world.visited)


def test_pick_up_fails_when_holding_another_object():
    world = World(OPEN_ROOM_WITH_LAVA, holding=cell("key", "red"))
    assert get_skill(PICK_UP).step(world.perception(), "yellow key").status is SkillStatus.FAILED
    assert get_skill(PICK_UP).step(world.perception(), "red key").status is SkillStatus.DONE
    assert get_skill(PICK_UP).step(World(OPEN_ROOM_WITH_LAVA).perception(), "lava").status is SkillStatus.FAILED


ROOM_WITH_DOOR = [
    "#####",
    "#>..#",
    "#...Y",
    "#####",
]


@pytest.mark.parametrize("holding", [None, cell("key", "red")])
def test_open_fails_without_the_key(holding):
    world = World(ROOM_WITH_DOOR, holding=holding)
    assert get_skill(OPEN).step(world.perception(), "yellow door").status is SkillStatus.FAILED


def test_open_with_the_key_toggles_until_open():
    world = World(ROOM_WITH_DOOR, holding=cell("key", "yellow"))
    assert world.run(OPEN, "yellow door").status is SkillStatus.DONE
    assert world.perception().find("yellow door").state == "open"
    assert world.visited[-1] == (3, 2)


def test_open_a_closed_door_bare_handed():
    world = World([r.replace("Y", "C") for r in ROOM_WITH_DOOR])
    assert world.run(OPEN, "yellow door").status is SkillStatus.DONE
    assert get_skill(OPEN).step(world.perception(), "red door").status is SkillStatus.FAILED


def test_drop_turns_to_an_empty_cell_away_from_doors():
    world = World(["#####", "#...#", "#..>Y", "#####"], holding=cell("key", "red"))
    assert world.run(DROP, "red key").status is SkillStatus.DONE
    perception = world.perception()
    assert perception.holding is None
    (dropped,) = [o for o in perception.objects if o.name == "red key"]
    assert abs(dropped.position[0] - 4) + abs(dropped.position[1] - 2) > 1


def test_drop_is_done_when_not_holding_and_fails_when_boxed_in():
    assert get_skill(DROP).step(World(ROOM_WITH_DOOR).perception(), "red key").status is SkillStatus.DONE
    boxed = World(["#####", "##b##", "#b>b#", "##b##", "#####"], holding=cell("key", "red"))
    assert get_skill(DROP).step(boxed.perception(), "red key").status is SkillStatus.FAILED


def test_explore_turns_toward_unseen_cells_and_never_enters_them():
    world = World(["#      ", "#..    ", "#>.    ", "#..    ", "#      "])
    verdict = get_skill(EXPLORE).step(world.perception(), None)
    assert verdict == SkillStep(int(Actions.forward), SkillStatus.RUNNING)  # straight into the unknown
    for _ in range(10):
        verdict = get_skill(EXPLORE).step(world.perception(), None)
        world.step(verdict.action)
        assert world.kind_at(world.pos) != UNSEEN


def test_explore_fails_when_the_walled_room_is_seen_even_with_unseen_cells_outside():
    world = World(["#####   ", "#>..#   ", "#...Y   ", "#####   ", "        "])
    assert get_skill(EXPLORE).step(world.perception(), None).status is SkillStatus.FAILED


def test_do_nothing_sends_done():
    assert get_skill(DO_NOTHING).step(World(ROOM_WITH_DOOR).perception(), None) == SkillStep(
        int(Actions.done), SkillStatus.RUNNING
    )


def test_registry_covers_the_grammar_and_rejects_unknown_names():
    assert set(SKILLS) == {*SKILL_NAMES, DO_NOTHING}
    for name in SKILLS:
        assert get_skill(name) is SKILLS[name]
    with pytest.raises(KeyError, match="teleport"):
        get_skill("teleport")


@pytest.mark.parametrize("action,status", [(None, SkillStatus.RUNNING), (2, SkillStatus.DONE), (2, SkillStatus.FAILED)])
def test_skill_step_needs_an_action_exactly_while_running(action, status):
    with pytest.raises(ValueError, match=status.value):
        SkillStep(action, status)


def _shortest_distances(world: World) -> dict[tuple[tuple[int, int], int], int]:
    """Reference: actions from the agent's pose to every pose, by a plain search over the World's own moves."""
    start = (world.pos, world.dir)
    distance, frontier = {start: 0}, [start]
    while frontier:
        following = []
        for (cell_xy, direction) in frontier:
            ahead = front_cell(cell_xy, direction)
            nexts = [(cell_xy, (direction + 1) % 4), (cell_xy, (direction - 1) % 4)]
            if ahead == world.pos or is_walkable(world.grid, ahead):
                nexts.append((ahead, direction))
            for pose in nexts:
                if pose not in distance:
                    distance[pose] = distance[(cell_xy, direction)] + 1
                    following.append(pose)
        frontier = following
    return distance


def test_the_shared_search_finds_every_reachable_pose_at_its_shortest_distance_and_paths_that_long():
    rng = np.random.default_rng(1)
    for _ in range(60):
        chars = rng.choice(list("..........LL# ybOC"), size=(9, 7))
        chars[0, :] = chars[-1, :] = chars[:, 0] = chars[:, -1] = "#"
        chars[rng.integers(1, 8), rng.integers(1, 6)] = "v"
        world = World(["".join(r) for r in chars])
        perception = world.perception()
        expected = _shortest_distances(world)
        reached = reachable_poses(perception)
        assert {pose: d for pose, (d, _) in reached.items()} == expected
        for pose, (d, first) in reached.items():
            if d:  # the first action starts a shortest path: one fewer action from where it leads
                probe = World(["".join(r) for r in chars])
                probe.step(first)
                assert _shortest_distances(probe).get(pose) == d - 1
        target = (int(rng.integers(1, 8)), int(rng.integers(1, 6)))
        actions = plan_to_face(perception, [target])
        facing = [d for (c, direction), d in expected.items() if front_cell(c, direction) == target]
        assert (actions is None) == (not facing)
        if actions is not None:
            assert len(actions) == min(facing)


def test_a_search_is_reused_only_for_the_same_perception_not_an_equal_one_on_another_map():
    # A Perception compares without its grid: two with the same objects and pose on different maps are equal.
    floor, wall = World(["#####", "#>..#", "#####"]), World(["#####", "#>#.#", "#####"])
    first, second = floor.perception(), wall.perception()
    assert first == second and first is not second
    assert plan_to_stand(first, [(3, 1)]) == [int(Actions.forward)] * 2
    assert plan_to_stand(second, [(3, 1)]) is None
    assert (3, 1) in {c for c, _ in reachable_poses(first)} and (3, 1) not in {c for c, _ in reachable_poses(second)}


def test_explores_remembered_gains_follow_the_map_when_it_changes_in_place():
    from habitat_llm4teach.teacher.minigrid.skills.explore import _gains_and_ahead, unseen_ahead, view_gains

    grid = World(["#######", "#>.   #", "#..   #", "#######"]).grid
    before = [a.copy() for a in _gains_and_ahead(grid)]
    grid[3, 1] = LEGEND["."]  # a cell seen: the same array, new contents
    after = _gains_and_ahead(grid)
    assert not np.array_equal(before[0], after[0])
    assert np.array_equal(after[0], view_gains(grid)) and np.array_equal(after[1], unseen_ahead(grid))
