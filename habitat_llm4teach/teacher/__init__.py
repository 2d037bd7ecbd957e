"""The LLM teacher. This package's own modules are the env-independent core:

types.py (skill calls, plans, plan distributions) -> planner.py (the LLM via llm.py, answers
cached by cache.py; the prompts are the env's) -> guidance.py (a plan's current step, the
guidance handed to the trainer, statistics) and policy.py (a teacher as a habitat policy).

Each env's teacher is a sibling package on top of the core, one module per step of its data path:
minigrid/ (MiniGrid) and rearrange/ (Habitat pick/place). The core never imports them.
"""
