"""Workbench settings from environment variables and ``.streamlit/secrets.toml``.

Every setting has a ``WORKBENCH_`` environment variable; Alpaca keys use Alpaca's own
names (``ALPACA_API_KEY``, ``ALPACA_SECRET_KEY``) and may also live in the secrets file.
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import tomllib
from collections.abc import Iterator, Mapping
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
    alpaca_stream_url: str | None = Field(
        default=None,
        description="Override of the market-data stream URL (ws://host:port; /v2/<feed> added).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for credentials at rest (alert channel URLs); see fernet_key().",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="Lifetime of a browser sign-in session."
    )
    registry_keep: int = Field(
        default=5, ge=0, le=1000, description="Best candidates per model kept by retention."
    )
    api_rate_per_s: float = Field(
        default=50.0,
        gt=0,
        le=1_000_000,
        description="API requests per second per token (burst: 2 s worth) unless the token "
        "sets its own.",
    )
    api_token_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long the API trusts a resolved token (a revoked one is refused "
        "within this time).",
    )

    chromium_path: Path = Field(
        default=Path("/usr/bin/chromium"),
        description="Chromium (or Chrome) binary that prints report packs to PDF.",
    )
    report_pdf_timeout_s: float = Field(
        default=90.0, gt=0, le=600, description="Longest wait for one PDF print."
    )
    report_schedules_enabled: bool = Field(
        default=True, description="Whether the alerts watchdog delivers scheduled report packs."
    )
    report_send_attempts: int = Field(
        default=3, ge=1, le=20, description="Tries per scheduled pack, slot and channel."
    )

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

    @property
    def upload_max_server_mb(self) -> int:
        """Streamlit's ``server.maxUploadSize`` (whole MB) for :attr:`upload_max_mb`."""
        return max(1, math.ceil(self.upload_max_mb))

    @property
    def secret_key_file(self) -> Path:
        """The generated key file, used when neither the environment nor secrets set a key."""
        return self.var_dir / "secret.key"

    def fernet_key(self, *, create: bool = False) -> bytes | None:
        """The Fernet key for credentials at rest, from the first source that has one.

        1. ``WORKBENCH_SECRET_KEY`` (environment);
        2. ``secret_key`` in the ``[workbench]`` table of the secrets file;
        3. the key file ``var/secret.key`` (mode 0600), generated when ``create`` is true
           (``workbench setup`` does this) and no key exists yet.

        Raises
        ------
        SecretKeyError
            When a configured key is not a Fernet key.
        """
        if self.secret_key is not None:
            return _check_key(self.secret_key.get_secret_value(), "WORKBENCH_SECRET_KEY")
        table = self._secrets_table()
        from_file = (table.get("workbench") or {}).get("secret_key")
        if isinstance(from_file, str) and from_file:
            return _check_key(from_file, f"secret_key in {self.secrets_file}")
        path = self.secret_key_file
        if path.is_file():
            return _check_key(path.read_text().strip(), str(path))
        if not create:
            return None
        from cryptography.fernet import Fernet

        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return _check_key(path.read_text().strip(), str(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        return key

    def secret_key_source(self) -> str:
        """Where the key comes from (for ``workbench setup`` and the README)."""
        if self.secret_key is not None:
            return "WORKBENCH_SECRET_KEY"
        if (self._secrets_table().get("workbench") or {}).get("secret_key"):
            return f"secret_key in {self.secrets_file}"
        return str(self.secret_key_file)

    def _secrets_table(self) -> dict:  # type: ignore[type-arg]
        if not self.secrets_file.is_file():
            return {}
        with self.secrets_file.open("rb") as fh:
            return tomllib.load(fh)

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


class SecretKeyError(ValueError):
    """The key for credentials at rest is missing, malformed or not the one used."""


def _check_key(value: str, where: str) -> bytes:
    raw = value.strip().encode()
    try:
        ok = len(base64.urlsafe_b64decode(raw)) == 32
    except ValueError:
        ok = False
    if not ok:
        raise SecretKeyError(
            f"{where} is not a Fernet key (32 url-safe base64-encoded bytes); make one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`"
        )
    return raw


@lru_cache(maxsize=1)
def get_settings() -> WorkbenchSettings:
    """Settings loaded once per process (call ``get_settings.cache_clear()`` in tests)."""
    return WorkbenchSettings()


@contextlib.contextmanager
def environ_set(values: Mapping[str, str | None]) -> Iterator[None]:
    """Inside the block each variable of ``values`` is set (a string) or unset (None);
    after it, each is back as it was."""
    saved = {key: os.environ.get(key) for key in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
