"""The type catalogue is the one table of webhook types: a type added in one place and not the
others fails here (catalogue, subscriptions, the stream consumer's routing and its template
mapping, the sample events, the sandbox's own table written from TikTok's docs)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.orders.streams import stream_batch
from tests.support import FakeLambdaContext, template_resources
from tests.unit.orders.fakes import MemoryMissingOrderLedger, MemoryOrderStore, StaticShopAccess
from tests.unit.outbound.memory_publisher import MemoryEventPublisher
from tts_local.sandbox.webhooks import EVENT_TYPE_NUMBERS
from tts_sync.catalog.listing import Listing, ListingContext
from tts_sync.catalog.refresh import ProductRefreshContext
from tts_sync.events import BY_NUMBER, EVENT_TYPES, SUBSCRIBED_EVENT_TYPES, Domain
from tts_sync.events.router import handle_events_stream
from tts_sync.orders.runtime import OrderSyncDependencies, override_dependencies
from tts_sync.orders.sync import SyncContext
from tts_sync.shops.subscriptions import WEBHOOK_EVENT_TYPES
from tts_sync.tiktok.models import Order, Product

SAMPLES = Path(__file__).resolve().parents[3] / "events" / "webhooks"


def test_numbers_and_names_are_unique_and_every_type_has_a_data_model_and_domain() -> None:
    assert (
        len({t.number for t in EVENT_TYPES})
        == len({t.name for t in EVENT_TYPES})
        == len(EVENT_TYPES)
    )
    for spec in EVENT_TYPES:
        assert spec.data_model is not None and isinstance(spec.domain, Domain)


def test_subscriptions_are_the_catalogues_subscribed_types() -> None:
    assert WEBHOOK_EVENT_TYPES == SUBSCRIBED_EVENT_TYPES
    assert "REVERSE_STATUS_UPDATE" not in SUBSCRIBED_EVENT_TYPES  # legacy, replaced by 11/12


def test_the_sandbox_table_written_from_tiktoks_docs_agrees_on_every_known_type() -> None:
    for spec in EVENT_TYPES:
        assert EVENT_TYPE_NUMBERS[spec.name] == spec.number, spec.name


def test_exactly_one_function_reads_the_events_stream_and_it_takes_every_type() -> None:
    resources = template_resources()
    sam_stream_events = [
        (name, event_name)
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event_name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "DynamoDB"
    ]
    # A SAM DynamoDB event would attach AWSLambdaDynamoDBExecutionRole (streams on "*").
    assert sam_stream_events == []
    readers = {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and resource["Properties"]["EventSourceArn"] == {"Fn::GetAtt": "EventsTable.StreamArn"}
    }
    assert list(readers) == ["EventRouterFunctionStoredWebhooks"]
    (mapping,) = readers.values()
    assert mapping["FunctionName"] == {"Ref": "EventRouterFunction"}
    # No type list to drift from the catalogue: the consumer routes (and ignores) by itself.
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [{"eventName": ["INSERT"]}]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    failures = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert failures == {"Fn::GetAtt": "EventsStreamDeadLetterQueue.Arn"}


def test_the_stream_reader_may_read_the_events_stream_and_nothing_else() -> None:
    function = template_resources()["EventRouterFunction"]["Properties"]
    statements = [s for policy in function["Policies"] for s in policy.get("Statement", [])]
    stream_actions = {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"}
    readers = [s for s in statements if stream_actions & set(_actions(s))]
    assert readers
    assert all(s["Resource"] == {"Fn::GetAtt": "EventsTable.StreamArn"} for s in readers)
    assert not function.get("ManagedPolicyArns")


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_sample_event_is_a_catalogue_type_with_valid_data_or_deliberately_unknown(
    sample: Path,
) -> None:
    from tts_sync.webhooks.envelope import parse_envelope

    envelope = parse_envelope(sample.read_bytes())
    if sample.stem == "unknown_type":
        assert envelope.type not in BY_NUMBER
    else:
        assert envelope.typed_data() is not None


class RecordingShops:
    def __init__(self) -> None:
        self.marked: list[tuple[str, str]] = []

    def mark(self, shop_id: str, status: Any, reason: str, now: int, **_: Any) -> bool:
        self.marked.append((shop_id, str(status)))
        return True


class RecordingListings:
    def __init__(self) -> None:
        self.saved: list[Listing] = []

    def get(self, shop_id: str, product_id: str) -> Listing | None:
        return None

    def save_if_newer(self, listing: Listing) -> bool:
        self.saved.append(listing)
        return True

    def rejected(self, shop_id: str) -> list[Listing]:
        return []


class RecordingOrderApi:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_order_detail(
        self, shop: Any, order_ids: Any, *, deadline: Any = None, malformed: Any = None
    ) -> list[Order]:
        self.asked.extend(order_ids)
        return [
            Order.model_validate({"id": i, "status": "ON_HOLD", "create_time": 1, "update_time": 2})
            for i in order_ids
        ]

    def search_orders(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the consumer never searches")


class RecordingProductApi:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_product_detail(self, shop: Any, product_id: str, *, deadline: Any = None) -> Product:
        self.asked.append(product_id)
        return Product(id=product_id)


class NoCatalogEntries:
    def skus_by_id(self, shop_id: str, sku_ids: Any) -> dict[str, Any]:
        return {}

    def seller_sku_pointers(self, shop_id: str, seller_skus: Any) -> dict[str, str]:
        return {}

    def save_skus(self, skus: Any) -> None:
        assert list(skus) == []


def test_every_catalogue_type_reaches_its_domain_handler() -> None:
    shop_id = "7494049642642441621"
    shops, listings, api = RecordingShops(), RecordingListings(), RecordingOrderApi()
    products = RecordingProductApi()
    publisher = MemoryEventPublisher()
    override_dependencies(
        OrderSyncDependencies(
            sync=SyncContext(store=MemoryOrderStore(), publisher=publisher, clock=time.time),
            listings=ListingContext(store=listings, publisher=publisher, clock=time.time),
            shops=shops,  # type: ignore[arg-type]
            shop_access=StaticShopAccess(shop_id),
            watermarks=None,  # type: ignore[arg-type]
            missing_orders=MemoryMissingOrderLedger(),
            order_api=lambda: api,
            products=ProductRefreshContext(
                store=NoCatalogEntries(),  # type: ignore[arg-type]
                api=lambda: products,  # type: ignore[arg-type,return-value]
                clock=time.time,
            ),
        )
    )
    try:
        data = {
            "order_id": "5001",
            "product_id": "6001",
            "status": "PRODUCT_AUDIT_FAILURE",
            "package_list": [{"package_id": "7001", "order_id_list": ["5004"]}],
        }
        envelopes = [
            {
                "type": spec.number,
                "tts_notification_id": f"n-{spec.number}",
                "shop_id": shop_id,
                "timestamp": int(time.time()),
                "data": {**data, "order_id": f"50{spec.number:02d}"},
            }
            for spec in EVENT_TYPES
        ]
        result = handle_events_stream(stream_batch(envelopes), FakeLambdaContext(), lambda: 30.0)
    finally:
        override_dependencies(None)
    assert result == {"batchItemFailures": []}
    order_types = [s.number for s in EVENT_TYPES if s.domain is Domain.ORDERS]
    expected_orders = {f"50{n:02d}" for n in order_types if n != 4} | {"5004"}
    assert set(api.asked) == expected_orders
    # Product status also records the listing status; every catalog type refreshes the
    # product it names, once for the batch (Get Product Detail, coalesced).
    assert [listing.product_id for listing in listings.saved] == ["6001"]
    assert sum(1 for s in EVENT_TYPES if s.domain is Domain.CATALOG) == 4  # 5, 15, 16, 50
    assert products.asked == ["6001"]
    assert len(shops.marked) == sum(1 for s in EVENT_TYPES if s.domain is Domain.SHOPS)


def test_the_routers_console_event_is_a_stream_batch_it_reads() -> None:
    from tts_sync.events.stream import EventsStreamRecord

    path = SAMPLES.parent / "console" / "event_router_order_webhook.json"
    (raw,) = json.loads(path.read_text())["Records"]
    record = EventsStreamRecord.model_validate(raw)
    assert record.event is not None and record.event.event_type == 1
    assert record.event.typed_data().order_id == "576462400412456789"  # type: ignore[union-attr]
