"""Workbench settings from environment variables and ``.streamlit/secrets.toml``.

Every setting has a ``WORKBENCH_`` environment variable; Alpaca keys use Alpaca's own
names (``ALPACA_API_KEY``, ``ALPACA_SECRET_KEY``) and may also live in the secrets file.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class WorkbenchSettings(BaseSettings):
    """Validated runtime configuration."""

    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="ignore", frozen=True)

    var_dir: Path = Field(default=ROOT / "var", description="Runtime files (git-ignored).")
    data_dir: Path = Field(default=ROOT / "data", description="Embedded datasets.")
    db_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in var_dir.")
    upload_max_mb: float = Field(default=50.0, gt=0, description="Largest accepted upload.")
    online_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Online data timeout.")
    secrets_file: Path = Field(default=ROOT / ".streamlit" / "secrets.toml")
    alpaca_trading_url: str | None = Field(
        default=None, description="Override of Alpaca's paper trading endpoint (tests, proxies)."
    )
    alpaca_data_url: str | None = Field(default=None, description="Override of Alpaca's data URL.")

    @field_validator("db_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError(
                f"WORKBENCH_DB_URL={value!r} is not a SQLAlchemy URL; "
                "use e.g. sqlite:///var/workbench.db or postgresql+psycopg://user:pw@host/db"
            )
        return value

    @property
    def database_url(self) -> str:
        """The effective database URL."""
        return self.db_url or f"sqlite:///{self.var_dir / 'workbench.db'}"

    @property
    def upload_max_bytes(self) -> int:
        """Upload size limit in bytes."""
        return int(self.upload_max_mb * 1024 * 1024)

    def secret(self, name: str) -> SecretStr | None:
        """Look a secret up in the environment, then in the secrets file."""
        if os.environ.get(name):
            return SecretStr(os.environ[name])
        if self.secrets_file.is_file():
            with self.secrets_file.open("rb") as fh:
                table = tomllib.load(fh)
            for scope in (table, table.get("alpaca", {})):
                value = scope.get(name) or scope.get(name.lower())
                if isinstance(value, str) and value:
                    return SecretStr(value)
        return None


@lru_cache(maxsize=1)
def get_settings() -> WorkbenchSettings:
    """Settings loaded once per process (call ``get_settings.cache_clear()`` in tests)."""
    return WorkbenchSettings()
