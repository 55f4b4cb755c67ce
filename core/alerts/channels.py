"""Delivery through apprise (email, Slack, Telegram, webhooks, ...) or in-app only."""

from __future__ import annotations

from core.alerts.rules import ChannelSpec, mask_url_text

IN_APP = "in-app"


class ChannelError(RuntimeError):
    """A channel could not deliver."""


def mask_url(channel: ChannelSpec) -> str:
    """The channel's URL with credentials hidden."""
    return mask_url_text(channel.url)


def send(channel: ChannelSpec, *, title: str, body: str, severity: str = "warning") -> None:
    """Deliver one notification; in-app channels need no delivery (the history is the inbox).

    Raises
    ------
    ChannelError
        When apprise reports a failure (the URL is masked in the message).
    """
    if channel.url == IN_APP:
        return
    import apprise

    notify_type = {
        "info": apprise.NotifyType.INFO,
        "warning": apprise.NotifyType.WARNING,
        "critical": apprise.NotifyType.FAILURE,
    }.get(severity, apprise.NotifyType.WARNING)
    client = apprise.Apprise()
    if not client.add(channel.url):
        raise ChannelError(f"channel {channel.name}: {mask_url(channel)} is not a valid URL")
    if not client.notify(body=body, title=title, notify_type=notify_type):
        raise ChannelError(f"channel {channel.name}: delivery to {mask_url(channel)} failed")
