"""``workbench`` commands: sign-in: personal access tokens, whoami and password hashes."""

from __future__ import annotations

import typer

from app.cli._app import app
from app.cli._common import JSON_OPT, _actor, _call, _password_signed_in, emit
from app.cli._generate import add_command
from app.operations.auth import TOKEN_CREATE

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


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(
        ..., help="Id from `workbench token list`.", min=1, max=2**63 - 1
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Revoke one of your tokens."""
    from app.services.tokens import revoke_token

    actor = _actor(as_json)
    _call(as_json, revoke_token, actor=actor, token_id=token_id)
    emit({"revoked": token_id}, as_json=as_json, text=f"token {token_id} revoked")


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


@app.command("hash-password")
def hash_password_cmd(
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True
    ),
) -> None:
    """Print a password hash for [workbench.users.<name>] in .streamlit/secrets.toml."""
    from core.auth.passwords import hash_password

    typer.echo(_call(False, hash_password, password=password))
