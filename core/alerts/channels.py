"""Delivery through apprise (email, Slack, Telegram, webhooks, ...) or in-app only."""

from __future__ import annotations

from core.alerts.masking import redacted_logs
from core.alerts.rules import ChannelSpec

IN_APP = "in-app"


class ChannelError(RuntimeError):
    """A channel could not deliver."""


def mask_url(channel: ChannelSpec) -> str:
    """The channel's URL with every credential part hidden."""
    return channel.masked


def send(channel: ChannelSpec, *, title: str, body: str, severity: str = "warning") -> None:
    """Deliver one notification; in-app channels need no delivery (the history is the inbox).

    apprise's own log lines are scrubbed of the URL's secrets while it works.

    Raises
    ------
    ChannelError
        When apprise reports a failure (the URL is masked in the message).
    """
    url = channel.url.get_secret_value()
    if url == IN_APP:
        return
    import apprise

    notify_type = {
        "info": apprise.NotifyType.INFO,
        "warning": apprise.NotifyType.WARNING,
        "critical": apprise.NotifyType.FAILURE,
    }.get(severity, apprise.NotifyType.WARNING)
    with redacted_logs(url):
        client = apprise.Apprise()
        if not client.add(url):
            raise ChannelError(f"channel {channel.name}: {mask_url(channel)} is not a valid URL")
        delivered = client.notify(body=body, title=title, notify_type=notify_type)
    if not delivered:
        raise ChannelError(f"channel {channel.name}: delivery to {mask_url(channel)} failed")
