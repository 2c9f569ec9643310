"""The package's own error: anything a user can cause and fix."""


class SynthmirError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""
