"""DynamoDB adapter of the RateLimiter port: one item per shop, updated with optimistic
concurrency (a conditional write on a version number), so every Lambda of a shop draws from one
budget. Wall-clock time is used because the callers are separate processes and machines.

Item: pk = "ratelimit#<shop_id>", tokens, updated_at, factor, cooldown_until, version,
expires_at (TTL: idle shops' items go away by themselves).

Tokens in blocks (`block` > 1, TTS_SHOP_TOKEN_BLOCK): one conditional write reserves several
consecutive slots, which this container then spends in order. Under contention a write per
token was the bottleneck (0.7 R); a block divides the writes and the races by its size. Slots
are exactly those the bucket granted, so the shared budget holds; a slot not used within
STALE_SLOT_SECONDS of its time is dropped (spending it later could bunch calls), and a 429
drops them all. Within a container one thread refills a shop's slots at a time and the others
wait for them: racing each other for the same item cost a lost write and a re-read per racer
(16 threads: 120 writes for 16 blocks), which held the quantity export's push to 7x its
minimum time.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from tts_sync.aws import dynamodb_client
from tts_sync.config import load_config
from tts_sync.container import container_cached
from tts_sync.observability import logger
from tts_sync.tiktok.errors import RateLimiterUnavailableError, RateLimitWaitExceededError
from tts_sync.tiktok.ratelimit import BucketPolicy, BucketState
from tts_sync.tiktok.retry import Deadline

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ITEM_TTL_SECONDS = 86_400
# Losing a write race costs a re-read; a tiny random pause keeps racing writers from lock-stepping.
CONFLICT_PAUSE_SECONDS = 0.005
STALE_SLOT_SECONDS = 0.5


class RateLimitConfig(BaseModel):
    table_name: str = Field(alias="RATE_LIMIT_TABLE_NAME", min_length=1)
    rate_per_second: float = Field(default=5.0, alias="TTS_SHOP_RATE_PER_SECOND", gt=0)
    burst: float = Field(default=5.0, alias="TTS_SHOP_BURST", ge=1)
    block: int = Field(default=1, alias="TTS_SHOP_TOKEN_BLOCK", ge=1, le=50)


class DynamoRateLimiter:
    def __init__(
        self,
        table_name: str,
        policy: BucketPolicy | None = None,
        *,
        client: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        block: int = 1,
    ) -> None:
        self.table_name = table_name
        self.policy = policy or BucketPolicy()
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self.block = block
        self._slots: dict[str, deque[float]] = defaultdict(deque)  # shop -> reserved slot times
        self._slots_lock = threading.Lock()
        # One refilling thread per shop in this container: the others wait for its slots
        # instead of racing it (and each other) for the same item.
        self._refill_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb_client(fast=True)

    def acquire(self, shop_id: str, deadline: Deadline) -> None:
        """Raises RateLimitWaitExceededError, or RateLimiterUnavailableError when DynamoDB
        fails (callers see the client's retryable error family, never a raw botocore error)."""
        try:
            self._acquire(shop_id, deadline)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "rate limiter storage unavailable",
                shop_id=shop_id,
                table_name=self.table_name,
                error=_describe(exc),
            )
            raise RateLimiterUnavailableError(
                f"rate limiter storage unavailable: {_describe(exc)}"
            ) from exc

    def _acquire(self, shop_id: str, deadline: Deadline) -> None:
        if self.block > 1:
            self._acquire_from_block(shop_id, deadline)
            return
        while True:
            stored, version = self._read(shop_id)
            now = self._clock()
            current = stored or BucketState.fresh(self.policy, now)
            taken, wait = current.refilled(now, self.policy).reserved(self.policy)
            if wait > deadline():
                raise RateLimitWaitExceededError(
                    "rate limiter could not grant a call before the deadline"
                )
            if self._write(shop_id, taken, version):
                if wait > 0:
                    self._sleep(wait)  # our slot is reserved; nobody else will take it
                return
            self._sleep(random.uniform(0, CONFLICT_PAUSE_SECONDS))  # noqa: S311 - jitter  # nosec B311

    def _acquire_from_block(self, shop_id: str, deadline: Deadline) -> None:
        while True:
            slot, now = self._take_slot(shop_id)
            if slot is not None:
                wait = slot - now
                if wait > deadline():
                    raise RateLimitWaitExceededError(
                        "rate limiter could not grant a call before the deadline"
                    )
                if wait > 0:
                    self._sleep(wait)
                return
            with self._slots_lock:
                refill_lock = self._refill_locks[shop_id]
            with refill_lock:
                with self._slots_lock:
                    if self._slots[shop_id]:
                        continue  # refilled while we waited for the lock
                self._refill(shop_id, deadline)

    def _take_slot(self, shop_id: str) -> tuple[float | None, float]:
        with self._slots_lock:
            slots = self._slots[shop_id]
            now = self._clock()
            while slots and slots[0] < now - STALE_SLOT_SECONDS:
                slots.popleft()
            return (slots.popleft() if slots else None), now

    def _refill(self, shop_id: str, deadline: Deadline) -> None:
        """One block of slots for this container (the caller holds the shop's refill lock);
        a race lost to another container re-reads."""
        while True:
            stored, version = self._read(shop_id)
            now = self._clock()
            current = stored or BucketState.fresh(self.policy, now)
            taken, waits = current.refilled(now, self.policy).reserved_block(
                self.policy, self.block
            )
            if waits[0] > deadline():
                raise RateLimitWaitExceededError(
                    "rate limiter could not grant a call before the deadline"
                )
            if self._write(shop_id, taken, version):
                with self._slots_lock:
                    self._slots[shop_id].extend(now + w for w in waits)
                return
            self._sleep(random.uniform(0, CONFLICT_PAUSE_SECONDS))  # noqa: S311 - jitter  # nosec B311

    def report_throttled(self, shop_id: str) -> None:
        """Best effort: the caller is handling TikTok's 429, and a DynamoDB hiccup here must not
        replace that error with a storage one. A missed report only delays the slow-down."""
        with self._slots_lock:
            self._slots.pop(shop_id, None)  # a 429: the slots we hold were an illusion too
        try:
            for _ in range(10):
                stored, version = self._read(shop_id)
                now = self._clock()
                current = stored or BucketState.fresh(self.policy, now)
                if self._write(shop_id, current.throttled(now, self.policy), version):
                    logger.info("shop rate reduced after throttling", shop_id=shop_id)
                    return
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "could not record throttling for shop: storage unavailable",
                shop_id=shop_id,
                table_name=self.table_name,
                error=_describe(exc),
            )
            return
        logger.warning("could not record throttling for shop", shop_id=shop_id)

    def _read(self, shop_id: str) -> tuple[BucketState | None, _Version]:
        response = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": _key(shop_id)}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None, 0
        try:
            state = BucketState(
                tokens=_finite(item["tokens"]["N"]),
                updated_at=_finite(item["updated_at"]["N"]),
                factor=_finite(item["factor"]["N"]),
                cooldown_until=_finite(item["cooldown_until"]["N"]),
            )
            version = int(item["version"]["N"])
        except (KeyError, TypeError, ValueError):
            # A damaged item (hand edit, old layout, bug) must not block the shop for good: start
            # from a fresh bucket and overwrite it, conditional on the damaged item unchanged.
            logger.warning(
                "rate limiter item unreadable; treated as a fresh bucket",
                shop_id=shop_id,
                table_name=self.table_name,
                attributes=sorted(item),
            )
            return None, _Damaged(item.get("version"))
        return state, version

    def _write(self, shop_id: str, state: BucketState, version: _Version) -> bool:
        """Store `state` if nobody wrote since we read `version`; False when we lost the race."""
        condition: dict[str, Any]
        if isinstance(version, _Damaged):
            if version.raw is None:
                condition = {
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(version)"
                }
            else:
                condition = {
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": version.raw},
                }
            version = 0
        elif version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(version)}},
            }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": _key(shop_id)},
                    "tokens": {"N": _num(state.tokens)},
                    "updated_at": {"N": _num(state.updated_at)},
                    "factor": {"N": _num(state.factor)},
                    "cooldown_until": {"N": _num(state.cooldown_until)},
                    "version": {"N": str(version + 1)},
                    "expires_at": {"N": str(int(state.updated_at) + ITEM_TTL_SECONDS)},
                },
                **condition,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


@dataclass(frozen=True)
class _Damaged:
    """The version of an unreadable item: its raw attribute (any type), None when absent."""

    raw: Any


# 0: no item yet; n: the item's version; _Damaged: an unreadable item, to be overwritten.
_Version = int | _Damaged


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _describe(exc: ClientError | BotoCoreError) -> str:
    """The error's code or class: enough to tell throttling from an outage, nothing secret."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def _key(shop_id: str) -> str:
    return f"ratelimit#{shop_id}"


def _num(value: float) -> str:
    return f"{value:.6f}"


@container_cached
def dynamo_rate_limiter() -> DynamoRateLimiter:
    """The container-wide limiter configured from the environment."""
    config = load_config(RateLimitConfig)
    policy = BucketPolicy(rate_per_second=config.rate_per_second, burst=config.burst)
    return DynamoRateLimiter(config.table_name, policy, block=config.block)
