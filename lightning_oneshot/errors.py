"""Errors for bad user input, reported without a traceback before any work starts."""


class ConfigError(ValueError):
    """A config value, file or checkpoint that cannot be used. The message names the key, the value and the fix."""


class NumericalError(FloatingPointError):
    """A NaN or infinite value that stops a run: a training loss, supernet weights or every evaluation score."""
