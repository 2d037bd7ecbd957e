"""Habitat pick and place, the environment side: what the teacher reads and how the envs are built.

``adapter.py`` (the ``l4t_scene`` lab sensor) is the only module that touches habitat-sim;
``scene.py`` holds its vector as plain arrays (what teacher/rearrange reads);
``requirements.py`` checks habitat-sim and the data before a run; ``factory.py`` builds the envs.
"""
