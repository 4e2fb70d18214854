"""Operator tools shared by the CLI (`tts-sync ops ...`) and console entry points."""
