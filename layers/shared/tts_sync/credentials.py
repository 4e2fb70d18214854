"""TikTok Shop app credentials, read from Secrets Manager through Powertools Parameters.

The secret is JSON: {"app_key": ..., "app_secret": ..., "previous_app_secret": optional}.
`previous_app_secret` lets webhook verification accept both secrets while a rotation is rolled
out. Values are cached per container (max_age) and never logged: the model's repr hides them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError

from tts_sync.aws import secretsmanager_client
from tts_sync.config import load_config
from tts_sync.errors import ConfigError

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
    """Caches the app credentials; `refresh()` forces one re-read (after a suspected rotation)."""

    def __init__(self, fetch: Callable[[bool], Any], min_refresh_interval: float = 30.0) -> None:
        self._fetch = fetch
        self._min_refresh_interval = min_refresh_interval
        self._last_forced = 0.0

    def get(self) -> AppCredentials:
        return self._parse(self._fetch(False))

    def refresh(self) -> AppCredentials | None:
        """Re-read the secret at most once per interval; None when it was refreshed too recently."""
        now = time.monotonic()
        if now - self._last_forced < self._min_refresh_interval:
            return None
        self._last_forced = now
        return self._parse(self._fetch(True))

    @staticmethod
    def _parse(raw: Any) -> AppCredentials:
        try:
            return AppCredentials.model_validate(raw)
        except ValidationError as exc:
            fields = ", ".join(str(err["loc"][0]) for err in exc.errors() if err["loc"])
            raise ConfigError(f"app credentials secret is malformed (fields: {fields})") from None


def _fetch_from_secrets_manager(force: bool) -> Any:
    # Imported here: Parameters pulls in extra modules only the functions that need it should pay.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = _secrets_provider(SecretsProvider)
    secret_id = load_config(CredentialsConfig).secret_id
    return provider.get(secret_id, transform="json", max_age=CACHE_SECONDS, force_fetch=force)


@cache
def _secrets_provider(provider_class: Any) -> Any:
    return provider_class(boto3_client=secretsmanager_client())


@cache
def credentials_provider() -> CredentialsProvider:
    """The container-wide provider backed by Secrets Manager."""
    return CredentialsProvider(_fetch_from_secrets_manager)
