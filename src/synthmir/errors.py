"""The package's own errors: anything a user can cause and fix."""


class SynthmirError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""


class ConfigError(SynthmirError):
    """A bad configuration value: the key path, what is wrong with it, and how to fix it."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key, self.problem, self.fix = key, problem, fix
        where = f" at '{key}'" if key else ""
        super().__init__(f"config error{where}: {problem}. {fix}")


class AudioTooLong(SynthmirError):
    """Audio longer than accepted (the web server's limit)."""


class DegenerateAudio(SynthmirError):
    """Audio that decodes but cannot be classified: too short, not finite, absurdly loud, or
    silent."""
