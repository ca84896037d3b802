"""`kerralla demo`: a whole Sisukas meeting played offline, through the real bot.

No Telegram token and no network: an in-process fake of the Bot API (`fake_bot_api`) and an
in-process SMTP server (`mailbox`) stand in for Telegram and the mail server; the real
handlers, database (a temporary SQLite file), delivery and job workers do the rest. The
conversation is printed as it happens (`transcript`), following the script in `scenario`.
"""
