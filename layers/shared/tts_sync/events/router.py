"""The ONE consumer of the Events table's stream: each stored webhook goes to its domain by
type (tts_sync.events.catalogue): orders (hydrate), catalog (listing status; the products the
product webhooks 5/15/16/50 name are refreshed from Get Product Detail), shops (lifecycle).
Unknown types are recorded as ignored, never an error.

Order events are hydrated across the whole batch first (50 distinct orders a Get Order Detail
call, whatever records name them), products likewise (one detail call per distinct product);
then Powertools' BatchProcessor reports each record that
could not be done as a partial batch failure, so the stream retries from it (everything this
consumer does is idempotent) and, after the retries, the failure destination keeps it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import ValidationError

from tts_sync.audit.trail import hydration_not_done, webhook_received, write_audit
from tts_sync.catalog.listing import listing_from_webhook, record_listing_status
from tts_sync.catalog.refresh import refresh_products
from tts_sync.errors import TtsSyncError
from tts_sync.events.catalogue import (
    BY_NUMBER,
    Domain,
    EventData,
    ProductStatusChange,
    UpcomingAuthorizationExpiration,
    order_ids_named,
    product_ids_named,
)
from tts_sync.events.stream import EventsStreamRecord, StoredEventImage
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.orders.hydration import RETRY_OUTCOMES, HydrationOutcome, hydrate_orders
from tts_sync.orders.runtime import OrderSyncDependencies, order_sync_dependencies
from tts_sync.shops.tokens import AuthorizationEvent, handle_authorization_event
from tts_sync.tiktok.retry import Deadline

DONE_OUTCOMES = frozenset({HydrationOutcome.APPLIED, HydrationOutcome.UNCHANGED})


class RecordNotProcessedError(TtsSyncError):
    """This stream record is retried (and kept by the failure destination after the retries)."""


@dataclass
class BatchPlan:
    failures: dict[str, str] = field(default_factory=dict)  # sequence number -> reason
    # (shop, order) -> sequence numbers of the records naming it
    orders: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    # (shop, product) -> sequence numbers of the records naming it
    products: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    ignored: int = 0
    # sequence number -> the stored webhook, for order events (their audit entries)
    webhooks: dict[str, StoredEventImage] = field(default_factory=dict)
    # (shop, order) -> what hydrating it came to, when not applied or unchanged, and why
    not_done: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


def handle_events_stream(event: dict[str, Any], context: Any, deadline: Deadline) -> dict[str, Any]:
    dependencies = order_sync_dependencies()
    plan = BatchPlan()
    for raw in event.get("Records", []):
        _route(raw, plan, dependencies)
    _hydrate(plan, dependencies, deadline)
    _refresh_products(plan, dependencies, deadline)
    _audit_webhooks(plan, dependencies)
    if plan.ignored:
        metrics.add_metric(name="StreamEventIgnored", unit=MetricUnit.Count, value=plan.ignored)

    def report(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        reason = plan.failures.get(sequence or "")
        if reason is not None:
            raise RecordNotProcessedError(reason)

    # One processor per batch (it holds the batch's results). A batch whose every record
    # failed is reported like any other (the stream retries from the first failure), not
    # raised: raising would count as a function error and bisect for nothing.
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    return dict(
        process_partial_response(
            event=event, record_handler=report, processor=processor, context=context
        )
    )


def _route(raw: dict[str, Any], plan: BatchPlan, dependencies: OrderSyncDependencies) -> None:
    sequence = str((raw.get("dynamodb") or {}).get("SequenceNumber", ""))
    try:
        record = EventsStreamRecord.model_validate(raw)
    except ValidationError as exc:
        plan.failures[sequence] = f"not an Events stream record: {_fields(exc)}"
        logger.error("unreadable stream record", sequence=sequence, problems=_fields(exc))
        return
    stored = record.event
    if stored is None:  # a TTL removal or a modification: nothing new to act on
        return
    spec = BY_NUMBER.get(stored.event_type)
    if spec is None:
        plan.ignored += 1
        logger.info(
            "stream event ignored: type not handled",
            event_key=stored.event_key,
            event_type=stored.event_type,
            event_type_name=stored.event_type_name,
        )
        return
    try:
        data = stored.typed_data()
        if spec.domain is Domain.ORDERS:
            for order_id in order_ids_named(data):
                plan.orders[(stored.shop_id, order_id)].append(sequence)
                plan.webhooks[sequence] = stored
        elif spec.domain is Domain.CATALOG:
            _listing(stored, data, dependencies)
            for product_id in product_ids_named(data):
                plan.products[(stored.shop_id, product_id)].append(sequence)
        else:
            _shop_lifecycle(stored, data, dependencies)
    except (ValidationError, ValueError) as exc:
        plan.failures[sequence] = f"unreadable stored event: {type(exc).__name__}"
        logger.error("unreadable stored event", event_key=stored.event_key)
    except Exception as exc:
        plan.failures[sequence] = type(exc).__name__
        logger.exception("stream record failed", event_key=stored.event_key)


def _hydrate(plan: BatchPlan, dependencies: OrderSyncDependencies, deadline: Deadline) -> None:
    by_shop: dict[str, list[str]] = defaultdict(list)
    for shop_id, order_id in plan.orders:
        by_shop[shop_id].append(order_id)
    if not by_shop:
        return
    api = dependencies.order_api()
    for shop_id, order_ids in by_shop.items():
        try:
            report = hydrate_orders(
                shop_id,
                order_ids,
                shops=dependencies.shop_access,
                api=api,
                context=dependencies.sync,
                missing_orders=dependencies.missing_orders,
                deadline=deadline,
            )
        except Exception as exc:
            logger.exception("hydration failed", shop_id=shop_id)
            reasons = dict.fromkeys(order_ids, type(exc).__name__)
            plan.not_done.update({(shop_id, o): ("failed", reasons[o]) for o in order_ids})
        else:
            reasons = {
                order_id: report.reasons.get(order_id, outcome.value)
                for order_id, outcome in report.outcomes.items()
                if outcome in RETRY_OUTCOMES
            }
            plan.not_done.update(
                {
                    (shop_id, order_id): (outcome.value, report.reasons.get(order_id, ""))
                    for order_id, outcome in report.outcomes.items()
                    if outcome not in DONE_OUTCOMES
                }
            )
        for order_id, reason in reasons.items():
            for sequence in plan.orders[(shop_id, order_id)]:
                plan.failures.setdefault(sequence, f"order {order_id}: {reason}")


def _refresh_products(
    plan: BatchPlan, dependencies: OrderSyncDependencies, deadline: Deadline
) -> None:
    by_shop: dict[str, list[str]] = defaultdict(list)
    for shop_id, product_id in plan.products:
        by_shop[shop_id].append(product_id)
    for shop_id, product_ids in by_shop.items():
        reasons: dict[str, str]
        access = dependencies.shop_access.access(shop_id)
        if dependencies.products is None:
            reasons = dict.fromkeys(product_ids, "product refresh not configured")
        elif access is None:
            # Disconnected: nothing to read; a reconnect runs a full catalog sync anyway.
            logger.info("product webhook of a shop not connected", shop_id=shop_id)
            continue
        else:
            try:
                report = refresh_products(access, product_ids, dependencies.products, deadline)
            except Exception as exc:
                logger.exception("product refresh failed", shop_id=shop_id)
                reasons = dict.fromkeys(product_ids, type(exc).__name__)
            else:
                reasons = report.retry
        for product_id, reason in reasons.items():
            for sequence in plan.products[(shop_id, product_id)]:
                plan.failures.setdefault(sequence, f"product {product_id}: {reason}")


def _audit_webhooks(plan: BatchPlan, dependencies: OrderSyncDependencies) -> None:
    """One entry per order a stored webhook names (keyed by the notification: a retried or
    replayed record rewrites it), and one when its order could not be hydrated."""
    entries = []
    now = dependencies.clock()
    for (shop_id, order_id), sequences in plan.orders.items():
        not_done = plan.not_done.get((shop_id, order_id))
        for sequence in sequences:
            stored = plan.webhooks[sequence]
            webhook = webhook_received(
                shop_id=shop_id,
                order_id=order_id,
                received_at=stored.received_at.timestamp(),
                event_key=stored.event_key,
                notification_id=stored.notification_id,
                event_type=stored.event_type,
                event_type_name=stored.event_type_name,
                event_timestamp=stored.event_timestamp,
            )
            entries.append(webhook)
            if not_done is not None:
                outcome, reason = not_done
                entries.append(
                    hydration_not_done(webhook, outcome=outcome, reason=reason, attempted_at=now)
                )
    write_audit(dependencies.sync.audit, entries)


def _listing(
    stored: StoredEventImage, data: EventData | None, dependencies: OrderSyncDependencies
) -> None:
    if not isinstance(data, ProductStatusChange):
        return
    listing = listing_from_webhook(
        stored.shop_id,
        data.product_id,
        data.status,
        data.suspended_reason,
        data.update_time or stored.event_timestamp,
    )
    record_listing_status(listing, dependencies.listings)


def _shop_lifecycle(
    stored: StoredEventImage, data: EventData | None, dependencies: OrderSyncDependencies
) -> None:
    expiration = (
        _expiration_time(data.expiration_time)
        if isinstance(data, UpcomingAuthorizationExpiration)
        else None
    )
    event = AuthorizationEvent(
        type=stored.event_type,
        shop_id=stored.shop_id,
        timestamp=stored.event_timestamp,
        expiration_time=expiration,
    )
    handle_authorization_event(dependencies.shops, event, int(dependencies.clock()))


def _expiration_time(value: Any) -> int | None:
    """TikTok sends a string unix timestamp; anything unreadable still marks the shop (the
    warning matters more than the date), without an expiry."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if number == number and abs(number) < 1e12:  # not NaN, not absurd
        return int(number)
    logger.warning(
        "type-7 expiration_time unreadable; marking without it", value_type=type(value).__name__
    )
    return None


def _fields(exc: ValidationError) -> str:
    return "; ".join(
        ".".join(str(part) for part in error["loc"]) or "<root>"
        for error in exc.errors(include_input=False, include_url=False)[:5]
    )
