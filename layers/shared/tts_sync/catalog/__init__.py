"""The shop's catalog as tts-sync knows it: listing status per product (type-5 webhooks)."""
