"""Typed configuration read from the environment, validated on first use, cached per container.

Each function declares a pydantic model whose field aliases are the environment variable names:

    class WebhookConfig(BaseModel):
        events_table_name: str = Field(alias="EVENTS_TABLE_NAME")

    config = load_config(WebhookConfig)

A missing or malformed variable raises ConfigError naming the variable, so a misconfigured
deployment fails loudly on its first invocation instead of half-working.
"""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tts_sync.container import container_cached
from tts_sync.errors import ConfigError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


def read_config(model: type[ConfigT], environ: dict[str, str] | None = None) -> ConfigT:
    """Validate `model` against the environment (or `environ`); no caching."""
    source = dict(os.environ if environ is None else environ)
    try:
        return model.model_validate(source)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = ".".join(str(part) for part in error["loc"])
            problems.append(f"{variable}: {error['msg']}")
        raise ConfigError(
            f"invalid configuration for {model.__name__}: " + "; ".join(problems)
        ) from None


@container_cached
def load_config(model: type[ConfigT]) -> ConfigT:
    """The container-wide config of `model`, read once."""
    return read_config(model)
