"""What a function's cold import leaves out: checked by module, not timed (see bench_cold_start)."""

from __future__ import annotations

import botocore.session
import pytest

from tests.unit.test_observability import REPO, _modules_after_import, after_cold_import
from tts_sync.aws import dynamodb_client, reset_clients, secretsmanager_client, sqs_client


def test_the_webhook_creates_its_client_without_loading_boto3_or_s3transfer():
    modules = _modules_after_import("webhook", POWERTOOLS_TRACE_DISABLED="true")
    assert "botocore.session" in modules
    assert not {"boto3", "s3transfer"} & {name.split(".")[0] for name in modules}


def test_botocore_clients_keep_the_endpoint_override_and_the_fast_budget(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    reset_clients()
    try:
        fast, default, queue = dynamodb_client(fast=True), dynamodb_client(), sqs_client()
        assert fast is dynamodb_client(fast=True)  # one per container, not per call
        assert fast.meta.endpoint_url == queue.meta.endpoint_url == "http://127.0.0.1:4566"
        assert fast.meta.region_name == "eu-west-1"
        assert (fast.meta.config.connect_timeout, fast.meta.config.read_timeout) == (0.5, 0.8)
        assert fast.meta.config.retries["total_max_attempts"] == 2
        assert default.meta.config.read_timeout == 60
        assert default.meta.config.retries["mode"] == "standard"
    finally:
        reset_clients()


def test_the_ops_function_loads_neither_the_tiktok_client_nor_boto3():
    # It never calls TikTok: its deadline comes from tts_sync.deadline, not tiktok.retry.
    modules = _modules_after_import("ops", POWERTOOLS_TRACE_DISABLED="true")
    assert "tts_sync.ops.jobs" in modules
    assert not {"tts_sync.tiktok", "httpx", "boto3"} & modules


@pytest.mark.parametrize(
    "app", ["event_router", "order_sync", "privacy_deletion", "quantity_export", "tracking_upload"]
)
def test_functions_reading_orders_do_not_load_boto3(app):
    # The order items go through tts_sync.dynamo_values, not boto3.dynamodb.types.
    modules = _modules_after_import(app, POWERTOOLS_TRACE_DISABLED="true")
    assert not {"boto3", "s3transfer"} & {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    "app",
    [
        "event_router",
        "oauth",
        "order_sync",
        "privacy_deletion",
        "quantity_export",
        "token_refresh",
        "tracking_upload",
    ],
)
def test_httpx_loads_with_the_first_tiktok_client_not_at_import(app):
    modules = _modules_after_import(app, POWERTOOLS_TRACE_DISABLED="true")
    assert "httpx" not in modules


def _models_built_at_import(app: str) -> set[str]:
    then = (
        "from pydantic import BaseModel\n"
        "def walk(c):\n"
        "    for s in c.__subclasses__():\n"
        "        yield s\n"
        "        yield from walk(s)\n"
        "print('\\n'.join(c.__module__ + '.' + c.__qualname__ for c in set(walk(BaseModel))"
        " if c.__module__.startswith('tts_sync') and c.__pydantic_complete__))"
    )
    return set(after_cold_import(app, then, POWERTOOLS_TRACE_DISABLED="true").split())


@pytest.mark.parametrize("app", ["tracking_upload", "quantity_export", "token_refresh"])
def test_domain_models_are_built_on_first_use_not_at_import(app):
    built = _models_built_at_import(app)
    for model in (
        "tts_sync.tiktok.models.Order",
        "tts_sync.tiktok.models.Product",
        "tts_sync.orders.models.OrderRecord",
        "tts_sync.outbound.models.OutboundEvent",
        "tts_sync.shops.models.Shop",
    ):
        assert model not in built


@pytest.mark.parametrize(
    "app",
    [
        "oauth",
        "order_sync",
        "privacy_deletion",
        "quantity_export",
        "token_refresh",
        "tracking_upload",
    ],
)
def test_reading_the_type_catalogue_does_not_build_the_envelope_models(app):
    # The shop code reads tts_sync.events.catalogue; the package re-exports load on first use.
    modules = _modules_after_import(app, POWERTOOLS_TRACE_DISABLED="true")
    assert "tts_sync.events.catalogue" in modules
    assert not {"tts_sync.events.envelope", "tts_sync.events.stored"} & modules


def test_clients_share_one_botocore_session(monkeypatch):
    # Each session parses the endpoint and partition files again: the webhook's first request
    # makes two clients (DynamoDB, Secrets Manager) and should pay for that once.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    sessions = []
    real = botocore.session.get_session
    monkeypatch.setattr(botocore.session, "get_session", lambda: sessions.append(1) or real())
    reset_clients()
    try:
        dynamodb, secrets = dynamodb_client(fast=True), secretsmanager_client(fast=True)
        assert dynamodb is not secrets
        assert len(sessions) == 1
    finally:
        reset_clients()


@pytest.mark.parametrize(
    "app", sorted(path.parent.name for path in REPO.glob("functions/*/app.py"))
)
def test_the_cold_import_runs_no_garbage_collections_and_leaves_the_collector_on(app):
    printed = after_cold_import(
        app,
        "import gc; print(sum(s['collections'] for s in gc.get_stats()) - before, "
        "gc.isenabled(), gc.get_freeze_count())",
        before="import gc; before = sum(s['collections'] for s in gc.get_stats())",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    collections, enabled, frozen = printed.split()
    # The imports themselves run none (main: 70 to 130 per function); the few left are the
    # app module's own lines around the block.
    assert int(collections) <= 10
    assert enabled == "True"
    assert int(frozen) > 10_000  # what the import made is frozen, not rescanned


def test_the_collector_is_paused_only_inside_the_block_and_stays_off_if_it_was():
    import gc

    from tts_sync.cold_start import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_the_build_ships_bytecode_lambda_could_not_write():
    # sam build copies sources only; /opt and /var/task are read-only, so without .pyc in the
    # artifacts every cold start compiles each module it imports.
    recipe = (REPO / "Makefile").read_text().split("\nbuild:", 1)[1].split("\n\n", 1)[0]
    sam_build = recipe.index("$(SAM) build")
    compile_step = recipe.index("compileall")
    assert sam_build < compile_step
    assert "--invalidation-mode unchecked-hash .aws-sam/build" in recipe[compile_step:]
