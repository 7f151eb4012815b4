"""Fast tests of the bot's guards (its [discord] table in config.example.toml: tests/test_config.py)."""

from __future__ import annotations

import pytest

from bot.errors import GuildBusy, OnCooldown
from bot.guards import Cooldowns, GuildSlots


def test_cooldown_allows_a_burst_then_says_when_to_come_back() -> None:
    now = [100.0]
    cooldowns = Cooldowns(2, 30, clock=lambda: now[0])
    cooldowns.hit(1)
    cooldowns.hit(1)
    with pytest.raises(OnCooldown) as refused:
        cooldowns.hit(1)
    assert refused.value.retry_after == pytest.approx(30)
    assert "30 s" in str(refused.value)
    cooldowns.hit(2)  # other users are not affected
    now[0] += 30
    cooldowns.hit(1)
    assert Cooldowns(1, 0).retry_after(1) == 0  # 0 seconds: no cooldown


def test_guild_slots_cap_work_per_server_and_give_slots_back() -> None:
    slots = GuildSlots(2)
    key = slots.key(7, 1)
    with slots.hold(key), slots.hold(key):
        with pytest.raises(GuildBusy), slots.hold(key):
            pass
        with slots.hold(slots.key(8, 1)), slots.hold(slots.key(None, 1)):
            pass
    assert slots.in_use(key) == 0
    assert slots.key(None, 5) != slots.key(5, 5)


def test_cooldowns_forget_users_whose_questions_have_expired() -> None:
    now = [0.0]
    cooldowns = Cooldowns(1, 10, clock=lambda: now[0])
    for user in range(5):
        cooldowns.hit(user)
    now[0] = 20.0
    cooldowns.hit(99)
    assert cooldowns.users == 1
    now[0] = 25.0
    cooldowns.hit(7)
    now[0] = 31.0  # 99's question has expired, 7's has not
    cooldowns.hit(8)
    assert cooldowns.users == 2
    with pytest.raises(OnCooldown):
        cooldowns.hit(7)
