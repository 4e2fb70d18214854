"""The erasure registry covers every store template.yaml declares and every field that can
hold PII: a new table, queue or record field fails here until someone says how a deletion
request reaches it (tts_sync.privacy.registry, and the README's store list)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support import REPO_ROOT, template_resources
from tts_sync.events import StoredEvent
from tts_sync.events.envelope import WebhookEnvelope
from tts_sync.orders.models import BuyerData, OrderRecord
from tts_sync.privacy.registry import (
    BUYER_KEPT_AFTER_ERASURE,
    EVENT_ITEM_KEPT_ATTRIBUTES,
    EVENT_ITEM_PII_ATTRIBUTES,
    ORDER_KEPT_FIELDS,
    ORDER_PII_FIELDS,
    STORES,
    Coverage,
)

# Resource types that keep data (a new kind of store must be added here and classified).
DATA_RESOURCE_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::S3::Bucket",
    "AWS::Kinesis::Stream",
    "AWS::Events::Archive",
    "AWS::Logs::LogGroup",
}
# Log groups hold no buyer PII by policy (tests/integration/privacy checks the logs).
NOT_STORES = {"AWS::Logs::LogGroup"}


def test_every_data_store_in_the_template_is_in_the_registry() -> None:
    declared = {
        logical_id
        for logical_id, resource in template_resources().items()
        if resource["Type"] in DATA_RESOURCE_TYPES - NOT_STORES
    }
    missing = declared - set(STORES)
    assert not missing, (
        f"{sorted(missing)} can hold data but are not in tts_sync.privacy.registry.STORES: "
        "say whether deletion requests erase them, they expire, or hold no PII"
    )
    stale = set(STORES) - declared
    assert not stale, f"{sorted(stale)} are in the registry but not in template.yaml"


def test_erased_stores_are_granted_to_the_privacy_function() -> None:
    statements = [
        statement
        for policy in template_resources()["PrivacyDeletionFunction"]["Properties"]["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
    ]
    granted = {
        resource["Fn::GetAtt"].split(".")[0]
        for statement in statements
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if isinstance(resource, dict) and "Fn::GetAtt" in resource
    }
    erased = {name for name, store in STORES.items() if store.coverage is Coverage.ERASED}
    assert erased <= granted


def test_every_order_record_field_is_pii_or_kept() -> None:
    fields = set(OrderRecord.model_fields)
    unclassified = fields - ORDER_PII_FIELDS - ORDER_KEPT_FIELDS
    assert not unclassified, (
        f"OrderRecord fields {sorted(unclassified)}: add them to ORDER_PII_FIELDS (erased) or "
        "ORDER_KEPT_FIELDS (financial or operational facts) in tts_sync.privacy.registry"
    )
    assert not ORDER_PII_FIELDS & ORDER_KEPT_FIELDS
    assert fields == (ORDER_PII_FIELDS | ORDER_KEPT_FIELDS)


def test_erasure_empties_every_buyer_field_but_the_pseudonym() -> None:
    from tests.unit.privacy.builders import KEY, order_record, stored
    from tts_sync.privacy.redaction import erase_order

    erased = erase_order(stored(order_record(1)), KEY, 1_796_000_000)
    assert erased is not None
    buyer = erased.record.buyer.model_dump()
    for name in set(BuyerData.model_fields) - BUYER_KEPT_AFTER_ERASURE:
        assert buyer[name] in ("", None, []), f"BuyerData.{name} survives the erasure"


def test_every_stored_webhook_attribute_is_classified() -> None:
    envelope = WebhookEnvelope.model_validate(
        {
            "type": 1,
            "tts_notification_id": "n1",
            "shop_id": "1",
            "timestamp": 1,
            "data": {"order_id": "2"},
        }
    )
    item = StoredEvent(
        event_key="k", envelope=envelope, payload="{}", received_at=datetime.now(UTC)
    ).to_item()
    unclassified = set(item) - EVENT_ITEM_PII_ATTRIBUTES - EVENT_ITEM_KEPT_ATTRIBUTES
    assert not unclassified, f"Events item attributes {sorted(unclassified)} are unclassified"


def test_the_readme_lists_every_store() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [name for name in STORES if f"`{name}`" not in readme]
    assert not missing, f"README's privacy section does not list {missing}"
