"""Ops console events of the tracking upload function (events/console/tracking_upload_*.json),
told apart by their `job` field (the CLI `tts-sync carriers ...` sends the same):

- {"job": "carriers_build", "shop_id"}: rebuild the carrier map from TikTok (warehouses ->
  delivery options -> shipping providers).
- {"job": "carriers", "shop_id"}: the map: providers per delivery option, and the overrides.
- {"job": "carrier_override", "shop_id", "carrier", "shipping_provider", "delivery_option_id"?}:
  map a back-office carrier name to a provider (its id or TikTok's name), validated.
- {"job": "carrier_override_delete", "shop_id", "carrier", "delivery_option_id"?}
- {"job": "fulfilment_settings", "shop_id", "settings"?}: show (or set) the shop's settings.
- {"job": "tracking_refusals", "shop_id"}: uploads refused, with code and reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tts_sync.errors import TtsSyncError
from tts_sync.fulfilment.carriers import (
    CarrierOverrideRefusedError,
    build_carrier_map,
    set_override,
)
from tts_sync.fulfilment.models import CarrierMap, CarrierName, FulfilmentSettings
from tts_sync.fulfilment.runtime import tracking_upload_dependencies
from tts_sync.tiktok.retry import Deadline

ShopId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
OptionId = Annotated[str, Field(max_length=64, pattern=r"^[0-9A-Za-z_-]*$")]


class InvalidFulfilmentJobError(TtsSyncError):
    """The event is not a job of this function; the message says what is expected."""


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildCarriers(_Job):
    job: Literal["carriers_build"]
    shop_id: ShopId


class ShowCarriers(_Job):
    job: Literal["carriers"]
    shop_id: ShopId


class SetCarrierOverride(_Job):
    job: Literal["carrier_override"]
    shop_id: ShopId
    carrier: CarrierName
    shipping_provider: Annotated[str, Field(min_length=1, max_length=128)]
    delivery_option_id: OptionId = ""


class DeleteCarrierOverride(_Job):
    job: Literal["carrier_override_delete"]
    shop_id: ShopId
    carrier: CarrierName
    delivery_option_id: OptionId = ""


class SettingsJob(_Job):
    job: Literal["fulfilment_settings"]
    shop_id: ShopId
    settings: FulfilmentSettings | None = None


class ShowTrackingRefusals(_Job):
    job: Literal["tracking_refusals"]
    shop_id: ShopId


AnyFulfilmentJob = (
    BuildCarriers
    | ShowCarriers
    | SetCarrierOverride
    | DeleteCarrierOverride
    | SettingsJob
    | ShowTrackingRefusals
)
_JOB: TypeAdapter[AnyFulfilmentJob] = TypeAdapter(
    Annotated[AnyFulfilmentJob, Field(discriminator="job")]
)
JOB_NAMES = (
    "carriers_build",
    "carriers",
    "carrier_override",
    "carrier_override_delete",
    "fulfilment_settings",
    "tracking_refusals",
)


def parse_fulfilment_job(event: Any) -> AnyFulfilmentJob:
    try:
        return _JOB.validate_python(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise InvalidFulfilmentJobError(
            f"expected an SQS batch or a job ({', '.join(JOB_NAMES)}): {problems}"
        ) from None


def handle_fulfilment_job(event: Any, deadline: Deadline) -> dict[str, Any]:
    job = parse_fulfilment_job(event)
    dependencies = tracking_upload_dependencies()
    store = dependencies.store
    answer: dict[str, Any] = {"job": job.job, "shop_id": job.shop_id}
    if isinstance(job, BuildCarriers):
        target = dependencies.upload.shops.target(job.shop_id)
        if target is None:
            raise InvalidFulfilmentJobError(f"shop {job.shop_id} is not connected (or not usable)")
        built = build_carrier_map(
            target.access,
            dependencies.logistics_api(),
            store,
            dependencies.upload.clock,
            deadline,
        )
        answer.update(_view(built))
    elif isinstance(job, ShowCarriers):
        answer.update(_view(store.carrier_map(job.shop_id)))
    elif isinstance(job, SetCarrierOverride):
        try:
            override = set_override(
                job.shop_id, job.carrier, job.shipping_provider, job.delivery_option_id, store
            )
        except CarrierOverrideRefusedError as exc:
            answer.update(mapped=False, reason=str(exc))
        else:
            answer.update(mapped=True, override=override.model_dump())
    elif isinstance(job, DeleteCarrierOverride):
        answer["removed"] = store.delete_override(job.shop_id, job.carrier, job.delivery_option_id)
    elif isinstance(job, SettingsJob):
        if job.settings is not None:
            store.save_settings(job.shop_id, job.settings)
        answer["settings"] = store.settings(job.shop_id).model_dump()
    else:
        answer["refusals"] = [r.model_dump(mode="json") for r in store.refusals(job.shop_id)]
    return answer


def _view(carrier_map: CarrierMap) -> dict[str, Any]:
    options: dict[str, dict[str, Any]] = {}
    for provider in carrier_map.providers:
        option = options.setdefault(
            provider.delivery_option_id,
            {
                "delivery_option_id": provider.delivery_option_id,
                "name": provider.delivery_option_name,
                "providers": [],
            },
        )
        option["providers"].append({"id": provider.shipping_provider_id, "name": provider.name})
    return {
        "built_at": carrier_map.built_at,
        "delivery_options": list(options.values()),
        "overrides": [o.model_dump() for o in carrier_map.overrides],
    }
