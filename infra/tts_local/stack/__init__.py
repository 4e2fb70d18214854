"""The local stack: template.yaml run on loopback with moto, no AWS account and no Docker."""

from tts_local.stack.functions import Invocation
from tts_local.stack.local_stack import LocalStack, StackSettings

__all__ = ["Invocation", "LocalStack", "StackSettings"]
