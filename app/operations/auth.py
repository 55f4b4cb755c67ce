"""Sign-in operations: make or revoke a personal access token (for the CLI, or for the API
with its own roles and rate); hash a password for the secrets file."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from app.operations import Flag, Operation, register
from core.auth.passwords import MIN_LENGTH
from core.auth.roles import ROLES

MAX_TOKEN_DAYS = 365
MAX_PASSWORD_LENGTH = 1024
MAX_RATE_PER_S = 100_000.0
_USER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@+-")


def _token_name(name: str) -> str:
    if not name.strip():
        raise ValueError("name: give the token a name of 1 to 64 characters, e.g. laptop")
    return name.strip()


class TokenCreateRequest(BaseModel):
    """A personal access token to make: what it is for, and how long it lives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        title="Token name", max_length=64, description="What the token is for, e.g. laptop"
    )
    days: int = Field(
        title="Lifetime (days)",
        default=90,
        ge=1,
        le=MAX_TOKEN_DAYS,
        description=f"Lifetime in days (1-{MAX_TOKEN_DAYS})",
    )

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        return _token_name(name)


class ApiTokenCreateRequest(BaseModel):
    """A token for the API (or the CLI): whose it is, the roles it grants, its rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(
        title="User", max_length=128, description="The user it acts as (signed in: yourself)"
    )
    roles: str = Field(
        title="Roles",
        max_length=64,
        description=f"Roles it grants, comma separated: {', '.join(ROLES)}",
    )
    name: str = Field(
        title="Token name", default="api", max_length=64, description="What the token is for"
    )
    days: int = Field(
        title="Lifetime (days)",
        default=90,
        ge=1,
        le=MAX_TOKEN_DAYS,
        description=f"Lifetime in days (1-{MAX_TOKEN_DAYS})",
    )
    rate_per_s: float | None = Field(
        title="Requests per second",
        default=None,
        gt=0,
        le=MAX_RATE_PER_S,
        description="API requests per second (burst: 2 s worth); default the setting "
        "api_rate_per_s",
    )

    @field_validator("user")
    @classmethod
    def _user(cls, user: str) -> str:
        user = user.strip()
        if not user or not set(user) <= _USER_CHARS:
            raise ValueError(
                "user: name the user with letters, digits and _ . @ + - only, e.g. ann"
            )
        return user

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: str) -> str:
        chosen = sorted({r.strip() for r in roles.split(",") if r.strip()})
        unknown = [r for r in chosen if r not in ROLES]
        if not chosen or unknown:
            raise ValueError(
                f"roles: {'unknown ' + str(unknown) if unknown else 'none given'}; "
                f"give one or more of {', '.join(ROLES)}, e.g. analyst,pm"
            )
        return ",".join(chosen)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        return _token_name(name)


class TokenRevokeRequest(BaseModel):
    """One of your personal access tokens, by id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_id: int = Field(
        title="Token id", ge=1, le=2**31 - 1, description="Id from `workbench token list`"
    )


class PasswordHashRequest(BaseModel):
    """A password to hash for a user (``[workbench.users.<name>]``) of the secrets file."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    password: SecretStr = Field(
        title="Password",
        min_length=MIN_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
        description=f"The password ({MIN_LENGTH} to {MAX_PASSWORD_LENGTH} characters); "
        "leave out to be asked twice (hidden)",
    )

    @field_validator("password", mode="before")
    @classmethod
    def _long_enough(cls, password: Any) -> Any:
        raw = password.get_secret_value() if isinstance(password, SecretStr) else password
        if isinstance(raw, str) and len(raw) < MIN_LENGTH:
            raise ValueError(f"password: use at least {MIN_LENGTH} characters")
        if isinstance(raw, str) and len(raw) > MAX_PASSWORD_LENGTH:
            raise ValueError(f"password: use at most {MAX_PASSWORD_LENGTH} characters")
        return password


def token_payload(created: Any) -> dict[str, Any]:
    """The new token (shown once) and whose it is."""
    return {"id": created.id, "user": created.user, "token": created.token}


def _token_text(created: Any, payload: dict[str, Any]) -> str:
    return (
        f"token {created.id} for {created.user} (shown once; keep it secret):\n{created.token}\n"
        "use it with: export WORKBENCH_TOKEN=<token>"
    )


TOKEN_CREATE = register(
    Operation(
        name="token create",
        feature="auth",
        summary="Make a token for WORKBENCH_USER (password required); it is shown only once.",
        request=TokenCreateRequest,
        service="app.services.tokens:create_token",
        payload=token_payload,
        text=_token_text,
        actor=True,
    )
)


def _api_token_text(created: Any, payload: dict[str, Any]) -> str:
    return (
        f"token {created.id} for {created.user}, roles {created.roles} "
        f"(shown once; keep it secret):\n{created.token}\n"
        "use it with: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/whoami"
    )


TOKENS_CREATE = register(
    Operation(
        name="tokens create",
        feature="auth",
        summary="Make an API token for a user with the roles it grants; it is shown only once "
        "(local mode: any user; signed in: yourself, with roles you hold).",
        request=ApiTokenCreateRequest,
        service="app.services.api_tokens:provision_token",
        payload=lambda created: {**token_payload(created), "roles": created.roles.split(",")},
        text=_api_token_text,
        actor=True,
    )
)

TOKENS_REVOKE = register(
    Operation(
        name="tokens revoke",
        feature="auth",
        summary="Revoke a token (local mode: any; signed in: yours); the API refuses it "
        "within api_token_cache_s seconds.",
        request=TokenRevokeRequest,
        service="app.services.tokens:revoke_token",
        payload=lambda token_id: {"revoked": token_id},
        text=lambda token_id, _p: f"token {token_id} revoked",
        flags={"token_id": Flag(argument=True)},
        actor=True,
    )
)

TOKEN_REVOKE = register(
    Operation(
        name="token revoke",
        feature="auth",
        summary="Revoke one of your tokens.",
        request=TokenRevokeRequest,
        service="app.services.tokens:revoke_token",
        payload=lambda token_id: {"revoked": token_id},
        text=lambda token_id, _p: f"token {token_id} revoked",
        flags={"token_id": Flag(argument=True)},
        actor=True,
    )
)
HASH_PASSWORD = register(
    Operation(
        name="hash-password",
        feature="auth",
        summary="Print a password hash for a user's password_hash in .streamlit/secrets.toml.",
        request=PasswordHashRequest,
        service="app.services.auth:password_hash",
        payload=lambda digest: {"hash": digest},
        text=lambda digest, _p: str(digest),
        flags={"password": Flag(prompt="Password", confirm=True)},
    )
)

__all__ = [
    "HASH_PASSWORD",
    "MAX_PASSWORD_LENGTH",
    "MAX_RATE_PER_S",
    "MAX_TOKEN_DAYS",
    "TOKENS_CREATE",
    "TOKENS_REVOKE",
    "TOKEN_CREATE",
    "TOKEN_REVOKE",
    "ApiTokenCreateRequest",
    "PasswordHashRequest",
    "TokenCreateRequest",
    "TokenRevokeRequest",
    "token_payload",
]
