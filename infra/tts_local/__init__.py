"""Developer tooling: the local stack, the TikTok Shop sandbox and the `tts-sync` CLI."""
