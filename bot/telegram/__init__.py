"""The Telegram adapter: aiogram routers, cards and keyboards, and delivery of outbox intents."""
