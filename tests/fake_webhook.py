"""The fake Bot API's webhook lives beside it in the package: `bot/demo/fake_webhook.py`."""

from bot.demo.fake_webhook import *  # noqa: F403
from bot.demo.fake_webhook import SECRET_HEADER, Delivery, WebhookSender, queue_of

__all__ = ["SECRET_HEADER", "Delivery", "WebhookSender", "queue_of"]
