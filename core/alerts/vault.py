"""Channel credentials at rest: Fernet encryption with the workbench secret key.

The key comes from :meth:`core.config.WorkbenchSettings.fernet_key` (environment, secrets
file, or the generated ``var/secret.key``); the database holds only the ciphertext and a
masked URL for display.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from core.config import SecretKeyError, get_settings


def _fernet(*, create: bool) -> Fernet:
    settings = get_settings()
    key = settings.fernet_key(create=create)
    if key is None:
        raise SecretKeyError(
            "no secret key to decrypt the stored channel credentials: set WORKBENCH_SECRET_KEY "
            f"(or restore {settings.secret_key_file}) to the key used when they were saved, "
            "or save the channels again"
        )
    return Fernet(key)


def seal(text: str) -> str:
    """Encrypt ``text``; creates the key file on first use when no key is configured."""
    return _fernet(create=True).encrypt(text.encode()).decode()


def unseal(token: str, *, what: str = "a stored secret") -> str:
    """Decrypt a :func:`seal` token.

    Raises
    ------
    SecretKeyError
        When the key is missing or is not the one that encrypted ``token``.
    """
    try:
        return _fernet(create=False).decrypt(token.encode()).decode()
    except InvalidToken:
        settings = get_settings()
        raise SecretKeyError(
            f"{what} cannot be decrypted with the key from {settings.secret_key_source()}: "
            "it was saved with another key; restore that key or save it again"
        ) from None
