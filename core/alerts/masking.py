"""Hide every credential part of an apprise URL, for display, logs and error messages.

apprise parses the URL (``URLBase.parse_url``) and its plugin says, in privacy mode
(``plugin.url(privacy=True)``), which parts it treats as secrets. We hide more than that:
apprise's privacy mode keeps custom headers (``+Authorization=...``), payload fields, ntfy
topics and the first and last characters of tokens. The masked form keeps only the scheme,
a host that apprise shows in privacy mode and that looks like a network host, and the
port; user info, every path segment and every query value become ``****``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

HIDDEN = "****"
_HOSTNAME = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
# Loggers that may print a channel URL or parts of it while apprise works.
_NOISY_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.util.retry", "requests")


@dataclass(frozen=True)
class _Parts:
    scheme: str
    host: str | None  # shown host, or None when hidden
    port: int | None
    has_userinfo: bool
    segments: int
    query_keys: tuple[str, ...]


def _looks_like_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(_HOSTNAME.match(host))
    return True


def _broad_secrets(url: str) -> frozenset[str]:
    """Every part of ``url`` but its scheme: what log lines must never show."""
    from apprise import URLBase

    _, _, rest = url.partition("://")
    secrets = {url, rest, *re.split(r"[/:@?&=+]+", rest)}
    parsed = URLBase.parse_url(url, verify_host=False) or {}
    for key in ("user", "password", "host"):
        if parsed.get(key):
            secrets.add(str(parsed[key]))
    for table in ("qsd", "qsd+", "qsd-", "qsd:"):
        secrets.update(str(v) for v in (parsed.get(table) or {}).values() if v)
    secrets.update({unquote(s) for s in secrets})
    return frozenset(s for s in secrets if len(s) >= 3)


def _parts(url: str) -> _Parts | None:
    import apprise
    from apprise import URLBase

    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        return None
    parsed = URLBase.parse_url(url, verify_host=False)
    if not parsed:
        return _Parts(scheme, None, None, False, 0, ())
    host = parsed.get("host") or ""
    shown_host: str | None = None
    if host and _looks_like_host(host):
        with _filtering(_broad_secrets(url)):
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            private = plugin.url(privacy=True) if plugin is not None else ""
        shown = (URLBase.parse_url(private, verify_host=False) or {}).get("host") or ""
        if private and shown.lower() == host.lower():
            shown_host = host
    segments = [s for s in (parsed.get("fullpath") or "").split("/") if s]
    return _Parts(
        scheme=scheme,
        host=shown_host,
        port=parsed.get("port") if shown_host else None,
        has_userinfo=bool(parsed.get("user") or parsed.get("password")),
        segments=len(segments),
        query_keys=tuple(parsed.get("qsd") or {}),
    )


def mask_url_text(url: str) -> str:
    """The URL with every credential part replaced by ``****``.

    >>> mask_url_text("json://user:pw@hooks.example.com:8080/a/b?pass=x")
    'json://****@hooks.example.com:8080/****/****?pass=****'
    >>> mask_url_text("pbul://o6mQSW7ePbPcVRhZanFuZxoBNHcs2tDb")
    'pbul://****'
    """
    if url == "in-app":
        return url
    parts = _parts(url)
    if parts is None:
        return HIDDEN
    text = f"{parts.scheme}://"
    if parts.has_userinfo:
        text += f"{HIDDEN}@"
    text += parts.host if parts.host is not None else HIDDEN
    if parts.port:
        text += f":{parts.port}"
    text += f"/{HIDDEN}" * parts.segments
    if parts.query_keys:
        text += "?" + "&".join(f"{key}={HIDDEN}" for key in parts.query_keys)
    return text


def url_secrets(url: str) -> frozenset[str]:
    """Every part of ``url`` but its scheme (for log redaction; a superset of the masked)."""
    if url == "in-app":
        return frozenset()
    return _broad_secrets(url)


def redact(text: str, secrets: frozenset[str]) -> str:
    """Replace every secret in ``text`` by ``****``, longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: frozenset[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self._secrets
            )
            record.exc_info = None
        return True


@contextmanager
def _filtering(secrets: frozenset[str]) -> Iterator[None]:
    log_filter = _RedactingFilter(secrets)
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)


@contextmanager
def redacted_logs(url: str) -> Iterator[None]:
    """While apprise handles ``url``, scrub its secrets from apprise's and urllib3's logs."""
    with _filtering(url_secrets(url)):
        yield
