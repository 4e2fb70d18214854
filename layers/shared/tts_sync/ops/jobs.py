"""Entry logic of the ops function: the console test events an operator runs from the Lambda
console (events/console/ops_*.json), told apart by their `job` field. The same domain functions
as `tts-sync ops redrive|replay|replay-quarantine` do the work.

- {"job": "redrive", "queues"?, "move": false, "limit"?}: dry run by default (what waits in
  each DLQ, per reason); "move": true moves each DLQ back to its source queue.
- {"job": "replay", "shop_id"?, "since"?, "until"?, "types"?, "order_ids"?, "dry_run": false,
  "start_after"?}: stored events through EventRouterFunction, as the stream delivers them.
- {"job": "replay_quarantine", "dry_run": false, "start_after"?}: quarantined deliveries
  through the intake's parse and write again.

A DLQ or a table can hold more than one invocation (at most 900 s) gets through: a run stops
starting work when the time left is under one more step's budget and answers "complete":
false with "to_continue", the exact event to run next. The answers hold counts, reasons and
keys (event keys, queue ids), never message bodies or buyer data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    TypeAdapter,
    model_validator,
)

from tts_sync.console_jobs import parse_console_job
from tts_sync.deadline import Deadline
from tts_sync.errors import TtsSyncError
from tts_sync.events.catalogue import BY_NAME, BY_NUMBER
from tts_sync.observability import MetricUnit, logger, metrics
from tts_sync.ops.quarantine_replay import (
    quarantine_remover,
    quarantined_bodies,
    replay_quarantined,
)
from tts_sync.ops.redrive import RedriveError, redrive_stack
from tts_sync.ops.replay import (
    ReplaySelection,
    count_stored_events,
    replay,
    stored_event_pages,
)
from tts_sync.ops.runtime import OpsDependencies, ops_dependencies
from tts_sync.webhooks.dynamo_store import DynamoEventStore

# The time one more step may take; none starts with less left (Lambda stops at 900 s).
SECONDS_PER_REDRIVE_BATCH = 10.0  # receive, send and delete 10 messages
SECONDS_PER_REPLAY_BATCH = 65.0  # one router invocation (its Timeout is 60 s)
# A replay reads a page only with time left for it and the send of what it gathered after it:
# a run always sends what it read, so each run moves the resume point forward.
SECONDS_PER_SCAN_PAGE = 10.0
SECONDS_PER_QUARANTINED_BODY = 5.0  # a parse and one conditional write
EXAMPLES = "events/console/ops_*.json"


class InvalidOpsEventError(TtsSyncError):
    """The event is not one of the ops jobs; the message says what is expected."""


def _event_type(value: Any) -> Any:
    """A webhook type by number (1) or name ("ORDER_STATUS_CHANGE"), as the CLI's --type."""
    if isinstance(value, str) and not value.isdigit():
        spec = BY_NAME.get(value.upper())
        if spec is None:
            raise ValueError(f"unknown webhook type {value!r}; known: {', '.join(sorted(BY_NAME))}")
        return spec.number
    number = int(value) if isinstance(value, str) else value
    if isinstance(number, int) and number not in BY_NUMBER:
        raise ValueError(f"unknown webhook type {number}; known: {sorted(BY_NUMBER)}")
    return number


LogicalId = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9]+$")]
ShopId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
EventTypeNumber = Annotated[int, BeforeValidator(_event_type)]
ScanKey = Annotated[str, Field(min_length=1, max_length=1024)]


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Redrive(_Job):
    job: Literal["redrive"]
    queues: list[LogicalId] | None = Field(default=None, min_length=1)  # None: every DLQ
    move: bool = False
    limit: PositiveInt | None = None  # at most this many per DLQ in one run


class Replay(_Job):
    job: Literal["replay"]
    shop_id: ShopId | None = None
    # By when TikTok sent the event; with a zone ("...Z").
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    types: list[EventTypeNumber] | None = None
    order_ids: list[OrderId] | None = None
    dry_run: bool = False
    start_after: ScanKey | None = None  # from a previous answer's to_continue

    @model_validator(mode="after")
    def _window(self) -> Replay:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")
        return self


class ReplayQuarantine(_Job):
    job: Literal["replay_quarantine"]
    dry_run: bool = False
    start_after: ScanKey | None = None  # from a previous answer's to_continue


AnyJob = Redrive | Replay | ReplayQuarantine
Job = Annotated[AnyJob, Field(discriminator="job")]
_JOB: TypeAdapter[AnyJob] = TypeAdapter(Job)
JOB_NAMES = ("redrive", "replay", "replay_quarantine")


def parse_ops_event(event: Any) -> AnyJob:
    """The job `event` asks for; InvalidOpsEventError names each bad field."""
    return parse_console_job(event, _JOB, JOB_NAMES, InvalidOpsEventError, EXAMPLES)


