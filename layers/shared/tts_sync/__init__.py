"""tts-sync shared package: domain code, adapters and observability shared by every function."""

__version__ = "0.1.0"
