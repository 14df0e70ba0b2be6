"""Secrets: only from the environment or from secret files, never from the TOML file.

For each secret ``NAME`` the value is taken from the environment variable ``NAME`` or from the
file named by ``NAME_FILE`` (the Docker/Kubernetes secrets convention). Values are held in
:class:`Secret` objects whose ``repr``/``str`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from scalper.core.errors import ConfigError


class Secret:
    """A secret string that refuses to be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that must send it (an auth frame, a header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# Each secret: the environment variables that may hold it, in order of preference.
SECRET_SOURCES: dict[str, tuple[str, ...]] = {
    "market_data_api_key": ("MASSIVE_API_KEY", "POLYGON_API_KEY"),
    "s3_access_key_id": ("SCALPER_S3_ACCESS_KEY_ID", "MASSIVE_S3_ACCESS_KEY_ID"),
    "s3_secret_access_key": ("SCALPER_S3_SECRET_ACCESS_KEY", "MASSIVE_S3_SECRET_ACCESS_KEY"),
    "broker_key_id": ("APCA_API_KEY_ID", "SCALPER_BROKER_KEY_ID"),
    "broker_secret_key": ("APCA_API_SECRET_KEY", "SCALPER_BROKER_SECRET_KEY"),
    "discord_webhook_url": ("SCALPER_DISCORD_WEBHOOK_URL",),
    "database_url": ("SCALPER_DATABASE_URL",),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Secrets:
    """All secrets scalper may use; ``None`` where not provided."""

    market_data_api_key: Secret | None = None
    s3_access_key_id: Secret | None = None
    s3_secret_access_key: Secret | None = None
    broker_key_id: Secret | None = None
    broker_secret_key: Secret | None = None
    discord_webhook_url: Secret | None = None
    database_url: Secret | None = None

    def present(self) -> dict[str, bool]:
        """Which secrets are set (safe to print)."""
        return {f.name: getattr(self, f.name) is not None for f in fields(self)}


def _read_secret_file(var: str, path_text: str) -> str:
    path = Path(path_text)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{var}: cannot read secret file {path}: {exc.strerror}") from exc
    if not value:
        raise ConfigError(f"{var}: secret file {path} is empty")
    return value


def _lookup(names: tuple[str, ...], env: Mapping[str, str]) -> Secret | None:
    for name in names:
        if env.get(name):
            return Secret(env[name])
        file_var = f"{name}_FILE"
        if env.get(file_var):
            return Secret(_read_secret_file(file_var, env[file_var]))
    return None


def load_secrets(env: Mapping[str, str] | None = None) -> Secrets:
    """Collect secrets from ``env`` (default: the process environment)."""
    source = os.environ if env is None else env
    return Secrets(**{field: _lookup(names, source) for field, names in SECRET_SOURCES.items()})


def secret_names() -> frozenset[str]:
    """Every key name that denotes a secret, used to refuse secrets in the TOML file."""
    return frozenset(SECRET_SOURCES) | {"api_key", "password", "secret", "webhook_url", "secret_key"}
