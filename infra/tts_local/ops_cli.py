"""`tts-sync ops ...`: operator commands, against a deployed stack or the local stack alike.

Redrive and the replays call the same domain functions as the ops function's console jobs
(tts_sync.ops.jobs); a CLI run has no deadline, so it runs each to the end."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tts_local.ops_show_cli import run_audit, run_show
from tts_sync.ops.quarantine_replay import (
    quarantine_remover,
    quarantined_bodies,
    replay_quarantined,
)
from tts_sync.ops.redrive import RedriveError, redrive_stack, render
from tts_sync.ops.replay import (
    ReplayError,
    ReplaySelection,
    count_stored_events,
    replay,
    stored_event_pages,
)
from tts_sync.ops.target import StackTarget, TargetError, deployed_target, local_target
from tts_sync.webhooks.dynamo_store import DynamoEventStore


def run_ops(args: argparse.Namespace) -> int:
    try:
        target = local_target(args.local) if args.local else deployed_target(args.stack)
        if args.ops_command == "replay":
            return run_replay(target, args)
        if args.ops_command == "replay-quarantine":
            return run_replay_quarantine(target, args)
        if args.ops_command == "audit":
            return run_audit(target, args)
        if args.ops_command == "show":
            return run_show(target, args)
        return run_redrive(target, args)
    except (TargetError, RedriveError, ReplayError) as error:
        print(f"tts-sync ops: {error}", file=sys.stderr)
        return 2


def run_redrive(target: StackTarget, args: argparse.Namespace) -> int:
    run = redrive_stack(
        target.client("sqs"),
        target.queue_urls(),
        stack=target.name,
        wanted=args.queue,
        dry_run=not args.move,
        limit=args.limit,
        progress=_progress,
    )
    print(render(run))
    return 1 if any(r.failed for r in run.reports) else 0


def run_replay(target: StackTarget, args: argparse.Namespace) -> int:
    selection = ReplaySelection(
        shop_id=args.shop,
        since=args.since,
        until=args.until,
        types=frozenset(args.type or ()),
        order_ids=frozenset(args.order or ()),
    )
    table = target.resources.get("EventsTable")
    if not table:
        raise ReplayError(f"{target.name} has no EventsTable")
    dynamodb = target.client("dynamodb")
    pages = stored_event_pages(dynamodb, table, selection)
    if args.dry_run:
        count = count_stored_events(pages).matched
        print(f"{count} stored events match; dry run: nothing replayed")
        return 0
    stream_arn = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn", "")
    report = replay(pages, target.function_invoker("EventRouterFunction"), stream_arn)
    if report.error:
        raise ReplayError(
            f"{report.error} ({report.sent} events sent before it; the rest were not replayed)"
        )
    print(
        f"{report.matched} stored events replayed through EventRouterFunction "
        f"({report.sent} sent, {len(report.failed)} not processed)"
    )
    for event_key in report.failed:
        print(f"  not processed: {event_key} (the function's log says why)")
    return 1 if report.failed else 0


def run_replay_quarantine(target: StackTarget, args: argparse.Namespace) -> int:
    quarantine = target.resources.get("QuarantineTable")
    events = target.resources.get("EventsTable")
    if not quarantine or not events:
        raise ReplayError(f"{target.name} has no QuarantineTable or EventsTable")
    dynamodb = target.client("dynamodb")
    report = replay_quarantined(
        quarantined_bodies(dynamodb, quarantine),
        DynamoEventStore(dynamodb, events, quarantine),
        quarantine_remover(dynamodb, quarantine),
        dry_run=args.dry_run,
    )
    verb = "would be stored" if args.dry_run else "stored"
    print(
        f"{report.examined} quarantined deliveries: {len(report.stored)} {verb}, "
        f"{len(report.already_stored)} already stored, {len(report.still_failing)} still fail"
    )
    for failing in report.still_failing:
        print(
            f"  still fails: {failing.key}: {failing.reason} "
            f"(at receipt: {failing.reason_at_receipt})"
        )
    if args.dry_run:
        print("dry run: nothing stored or removed")
    return 1 if report.still_failing else 0


def _progress(label: str) -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width if not total else min(width, width * done // total)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
