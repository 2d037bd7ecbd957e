"""User-facing error types: raised for bad input and reported as one clear line."""


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the fix."""
