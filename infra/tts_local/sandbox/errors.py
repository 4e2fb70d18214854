"""The sandbox's answers for failures: TikTok's codes with plausible HTTP statuses."""

from __future__ import annotations

INVALID_SIGN = 106001
ACCESS_TOKEN_EXPIRED = 105002
MISSING_SCOPE = 105005
SHOP_CIPHER_REQUIRED = 106013
RATE_LIMITED = 36009002
INTERNAL_ERROR = 36009003
INVALID_PARAMETER = 36009004
GATEWAY_TIMEOUT = 36009007
NOT_FOUND = 36009404  # sandbox-specific: no such resource/route
# Per-item codes inside data.errors[]. TikTok's where tiktok-shop-api.md section 4 names them
# (warehouse list mismatch, invalid stock count, product deleted or not in the shop); the
# others are chosen by the sandbox.
SKU_NOT_FOUND = 12052001
WAREHOUSE_MISMATCH = 12019028
QUANTITY_OUT_OF_RANGE = 12019024
PRODUCT_DELETED = 12052260
PRICE_INVALID = 12052300
INJECTED_ITEM_ERROR = 12052999
# Fulfilment business errors.
ORDER_NOT_SHIPPABLE = 21011001
TRACKING_UPDATE_REFUSED = 21011002
# tiktok-shop-api.md section 4: Mark Package As Shipped outside its markets; shipping over a
# buyer's pending cancellation request (outside the US, where shipping rejects the request).
MARK_SHIPPED_NOT_AVAILABLE = 21008106
CANCELLATION_REQUEST_PENDING = 21011007


class ApiFailure(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        http_status: int = 400,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
