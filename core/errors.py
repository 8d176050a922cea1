"""Errors a user can act on. Everything the CLI and the app show as a message derives from here."""


class CensorscopeError(Exception):
    """Base class: the message is meant for a person, not a stack trace."""


class BadInputError(CensorscopeError, ValueError):
    """A prompt, feature id, value or recipe that cannot be used."""


class ModelLoadError(CensorscopeError):
    """The subject model could not be loaded (unknown id, offline, broken file)."""


class SaeLoadError(CensorscopeError):
    """The SAE folder is missing, malformed, or does not fit the subject."""
