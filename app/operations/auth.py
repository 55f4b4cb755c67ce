"""Sign-in operations: a personal access token for the CLI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.operations import Operation, register

MAX_TOKEN_DAYS = 365


class TokenCreateRequest(BaseModel):
    """A personal access token to make: what it is for, and how long it lives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(max_length=64, description="What the token is for, e.g. laptop")
    days: int = Field(
        default=90, ge=1, le=MAX_TOKEN_DAYS, description=f"Lifetime in days (1-{MAX_TOKEN_DAYS})"
    )

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("name: give the token a name of 1 to 64 characters, e.g. laptop")
        return name.strip()


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

__all__ = ["MAX_TOKEN_DAYS", "TOKEN_CREATE", "TokenCreateRequest", "token_payload"]
