"""The Habitat pick and place teacher, one module per step of the data path.

envs/rearrange/scene.py (the ``l4t_scene`` vector as plain arrays) -> ``perception.py``
(what the head camera sees, named by ``names.py``) -> ``describe.py`` (text and candidate
skills; "within reach" from ``reach.py``) -> the planner with ``prompts.py`` (``parse.py``
reads sampled plans) -> ``skills.py`` (controllers, arm model in ``kinematics.py``) ->
``teacher.py`` (per-plan actions and weights) -> ``guidance.py`` (the trainer's teacher) /
``policy.py`` (the teacher as a policy). ``labels.py`` reads labelled situations.
"""
