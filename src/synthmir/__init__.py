"""synthmir: learn what is playing in audio from synthesized General MIDI data."""

from synthmir.errors import SynthmirError

__version__ = "0.1.0"
__all__ = ["SynthmirError", "__version__"]
