"""The fake Telegram Bot API lives in the package, `bot/demo/fake_bot_api.py`, because
`kerralla demo` plays against it too; the tests and benchmarks import it from here as before."""

from bot.demo.fake_bot_api import *  # noqa: F403
from bot.demo.fake_bot_api import JSON, ApiError, FakeBotAPI, UploadedFile, main

__all__ = ["JSON", "ApiError", "FakeBotAPI", "UploadedFile", "main"]

if __name__ == "__main__":
    main()
