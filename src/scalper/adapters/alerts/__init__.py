"""Alert delivery channels: the Discord webhook client."""

from scalper.adapters.alerts.discord import DeliveryResult, DiscordWebhook, truncate_content

__all__ = ["DeliveryResult", "DiscordWebhook", "truncate_content"]
