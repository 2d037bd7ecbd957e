"""Structured Hydra configs and the config search path of habitat_llm4teach."""
