"""The bot's commands and listeners, one cog per area, each given the services it uses (bot/services.py).

- ask.py: /ask, /sources, /status, questions in @mentions, and the buttons under an answer (everyone)
- admin.py: /reindex and /gaps (administrators only)
- articles.py: /add, /remove and /feeds (administrators only)
- base.py: what they share: the opening of a command's work, and the admin check

The client adds them in `ArticleBot.setup_hook` (bot/client.py).
"""
