"""Send a report pack through an alert channel with its files attached (apprise).

As :func:`core.alerts.channels.send`, plus attachments: a webhook (``json://``) carries
them base64-encoded in its body, email as attachments; an in-app channel delivers
nothing (the pack's files stay where the body says).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.alerts.channels import IN_APP, ChannelError, mask_url
from core.alerts.masking import redacted_logs
from core.alerts.rules import ChannelSpec


def send_with_files(channel: ChannelSpec, *, title: str, body: str, files: Sequence[Path]) -> None:
    """Deliver one notification with ``files`` attached.

    Raises
    ------
    ChannelError
        When apprise refuses the URL or reports a failure (the URL masked).
    """
    url = channel.url.get_secret_value()
    if url == IN_APP:
        return
    import apprise

    with redacted_logs(url):
        client = apprise.Apprise()
        if not client.add(url):
            raise ChannelError(f"channel {channel.name}: {mask_url(channel)} is not a valid URL")
        attach = apprise.AppriseAttachment()
        for path in files:
            attach.add(str(path))
        delivered = client.notify(
            body=body, title=title, notify_type=apprise.NotifyType.INFO, attach=attach or None
        )
    if not delivered:
        raise ChannelError(f"channel {channel.name}: delivery to {mask_url(channel)} failed")


__all__ = ["send_with_files"]
