"""Inference: classify audio files, chord timelines, live listening and the web app."""
