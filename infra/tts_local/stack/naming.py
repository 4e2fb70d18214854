"""Physical names and ARNs the way CloudFormation makes them, but stable across restarts.

CloudFormation appends a random suffix; a hash of stack and logical id keeps the same shape while
letting scripts find `tts-sync-local-EventsTable-...` again after a restart.
"""

from __future__ import annotations

import hashlib

ACCOUNT_ID = "123456789012"  # moto's default account


def stable_suffix(
    *parts: str, length: int = 12, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
) -> str:
    digest = int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def physical_name(stack: str, logical_id: str, *, max_length: int = 64, ending: str = "") -> str:
    """`<stack>-<LogicalId>-<SUFFIX><ending>`, trimming stack and id like CloudFormation."""
    suffix = stable_suffix(stack, logical_id)
    room = max_length - len(suffix) - len(ending) - 2
    stack_part = stack[: max(room // 2, room - len(logical_id))]
    id_part = logical_id[: room - len(stack_part)]
    return f"{stack_part.rstrip('-')}-{id_part}-{suffix}{ending}"


def arn(service: str, region: str, resource: str, *, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"
