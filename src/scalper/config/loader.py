"""Load :class:`Config` from one TOML file and ``SCALPER_<SECTION>__<KEY>`` environment variables.

Precedence: environment over file over defaults. Environment values are parsed as TOML values
when they parse (``20``, ``true``, ``["SPY"]``), otherwise taken as strings. Every problem is
reported as a :class:`ConfigError` naming the key, where it came from, the value and what was
expected.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from scalper.config.model import Config
from scalper.config.secrets import secret_names
from scalper.core.errors import ConfigError

ENV_PREFIX = "SCALPER_"
CONFIG_PATH_VAR = "SCALPER_CONFIG"
DEFAULT_CONFIG_FILE = Path("scalper.toml")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from exc


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Nested overrides from ``SCALPER_A__B`` variables, and which variable set each key."""
    data: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    for var, raw in sorted(env.items()):
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        path = tuple(part.lower() for part in var[len(ENV_PREFIX) :].split("__"))
        if any(not part for part in path):
            raise ConfigError(f"{var}: expected SCALPER_<SECTION>__<KEY>, was an empty part")
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _parse_env_value(raw)
        origin[path] = var
    return data, origin


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _refuse_secrets(data: Mapping[str, Any], where: str, prefix: str = "") -> None:
    names = secret_names()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key in names:
            raise ConfigError(
                f"{dotted} in {where}: secrets are not read from the config file; "
                "set the environment variable or its *_FILE variant (see docs/CONFIGURATION.md)"
            )
        if isinstance(value, Mapping):
            _refuse_secrets(value, where, f"{dotted}.")
    url = data.get("database", {}).get("url") if not prefix else None
    if isinstance(url, str) and urlsplit(url).password:
        raise ConfigError(
            f"database.url in {where}: the URL holds a password; put the whole URL in "
            "SCALPER_DATABASE_URL (or SCALPER_DATABASE_URL_FILE) instead"
        )


def _describe(error: Mapping[str, Any], origin: Mapping[tuple[str, ...], str], file: str | None) -> str:
    loc = tuple(str(p) for p in error["loc"])
    key = ".".join(loc)
    source = next((origin[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origin), None)
    where = f"from {source}" if source else (f"from {file}" if file else "default")
    if error["type"] == "extra_forbidden":
        return f"{key} ({where}): unknown key"
    return f"{key} ({where}): value {error.get('input')!r} is invalid: {error['msg']}"


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration; ``path`` wins over ``$SCALPER_CONFIG`` and ``./scalper.toml``."""
    environ = os.environ if env is None else env
    if path is None and environ.get(CONFIG_PATH_VAR):
        path = Path(environ[CONFIG_PATH_VAR])
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    file_data = _read_toml(path) if path is not None else {}
    if path is not None:
        _refuse_secrets(file_data, str(path))
    env_data, origin = _env_overrides(environ)
    _refuse_secrets(env_data, "the environment")
    try:
        return Config.model_validate(_merge(file_data, env_data), strict=False)
    except ValidationError as exc:
        lines = [_describe(e, origin, str(path) if path else None) for e in exc.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
