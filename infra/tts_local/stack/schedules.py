"""EventBridge schedules: rate(...) and AWS's six-field cron(...), fired at local wall time (UTC).

A rule fires its targets with the real "Scheduled Event" shape, or with the target's Input when
the template sets one. `fire()` runs a rule now, for tests and for ops poking the local stack.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tts_local.stack.background import BackgroundLoop
from tts_local.stack.naming import ACCOUNT_ID

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


class ScheduleError(ValueError):
    """A schedule expression this matcher does not understand."""


def _field_values(text: str, low: int, high: int, names: dict[str, int]) -> set[int] | None:
    """One cron field -> allowed values; None means "any" (* or ?)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.upper().split(","):
        step, has_step = 1, "/" in part
        if has_step:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = names.get(first) or int(first), names.get(last) or int(last)
        else:
            start = names.get(part) or _number(part)
            end = high if has_step else start
        values.update(range(start, end + 1, step))
    return values


def _number(text: str) -> int:
    if not text.isdigit():
        raise ScheduleError(f"unsupported cron token {text!r} (L, W and # are not supported)")
    return int(text)


@dataclass(frozen=True)
class CronSchedule:
    minutes: set[int] | None
    hours: set[int] | None
    days_of_month: set[int] | None
    months: set[int] | None
    days_of_week: set[int] | None  # 1 = Sunday, as in AWS cron
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> CronSchedule:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleError(f"cron needs 6 fields, got {len(fields)}: {body!r}")
        return cls(
            _field_values(fields[0], 0, 59, {}),
            _field_values(fields[1], 0, 23, {}),
            _field_values(fields[2], 1, 31, {}),
            _field_values(fields[3], 1, 12, _MONTHS),
            _field_values(fields[4], 1, 7, _DAYS),
            _field_values(fields[5], 1970, 2199, {}),
        )

    def matches(self, moment: datetime) -> bool:
        day_of_week = (moment.isoweekday() % 7) + 1  # Monday=1 in ISO -> Sunday=1 in AWS
        checks = (
            (self.minutes, moment.minute),
            (self.hours, moment.hour),
            (self.days_of_month, moment.day),
            (self.months, moment.month),
            (self.days_of_week, day_of_week),
            (self.years, moment.year),
        )
        return all(allowed is None or value in allowed for allowed, value in checks)


def next_fire_time(expression: str, after: datetime, started: datetime) -> datetime:
    """The first fire time strictly after `after` (rates count from `started`, like a new rule)."""
    rate = _RATE.match(expression.strip())
    if rate:
        period = timedelta(seconds=int(rate.group(1)) * _UNITS[rate.group(2).rstrip("s")])
        if period <= timedelta(0):
            raise ScheduleError(f"rate must be positive: {expression!r}")
        elapsed = (after - started) // period
        return started + (elapsed + 1) * period
    cron = _CRON.match(expression.strip())
    if not cron:
        raise ScheduleError(f"unsupported schedule expression {expression!r}")
    schedule = CronSchedule.parse(cron.group(1))
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60 * 2):  # two years of minutes: enough for any satisfiable rule
        if schedule.matches(moment):
            return moment
        moment += timedelta(minutes=1)
    raise ScheduleError(f"{expression!r} never fires")


@dataclass(frozen=True)
class ScheduleTarget:
    arn: str
    input: str | None


@dataclass
class Schedule:
    logical_id: str
    rule_arn: str
    expression: str
    enabled: bool
    targets: list[ScheduleTarget]
    next_run: datetime | None = None


def scheduled_event(rule_arn: str, region: str, now: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


Deliver = Callable[[str, Any], Any]  # (target ARN, event) -> delivery result


class Scheduler(BackgroundLoop):
    def __init__(
        self, schedules: list[Schedule], deliver: Deliver, region: str, tick_seconds: float = 1.0
    ) -> None:
        self.schedules = {schedule.logical_id: schedule for schedule in schedules}
        self._deliver = deliver
        self._region = region
        self._tick = tick_seconds
        super().__init__("scheduler")
        self._started = datetime.now(UTC)

    def start(self) -> None:
        for schedule in self.schedules.values():
            try:
                next_fire_time(schedule.expression, self._started, self._started)
            except (ScheduleError, ValueError) as exc:
                # The stack still starts; the rule can be fired by hand.
                log.warning("schedule %s will not run on its own: %s", schedule.logical_id, exc)
                schedule.enabled = False
        self._thread.start()

    def fire(self, logical_id: str) -> list[Any]:
        """Runs the rule's targets now; returns one delivery result per target."""
        schedule = self.schedules[logical_id]
        event = scheduled_event(schedule.rule_arn, self._region, datetime.now(UTC))
        results = []
        for target in schedule.targets:
            payload = json.loads(target.input) if target.input is not None else event
            results.append(self._deliver(target.arn, payload))
        return results

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            now = datetime.now(UTC)
            for schedule in self.schedules.values():
                if not schedule.enabled:
                    continue
                if schedule.next_run is None:
                    schedule.next_run = next_fire_time(
                        schedule.expression, self._started, self._started
                    )
                if now >= schedule.next_run:
                    schedule.next_run = next_fire_time(schedule.expression, now, self._started)
                    log.info("schedule %s fired", schedule.logical_id)
                    try:
                        self.fire(schedule.logical_id)
                    except Exception:
                        log.exception("schedule %s delivery failed", schedule.logical_id)