def handle_ops_event(event: Any, deadline: Deadline) -> dict[str, Any]:
    job = parse_ops_event(event)
    dependencies = ops_dependencies()
    if isinstance(job, Redrive):
        answer = _redrive(job, dependencies, _budget(deadline, SECONDS_PER_REDRIVE_BATCH))
    elif isinstance(job, Replay):
        answer = _replay(
            job,
            dependencies,
            keep_reading=_budget(deadline, SECONDS_PER_REPLAY_BATCH + SECONDS_PER_SCAN_PAGE),
            keep_going=_budget(deadline, SECONDS_PER_REPLAY_BATCH),
        )
    else:
        answer = _replay_quarantine(
            job, dependencies, _budget(deadline, SECONDS_PER_QUARANTINED_BODY)
        )
    counts: dict[str, Any] = {
        k: v for k, v in answer.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    logger.info("ops job finished", job=job.job, complete=answer["complete"], **counts)
    # A run left to continue shows on the dashboard's function panel beside its errors.
    metrics.add_metric(
        name="OpsJobCompleted" if answer["complete"] else "OpsJobToContinue",
        unit=MetricUnit.Count,
        value=1,
    )
    return answer


def _budget(deadline: Deadline, seconds: float) -> Callable[[], bool]:
    return lambda: deadline() > seconds


def _redrive(
    job: Redrive, dependencies: OpsDependencies, keep_going: Callable[[], bool]
) -> dict[str, Any]:
    try:
        run = redrive_stack(
            dependencies.sqs,
            dependencies.config.queue_urls,
            stack="this stack",
            wanted=job.queues,
            dry_run=not job.move,
            limit=job.limit,
            keep_going=keep_going,
        )
    except RedriveError as exc:
        raise InvalidOpsEventError(f"redrive: {exc}") from None
    answer: dict[str, Any] = {"job": job.job, "complete": run.complete, **run.as_dict()}
    if not run.complete:
        # Moved messages left the DLQ: the same event again continues with what is still
        # there. A dry run puts back what it counted, so a DLQ it stopped in is counted again.
        answer["to_continue"] = {**_event_of(job), "queues": run.unfinished}
    if run.dry_run and any(r.waiting for r in run.reports):
        answer["note"] = 'dry run: nothing moved; run it with "move": true to move'
    return answer


def _replay(
    job: Replay,
    dependencies: OpsDependencies,
    *,
    keep_reading: Callable[[], bool],
    keep_going: Callable[[], bool],
) -> dict[str, Any]:
    table = dependencies.config.events_table_name
    selection = ReplaySelection(
        shop_id=job.shop_id,
        since=job.since,
        until=job.until,
        types=frozenset(job.types or ()),
        order_ids=frozenset(job.order_ids or ()),
    )
    pages = stored_event_pages(dependencies.dynamodb, table, selection, start_after=job.start_after)
    if job.dry_run:
        report = count_stored_events(pages, keep_going=keep_reading)
        answer: dict[str, Any] = {
            "job": job.job,
            "dry_run": True,
            "complete": report.complete,
            "matched": report.matched,
        }
    else:
        described = dependencies.dynamodb.describe_table(TableName=table)["Table"]
        report = replay(
            pages,
            dependencies.invoke_router,
            described.get("LatestStreamArn", ""),
            keep_reading=keep_reading,
            keep_going=keep_going,
        )
        answer = {"job": job.job, "dry_run": False, **report.as_dict()}
        if report.error:
            answer["note"] = (
                "EventRouterFunction could not take a batch (error): fix it, then run to_continue"
            )
        elif report.failed:
            answer["note"] = "failed: not processed by EventRouterFunction (its log says why)"
    if not report.complete:
        # None: no page was finished in this run; the next one starts where this one did.
        answer["to_continue"] = _resumed(job, report.resume_after or job.start_after)
    return answer


def _replay_quarantine(
    job: ReplayQuarantine, dependencies: OpsDependencies, keep_going: Callable[[], bool]
) -> dict[str, Any]:
    config = dependencies.config
    dynamodb = dependencies.dynamodb
    report = replay_quarantined(
        quarantined_bodies(dynamodb, config.quarantine_table_name, start_after=job.start_after),
        DynamoEventStore(dynamodb, config.events_table_name, config.quarantine_table_name),
        quarantine_remover(dynamodb, config.quarantine_table_name),
        dry_run=job.dry_run,
        keep_going=keep_going,
    )
    answer: dict[str, Any] = {"job": job.job, "dry_run": job.dry_run, **report.as_dict()}
    if not report.complete:
        answer["to_continue"] = _resumed(job, report.last_examined or job.start_after)
    return answer


def _event_of(job: _Job) -> dict[str, Any]:
    return job.model_dump(mode="json", exclude_none=True)


def _resumed(job: Replay | ReplayQuarantine, start_after: str | None) -> dict[str, Any]:
    event = {k: v for k, v in _event_of(job).items() if k != "start_after"}
    return {**event, "start_after": start_after} if start_after else event
