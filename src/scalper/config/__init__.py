"""Typed configuration: one TOML file plus ``SCALPER_*`` environment variables; secrets apart."""

from scalper.config.loader import load_config
from scalper.config.model import Config
from scalper.config.secrets import Secrets, load_secrets

__all__ = ["Config", "Secrets", "load_config", "load_secrets"]
