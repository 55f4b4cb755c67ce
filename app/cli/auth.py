"""``workbench`` commands: sign-in: personal access tokens for the CLI (``token``) and the
API (``tokens``), whoami and password hashes (``token create``, ``token revoke``, ``tokens
create``, ``tokens revoke`` and ``hash-password`` generated from app/operations/auth.py)."""

from __future__ import annotations

from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    EXIT_FORBIDDEN,
    JSON_OPT,
    _actor,
    _call,
    _password_signed_in,
    emit,
    fail,
)
from app.cli._generate import add_command
from app.operations.auth import (
    HASH_PASSWORD,
    TOKEN_CREATE,
    TOKEN_REVOKE,
    TOKENS_CREATE,
    TOKENS_REVOKE,
)

token_app = typer.Typer(
    help="Personal access tokens for the CLI when sign-in users are configured.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


add_command(token_app, TOKEN_CREATE, actor=_password_signed_in)


@token_app.command("list")
def token_list(as_json: bool = JSON_OPT) -> None:
    """Your tokens (never the tokens themselves)."""
    from app.services.tokens import list_tokens

    actor = _actor(as_json)
    rows = _call(as_json, list_tokens, actor=actor)
    emit(
        {"user": actor.name, "tokens": rows},
        as_json=as_json,
        text="\n".join(
            f"{r['id']:>4} {r['name']:<20} {r['prefix']:<16} {r['status']:<8} "
            f"expires {r['expires_at']}"
            for r in rows
        )
        or "no tokens",
    )


add_command(token_app, TOKEN_REVOKE)

tokens_app = typer.Typer(
    help="API tokens: make one for a user with its roles (and rate), list, revoke.",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="tokens")


def _provisioner(as_json: bool) -> Any:
    """Local mode: the operator on this machine; signed in: you, by password (a token
    cannot make tokens)."""
    import os

    from app.services.auth import auth_mode

    if auth_mode() == "local":
        return _actor(as_json)
    if not os.environ.get("WORKBENCH_USER", "").strip():
        fail(
            "making a token needs your password, not a token: set WORKBENCH_USER (and "
            "WORKBENCH_PASSWORD in scripts, or enter it when asked)",
            as_json=as_json,
            code=EXIT_FORBIDDEN,
        )
    return _password_signed_in(as_json)


add_command(tokens_app, TOKENS_CREATE, actor=_provisioner)


@tokens_app.command("list")
def tokens_list(
    user: str | None = typer.Option(
        None,
        "--user",
        help="Only this user's tokens (local mode: any user).",
        parser=opt.from_model("app.operations.auth:ApiTokenCreateRequest", "user"),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Tokens with their user, roles, rate and status (never the tokens themselves)."""
    from app.services.tokens import list_tokens

    actor = _actor(as_json)
    rows = _call(as_json, list_tokens, actor=actor, user=user)
    emit(
        {"tokens": rows},
        as_json=as_json,
        text="\n".join(
            f"{r['id']:>4} {r['user']:<16} {r['name']:<16} "
            f"{','.join(r['roles'] or ['(user roles)']):<24} {r['status']:<8} "
            f"expires {r['expires_at']}"
            for r in rows
        )
        or "no tokens",
    )


add_command(tokens_app, TOKENS_REVOKE)


@app.command("whoami")
def whoami(as_json: bool = JSON_OPT) -> None:
    """Who the CLI acts as, and in which mode (local or signed in)."""
    from app.services.auth import auth_mode

    mode = auth_mode()
    actor = _actor(as_json)
    emit(
        {"user": actor.name, "roles": sorted(actor.roles), "mode": mode},
        as_json=as_json,
        text=f"{actor.name} ({', '.join(sorted(actor.roles)) or 'no roles'}); mode: {mode}",
    )


def _secret(raw: Any, values: dict[str, Any], as_json: bool) -> Any:
    """The password as typed or prompted (kept secret; the request checks its length)."""
    return raw


add_command(app, HASH_PASSWORD, converters={"password": _secret})
