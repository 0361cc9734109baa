"""Errors for bad user input, reported without a traceback before any work starts."""


class ConfigError(ValueError):
    """A config value, file or checkpoint that cannot be used. The message names the key, the value and the fix."""
