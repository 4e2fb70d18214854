"""Orders, line items and packages as TikTok keeps them, and the JSON Get Order Detail /
Search Orders return for them (tiktok-shop-api.md section 4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

HOUR = 3600
DAY = 24 * HOUR
# Deadlines count from payment. TikTok's exact windows vary by region and shop; these are the
# US defaults' shape (ship within 72 h), enough for deadline sweeps to have something to read.
SHIP_WINDOW = 72 * HOUR
COLLECTION_WINDOW = 96 * HOUR
DELIVERY_WINDOW = 10 * DAY
AUTO_CANCEL_WINDOW = 7 * DAY
HIDDEN_ADDRESS_STATUSES = frozenset({"UNPAID", "ON_HOLD"})  # the address is empty until then
CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass
class Package:
    id: str
    shop_id: str
    order_ids: list[str]
    status: str = "PROCESSING"
    tracking_number: str = ""
    shipping_provider_id: str = ""
    shipped_at: int | None = None
    tracking_updates: int = 0


@dataclass
class LineItem:
    """One unit of one SKU: TikTok has no quantity field, two mugs are two lines."""

    id: str
    sku_id: str
    product_id: str
    seller_sku: str
    sale_price: str
    currency: str
    package_id: str = ""
    product_name: str = ""
    sku_name: str = ""
    original_price: str = ""  # empty: same as sale_price
    is_gift: bool = False
    tax_rate: str = "0"
    # A virtual bundle: [{sku_id, product_id, seller_sku, sku_count}]; stock moves on these.
    combined_listing_skus: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tax_amount(self) -> Decimal:
        return (Decimal(self.sale_price) * Decimal(self.tax_rate)).quantize(CENT, ROUND_HALF_UP)

    def to_api(self, order: Order) -> dict[str, Any]:
        package = order.packages.get(self.package_id)
        line = {
            "id": self.id,
            "sku_id": self.sku_id,
            "product_id": self.product_id,
            "product_name": self.product_name,
            "sku_name": self.sku_name,
            "seller_sku": self.seller_sku,
            "sale_price": self.sale_price,
            "original_price": self.original_price or self.sale_price,
            "currency": self.currency,
            "display_status": order.status,
            "package_id": self.package_id,
            "package_status": package.status if package else "",
            "tracking_number": package.tracking_number if package else "",
            "shipping_provider_id": package.shipping_provider_id if package else "",
            "is_gift": self.is_gift,
            "cancel_reason": order.cancel_reason,
            "item_tax": (
                [
                    {
                        "tax_type": "SALES_TAX",
                        "tax_amount": money(self.tax_amount),
                        "tax_rate": self.tax_rate,
                    }
                ]
                if Decimal(self.tax_rate)
                else []
            ),
        }
        if self.combined_listing_skus:
            line["combined_listing_skus"] = [dict(s) for s in self.combined_listing_skus]
        return line


@dataclass
class Order:
    id: str
    shop_id: str
    status: str
    create_time: int
    update_time: int
    line_items: list[LineItem]
    recipient: dict[str, Any]
    buyer_email: str = ""
    warehouse_id: str = ""
    shipping_type: str = "SELLER"
    fulfillment_type: str = "FULFILLMENT_BY_SELLER"
    delivery_option_id: str = ""
    paid_time: int = 0  # 0 while UNPAID
    shipping_fee: str = "0.00"
    cancel_reason: str = ""
    cancellation_initiator: str = ""  # BUYER, SELLER or SYSTEM
    request_cancel_time: int = 0
    # The buyer asked to cancel and the seller has not answered yet (status unchanged).
    buyer_cancel_requested: bool = False
    rts_time: int = 0  # when the first package shipped (0: not yet)
    has_updated_recipient_address: bool = False
    order_type: str = "NORMAL"
    is_sample_order: bool = False
    is_replacement_order: bool = False
    user_id: str = ""
    buyer_message: str = ""
    buyer_nickname: str = ""
    buyer_avatar: str = ""
    # The same Package objects as SandboxState.packages, so lines show live package status.
    packages: dict[str, Package] = field(default_factory=dict, repr=False)
    # Line indexes per package once the order can ship (None: one package for every line).
    package_split: list[list[int]] | None = None

    def attach_package(self, package: Package, items: Iterable[LineItem]) -> None:
        self.packages[package.id] = package
        for item in items:
            item.package_id = package.id

    def payment(self) -> dict[str, str]:
        sub_total = sum((Decimal(i.sale_price) for i in self.line_items), Decimal(0))
        original = sum(
            (Decimal(i.original_price or i.sale_price) for i in self.line_items), Decimal(0)
        )
        tax = sum((i.tax_amount for i in self.line_items), Decimal(0))
        shipping = Decimal(self.shipping_fee)
        currency = self.line_items[0].currency if self.line_items else "USD"
        return {
            "currency": currency,
            "sub_total": money(sub_total),
            "shipping_fee": money(shipping),
            # Gifts and markdowns are the seller's: the gap between list and sale price.
            "seller_discount": money(original - sub_total),
            "platform_discount": money(Decimal(0)),
            "tax": money(tax),
            "total_amount": money(sub_total + shipping + tax),
            "original_total_product_price": money(original),
        }

    def deadlines(self) -> dict[str, int]:
        if not self.paid_time:
            return {}
        return {
            "paid_time": self.paid_time,
            "rts_sla_time": self.paid_time + SHIP_WINDOW,
            "tts_sla_time": self.paid_time + SHIP_WINDOW,
            "shipping_due_time": self.paid_time + SHIP_WINDOW,
            "collection_due_time": self.paid_time + COLLECTION_WINDOW,
            "delivery_due_time": self.paid_time + DELIVERY_WINDOW,
            "cancel_order_sla_time": self.paid_time + AUTO_CANCEL_WINDOW,
        }

    def to_api(self) -> dict[str, Any]:
        hidden = self.status in HIDDEN_ADDRESS_STATUSES
        package_ids = list(dict.fromkeys(i.package_id for i in self.line_items if i.package_id))
        return {
            "id": self.id,
            "status": self.status,
            "create_time": self.create_time,
            "update_time": self.update_time,
            **self.deadlines(),
            "cancel_reason": self.cancel_reason,
            "cancellation_initiator": self.cancellation_initiator,
            "is_buyer_request_cancel": (
                self.cancellation_initiator == "BUYER" or self.buyer_cancel_requested
            ),
            **({"rts_time": self.rts_time} if self.rts_time else {}),
            "request_cancel_time": self.request_cancel_time,
            "is_on_hold_order": self.status == "ON_HOLD",
            "fulfillment_type": self.fulfillment_type,
            "shipping_type": self.shipping_type,
            "delivery_option_id": self.delivery_option_id,
            "warehouse_id": self.warehouse_id,
            "packages": [{"id": package_id} for package_id in package_ids],
            "split_or_combine_tag": "SPLIT" if len(package_ids) > 1 else "",
            "has_updated_recipient_address": self.has_updated_recipient_address,
            "order_type": self.order_type,
            "is_sample_order": self.is_sample_order,
            "is_replacement_order": self.is_replacement_order,
            "payment": self.payment(),
            "user_id": self.user_id,
            # Before payment and in the ON_HOLD window TikTok hides where the buyer lives.
            "buyer_email": "" if hidden else self.buyer_email,
            "buyer_message": self.buyer_message,
            "buyer_nickname": self.buyer_nickname,
            "buyer_avatar": self.buyer_avatar,
            "recipient_address": {} if hidden else _copy_address(self.recipient),
            "line_items": [i.to_api(self) for i in self.line_items],
        }


def _copy_address(address: dict[str, Any]) -> dict[str, Any]:
    return {
        key: [dict(d) for d in value] if key == "district_info" else value
        for key, value in address.items()
    }


def recipient_address(number: int) -> dict[str, Any]:
    """A full US address of TikTok's shape; `number` makes each one different."""
    street = f"{100 + number} Main St"
    return {
        "name": "Alex Buyer",
        "first_name": "Alex",
        "last_name": "Buyer",
        "phone_number": f"(+1)555{number % 10_000_000:07d}",
        "full_address": f"{street}, Springfield, Sangamon, Illinois, 62701, United States",
        "address_line1": street,
        "address_line2": f"Apt {number % 50 + 1}",
        "address_line3": "",
        "address_line4": "",
        "postal_code": "62701",
        "region_code": "US",
        "district_info": [
            {"address_level_name": "Country", "address_name": "United States"},
            {"address_level_name": "State", "address_name": "Illinois"},
            {"address_level_name": "County", "address_name": "Sangamon"},
            {"address_level_name": "City", "address_name": "Springfield"},
        ],
    }
