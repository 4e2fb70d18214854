"""TikTok Shop app credentials, read from Secrets Manager through Powertools Parameters.

The secret is JSON: {"app_key": ..., "app_secret": ..., "previous_app_secret": optional}.
`previous_app_secret` lets webhook verification accept both secrets while a rotation is rolled
out. Values are cached per container (max_age) and never logged: the model's repr hides them.
This module imports no AWS SDK until the secret is first read, so domain code may use its models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError

from tts_sync.config import load_config
from tts_sync.container import container_cached
from tts_sync.errors import ConfigError, CredentialsUnavailableError

CACHE_SECONDS = 300


class CredentialsConfig(BaseModel):
    secret_id: str = Field(alias="APP_CREDENTIALS_SECRET_ARN", min_length=1)


class AppCredentials(BaseModel):
    app_key: str = Field(min_length=1)
    app_secret: SecretStr
    previous_app_secret: SecretStr | None = None

    @property
    def webhook_secrets(self) -> tuple[bytes, ...]:
        """Secrets a webhook signature may be made with: current first, then the previous one."""
        secrets = [self.app_secret.get_secret_value()]
        if self.previous_app_secret and self.previous_app_secret.get_secret_value():
            secrets.append(self.previous_app_secret.get_secret_value())
        return tuple(secret.encode() for secret in secrets)


class CredentialsProvider:
    """Caches the app credentials; `refresh()` forces one re-read (after a suspected rotation).

    `fetch(force)` returns the secret's JSON document; it raises CredentialsUnavailableError when
    the secret cannot be read right now.
    """

    def __init__(
        self,
        fetch: Callable[[bool], Any],
        min_refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._min_refresh_interval = min_refresh_interval
        self._clock = clock
        self._last_forced = float("-inf")  # monotonic time starts near 0 in a new microVM

    def get(self) -> AppCredentials:
        return self._parse(self._fetch(False))

    def refresh(self) -> AppCredentials | None:
        """Re-read the secret at most once per interval; None when it was refreshed too recently."""
        now = self._clock()
        if now - self._last_forced < self._min_refresh_interval:
            return None
        self._last_forced = now
        return self._parse(self._fetch(True))

    @staticmethod
    def _parse(raw: Any) -> AppCredentials:
        try:
            return AppCredentials.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(str(err["loc"][0]) for err in exc.errors() if err["loc"]) or "<root>"
            raise ConfigError(f"app credentials secret is malformed (fields: {fields})") from None


def _fetch_from_secrets_manager(force: bool) -> Any:
    secret_id = load_config(CredentialsConfig).secret_id
    try:
        return _secrets_provider().get(
            secret_id, transform="json", max_age=CACHE_SECONDS, force_fetch=force
        )
    except Exception as exc:
        # Parameters wraps SDK failures (throttling, timeouts, AccessDenied) in GetParameterError;
        # the message may name the secret but never holds its value.
        raise CredentialsUnavailableError(type(exc).__name__) from exc


@container_cached
def _secrets_provider() -> Any:
    # Imported here: Parameters and boto3 load only when a secret is first read.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from tts_sync.aws import secretsmanager_client

    return SecretsProvider(boto3_client=secretsmanager_client(fast=True))


@container_cached
def credentials_provider() -> CredentialsProvider:
    """The container-wide provider backed by Secrets Manager."""
    return CredentialsProvider(_fetch_from_secrets_manager)
