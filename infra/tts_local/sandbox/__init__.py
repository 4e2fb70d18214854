"""A faithful TikTok Shop Partner API on loopback: signatures, tokens, ciphers, the real
envelope and error codes, throttling, fault injection and signed webhook delivery.

Used by the tests and the local stack; facts from /work/shared/tiktok-shop-api.md."""

from tts_local.sandbox.faults import Fault
from tts_local.sandbox.sandbox import Sandbox
from tts_local.sandbox.seed import DemoData, seed_demo_data
from tts_local.sandbox.webhooks import Delivery, Notification

__all__ = ["Delivery", "DemoData", "Fault", "Notification", "Sandbox", "seed_demo_data"]
