"""Parsing a console test event (an operator's JSON in the Lambda console) into a job model.

Functions with console jobs tell them apart by a `job` field (a pydantic discriminated union).
An event that is not one of them is refused with every bad field named, so the operator can fix
the JSON without reading code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

JobT = TypeVar("JobT")


def parse_console_job(
    event: Any,
    jobs: TypeAdapter[JobT],
    names: Sequence[str],
    error: type[Exception],
    examples: str,
) -> JobT:
    """The job `event` asks for; `error` says precisely what is wrong (which job names exist,
    or each field of the job that is missing or invalid). `examples` names the committed
    console events, e.g. "events/console/order_sync_*.json"."""
    if not isinstance(event, dict) or event.get("job") not in names:
        raise error(f'expected a JSON object with "job" one of {", ".join(names)} (see {examples})')
    try:
        return jobs.validate_python(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc'][1:]) or 'event'}: {problem['msg']}"
            for problem in exc.errors(include_input=False, include_url=False)
        )
        raise error(f"{event['job']}: {problems}") from None
