"""The whole system on loopback: moto, the template's resources, Lambda workers, the HTTP APIs,
event source mappings and schedules. Use it as a context manager:

    with LocalStack(Path("template.yaml"), port=0) as stack:
        stack.invoke("WebhookFunction", event)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

from tts_local.stack.aws_clients import FAKE_CREDENTIALS, MotoClients
from tts_local.stack.functions import FunctionSpec, FunctionWorker, Invocation, lambda_environment
from tts_local.stack.http_api import (
    ApiServer,
    HttpResponse,
    RouteTable,
    gateway_error,
    routes_from_openapi,
)
from tts_local.stack.lifecycle import (
    DRAIN_SECONDS,
    StartCancelled,
    default_parallelism,
    drain_and_stop,
    initialise_workers,
)
from tts_local.stack.moto_process import MotoProcess
from tts_local.stack.resources import Provisioner, Resource, StackIdentity
from tts_local.stack.schedules import Schedule, Scheduler, ScheduleTarget
from tts_local.stack.sqs_mapping import SqsMapping
from tts_local.stack.stream_mapping import StreamMapping
from tts_local.stack.supervisor import Supervisor, WatchedChild, describe_children
from tts_local.stack.template_loader import load_template

log = logging.getLogger(__name__)

# What the READY line lists: resources that exist locally (placeholders for IAM, logs... do not).
_LISTED_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::SSM::Parameter",
    "AWS::Lambda::Function",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGateway::RestApi",
    "AWS::Scheduler::Schedule",
}


@dataclass(frozen=True)
class StackSettings:
    stack_name: str = "tts-sync-local"
    region: str = "us-east-1"
    # Tests shrink these to stay fast; the defaults are gentle on a laptop.
    sqs_wait_seconds: float = 2.0
    stream_poll_seconds: float = 0.5
    schedule_tick_seconds: float = 1.0
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    # How many function inits run at once (default: the machine's cores).
    init_parallelism: int = field(default_factory=default_parallelism)
    supervise_interval_seconds: float = 0.25


class LocalStack:
    def __init__(
        self,
        template_path: Path | str,
        *,
        port: int = 3000,
        parameter_overrides: dict[str, str] | None = None,
        function_env_overrides: dict[str, str] | None = None,
        settings: StackSettings | None = None,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        """`on_fatal(message)` is called once, from the supervisor's thread, when the stack
        cannot go on (moto died); `failure` holds the message from then on."""
        self.template_path = Path(template_path)
        self.settings = settings or StackSettings()
        self._port = port
        self._parameter_overrides = {
            **self.settings.parameter_overrides,
            **(parameter_overrides or {}),
        }
        self._env_overrides = dict(function_env_overrides or {})
        self._moto: MotoProcess | None = None
        self._api: ApiServer | None = None
        self._scheduler: Scheduler | None = None
        self._supervisor: Supervisor | None = None
        self._watched: list[WatchedChild] = []
        self._on_fatal = on_fatal
        self.failure: str | None = None
        self._mappings: list[SqsMapping | StreamMapping] = []
        self.workers: dict[str, FunctionWorker] = {}
        self.resources: dict[str, Resource] = {}
        self.outputs: dict[str, Any] = {}
        self.clients: MotoClients | None = None

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> LocalStack:
        """Returns once every route answers: each worker has finished its init. Raises
        StartupError when one cannot, StartCancelled when `should_stop()` turns true."""
        try:
            self._start(should_stop)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, should_stop: Callable[[], bool]) -> None:
        template = load_template(self.template_path, self.settings.region)
        # Bind the API port first: a busy port should fail before anything else starts.
        self._api = ApiServer(RouteTable([]), self._invoke_by_name, self._admin, self._port)
        _check_cancelled(should_stop)
        self._moto = MotoProcess()
        self.clients = MotoClients(self._moto.start(), self.settings.region)
        _check_cancelled(should_stop)
        log.info("moto listening on %s", self.clients.endpoint_url)

        identity = StackIdentity(self.settings.stack_name, self.settings.region, self._api.url)
        overrides = dict(self._parameter_overrides)
        if "Stage" in template.parameters:
            overrides.setdefault("Stage", template.parameters["Stage"].get("Default", "dev"))
        provisioner = Provisioner(template, identity, self.clients, overrides)
        self.resources = provisioner.provision_all()
        _check_cancelled(should_stop)
        self.outputs = provisioner.outputs()

        for resource in self._of_type("AWS::Lambda::Function"):
            self._add_worker(resource, template.code_dirs.get(resource.logical_id))
        initialise_workers(
            list(self.workers.values()),
            parallelism=self.settings.init_parallelism,
            should_stop=should_stop,
        )
        routes = [
            route
            for resource in self._of_type("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi")
            for route in routes_from_openapi(
                resource.physical_id,
                resource.properties.get("Body") or {},
                rest=resource.type == "AWS::ApiGateway::RestApi",
            )
        ]
        self._api.routes = RouteTable(routes)
        self._api.start()
        for route in routes:
            log.info("route %s -> %s", route.route_key, route.function_name)
        self._start_mappings()
        self._start_scheduler()
        self._supervisor = Supervisor(
            self._moto, self.workers, self._fatal, self.settings.supervise_interval_seconds
        )
        for child in self._watched:
            self._supervisor.watch(child)
        self._supervisor.start()
        log.info("local stack %s ready on %s", self.settings.stack_name, self.api_url)

    def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Stops in an order that loses nothing in flight and cannot hang: the supervisor (no
        restarts), pollers and the API's listener (no new work), then the invocations in flight
        finish (up to `drain_seconds`), then the workers go, and moto, which they need, last."""
        if self._supervisor:
            self._supervisor.stop()
        if self._scheduler:
            self._scheduler.stop()
        for mapping in self._mappings:
            mapping.stop()
        api, self._api = self._api, None
        if api:
            api.stop()  # no new connections; requests in flight keep their threads
        drain_and_stop(
            list(self.workers.values()),
            drain_seconds=drain_seconds,
            answers_sent=api.wait_idle if api else lambda timeout: True,
        )
        if self._moto:
            # Stopping moto also ends a poller's pending long poll, so the joins below are short.
            self._moto.stop(timeout=1.5)
            self._moto = None
        # The pollers are daemon threads: never wait long. Worst case of the whole stop: 5 s of
        # drain + 1 s for workers + 1.5 s for moto + 1 s here, inside the 10 s a stop may take.
        deadline = time.monotonic() + 1
        for loop in [*self._mappings, self._scheduler, self._supervisor]:
            if loop is not None:
                loop.join(timeout=max(0.0, deadline - time.monotonic()))

    def _fatal(self, message: str) -> None:
        if self.failure is not None:
            return
        self.failure = message
        log.debug("fatal: %s", message)
        if self._on_fatal is not None:
            self._on_fatal(message)

    def watch(self, child: WatchedChild) -> None:
        """Supervises one more child (the CLI's sandbox): restarted when it dies."""
        self._watched.append(child)
        if self._supervisor is not None:
            self._supervisor.watch(child)

    def processes(self) -> list[dict[str, Any]]:
        """What GET /_local/processes answers: each child, its pid, state and restarts."""
        return describe_children(self._moto, self.workers, self._watched)

    def child_pids(self) -> list[int]:
        """Every child process's pid, read without locks (safe from a signal handler)."""
        pids = [worker.pid for worker in list(self.workers.values())]
        pids.append(self._moto.pid if self._moto else None)
        return [pid for pid in pids if pid is not None]

    # ---------------------------------------------------------------- what tests and the CLI use

    @property
    def api_url(self) -> str:
        assert self._api is not None, "stack not started"
        return self._api.url

    @property
    def endpoint_url(self) -> str:
        assert self.clients is not None, "stack not started"
        return self.clients.endpoint_url

    @property
    def ready_info(self) -> dict[str, Any]:
        """What the READY line prints: URLs and each resource's physical name or URL."""
        resources = {}
        for logical_id, resource in self.resources.items():
            if resource.type not in _LISTED_TYPES:
                continue
            is_api = resource.type in ("AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi")
            resources[logical_id] = self.api_url if is_api else resource.physical_id
        return {
            "api_url": self.api_url,
            "aws_endpoint_url": self.endpoint_url,
            "resources": resources,
        }

    def client_environment(self) -> dict[str, str]:
        """Environment that points any boto3 client at this stack's moto, with fake credentials."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.settings.region,
            "AWS_DEFAULT_REGION": self.settings.region,
        }

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id].physical_id

    def client(self, service: str) -> Any:
        assert self.clients is not None, "stack not started"
        return self.clients.client(service)

    def invoke(self, function: str, event: Any) -> Invocation:
        """Invokes a function by logical id (or physical name) the way Lambda's Invoke would."""
        worker = self.workers.get(function) or self._worker_by_name(function)
        return worker.invoke(event)

    def fire_schedule(self, rule_logical_id: str) -> list[Any]:
        """Runs a schedule rule's targets now; raises KeyError for an unknown rule."""
        assert self._scheduler is not None, "stack not started"
        return self._scheduler.fire(rule_logical_id)

    @property
    def schedules(self) -> list[str]:
        return list(self._scheduler.schedules) if self._scheduler else []

    # ---------------------------------------------------------------- wiring

    def _of_type(self, *resource_types: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type in resource_types]

    def _add_worker(self, resource: Resource, code_dir: Path | None) -> None:
        props = resource.properties
        variables = (props.get("Environment") or {}).get("Variables") or {}
        spec = FunctionSpec(
            logical_id=resource.logical_id,
            name=resource.physical_id,
            arn=resource.attributes["Arn"],
            code_dir=code_dir or self.template_path.parent,
            handler=str(props.get("Handler", "app.lambda_handler")),
            timeout_seconds=float(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            environment={key: _env_text(value) for key, value in variables.items()},
        )
        assert self.clients is not None and self._api is not None
        environment = lambda_environment(
            spec,
            self.clients.endpoint_url,
            self.settings.region,
            self._env_overrides,
            lambda_endpoint_url=self._api.url,  # bound before any worker is added
        )
        self.workers[resource.logical_id] = FunctionWorker(spec, environment)

    def _worker_by_name(self, name_or_arn: str) -> FunctionWorker:
        # ARNs may carry a qualifier (alias/version): arn:aws:lambda:region:acct:function:NAME[:Q]
        parts = name_or_arn.split(":")
        name = parts[6] if name_or_arn.startswith("arn:") and len(parts) > 6 else name_or_arn
        for worker in self.workers.values():
            if worker.spec.name == name:
                return worker
        raise KeyError(f"no function {name_or_arn!r} in this stack")

    def _invoke_by_name(self, name: str, event: Any) -> Invocation:
        return self._worker_by_name(name).invoke(event)

    def _start_mappings(self) -> None:
        assert self.clients is not None
        queue_urls = {r.attributes["Arn"]: r.physical_id for r in self._of_type("AWS::SQS::Queue")}
        for resource in self._of_type("AWS::Lambda::EventSourceMapping"):
            props = resource.properties
            worker = self._worker_by_name(str(props["FunctionName"]))
            source = str(props.get("EventSourceArn", ""))
            mapping: SqsMapping | StreamMapping
            if source.startswith("arn:aws:sqs:"):
                queue_url = (
                    queue_urls.get(source)
                    or self.client("sqs").get_queue_url(QueueName=source.rsplit(":", 1)[-1])[
                        "QueueUrl"
                    ]
                )
                mapping = SqsMapping(
                    logical_id=resource.logical_id,
                    properties=props,
                    queue_url=queue_url,
                    invoke=worker.invoke,
                    clients=self.clients,
                    poll_wait_seconds=self.settings.sqs_wait_seconds,
                )
            elif ":dynamodb:" in source and "/stream/" in source:
                mapping = StreamMapping(
                    logical_id=resource.logical_id,
                    properties=props,
                    function_arn=worker.spec.arn,
                    invoke=worker.invoke,
                    clients=self.clients,
                    poll_interval_seconds=self.settings.stream_poll_seconds,
                )
            else:
                log.warning("event source %s of %s is not run locally", source, resource.logical_id)
                continue
            mapping.start()
            self._mappings.append(mapping)
            log.info("mapping %s: %s -> %s", resource.logical_id, source, worker.spec.logical_id)

    def _start_scheduler(self) -> None:
        schedules = [
            Schedule(
                logical_id=rule.logical_id,
                rule_arn=rule.attributes["Arn"],
                expression=str(rule.properties["ScheduleExpression"]),
                enabled=rule.properties.get("State", "ENABLED") == "ENABLED",
                targets=[
                    ScheduleTarget(str(target["Arn"]), target.get("Input"))
                    for target in rule.properties.get("Targets") or []
                ],
            )
            for rule in self._of_type("AWS::Events::Rule")
            if rule.properties.get("ScheduleExpression")
        ]
        # EventBridge Scheduler has one target and sends its Input verbatim ({} when unset).
        schedules += [
            Schedule(
                logical_id=schedule.logical_id,
                rule_arn=schedule.attributes["Arn"],
                expression=str(schedule.properties["ScheduleExpression"]),
                enabled=schedule.properties.get("State", "ENABLED") == "ENABLED",
                targets=[
                    ScheduleTarget(
                        str(schedule.properties["Target"]["Arn"]),
                        schedule.properties["Target"].get("Input", "{}"),
                    )
                ],
            )
            for schedule in self._of_type("AWS::Scheduler::Schedule")
        ]
        self._scheduler = Scheduler(
            schedules, self._deliver, self.settings.region, self.settings.schedule_tick_seconds
        )
        self._scheduler.start()

    def _deliver(self, target_arn: str, event: Any) -> Any:
        """A rule target: a local function, or an SQS queue in moto."""
        if target_arn.startswith("arn:aws:lambda:"):
            result = self._worker_by_name(target_arn).invoke(event)
            return {"ok": result.ok, "payload": result.payload, "error": result.error}
        if target_arn.startswith("arn:aws:sqs:"):
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=target_arn.rsplit(":", 1)[-1])["QueueUrl"]
            return sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))["MessageId"]
        log.warning("schedule target %s is not run locally", target_arn)
        return None

    def _admin(self, method: str, path: str, body: bytes) -> HttpResponse | None:
        """/_local/ routes on the API port: fire schedules, invoke a function by its logical
        id (POST /_local/functions/<LogicalId>/invoke), read the ready info."""
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 3 and parts[1] == "schedules":
            try:
                results = self.fire_schedule(parts[2])
            except KeyError:
                return gateway_error(HTTPStatus.NOT_FOUND, f"no schedule {parts[2]}")
            payload = json.dumps({"rule": parts[2], "results": results}, default=str).encode()
            return HttpResponse(200, [("content-type", "application/json")], payload)
        if method == "POST" and len(parts) == 4 and parts[1:4:2] == ["functions", "invoke"]:
            # What `aws lambda invoke` does on AWS: ops commands (replay) use it locally.
            worker = self.workers.get(parts[2])
            if worker is None:
                return gateway_error(HTTPStatus.NOT_FOUND, f"no function {parts[2]}")
            try:
                event = json.loads(body or b"{}")
            except ValueError:
                return gateway_error(HTTPStatus.BAD_REQUEST, "the event is not JSON")
            result = worker.invoke(event)
            answer = {"ok": result.ok, "payload": result.payload, "error": result.error}
            payload = json.dumps(answer, default=str).encode()
            return HttpResponse(200, [("content-type", "application/json")], payload)
        if method == "GET" and parts == ["_local", "ready"]:
            payload = json.dumps(self.ready_info).encode()
            return HttpResponse(200, [("content-type", "application/json")], payload)
        if method == "GET" and parts == ["_local", "processes"]:
            payload = json.dumps({"failure": self.failure, "processes": self.processes()}).encode()
            return HttpResponse(200, [("content-type", "application/json")], payload)
        return None


def _check_cancelled(should_stop: Callable[[], bool]) -> None:
    if should_stop():
        raise StartCancelled("stop requested during start-up")


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )
