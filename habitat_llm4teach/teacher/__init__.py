"""The LLM teacher, one module per step of the data path:

observation -> perception.py (perceived objects) -> describe.py (text, candidate skills)
-> planner.py (LLM, via llm.py; cached by cache.py) -> parse.py (validated skill calls)
-> skills/ (controllers) -> teacher.py (action distribution over the student's actions).
guidance.py runs that path on a batch of observations (for the trainer and for policy.py).
"""
