"""The Redis presence backend on a real Redis."""

import time

import redis

from app.presence.redis import RENEW_CHUNK, RedisPresence


def test_renewing_many_members_extends_each_record_once(redis_url):
    """Thousands of members over two workspaces, renewed in a few commands."""
    client = redis.Redis.from_url(redis_url)
    presence = RedisPresence(client, grace=30)
    visitors = {("visitor", 1, n) for n in range(RENEW_CHUNK * 2 + 500)}
    agents = {("agent", 2, n) for n in range(3)}
    # A member renewed further ahead (by a newer connection) keeps that time.
    client.zadd("presence:agent:2", {0: time.time() + 300})

    before = time.time()
    presence.renew_many(visitors | agents)

    scores = dict(client.zrange("presence:visitor:1", 0, -1, withscores=True))
    assert len(scores) == len(visitors)
    assert all(before + 29 < score <= time.time() + 30 for score in scores.values())
    agent_scores = dict(client.zrange("presence:agent:2", 0, -1, withscores=True))
    assert agent_scores[b"0"] > time.time() + 200
    assert before + 29 < agent_scores[b"2"] <= time.time() + 30
    assert presence.online("visitor", 1) == {n for _, _, n in visitors}


def test_online_among_names_only_live_records(redis_url):
    """Of the ids asked about: live ones, not expired, unknown or other kinds."""
    client = redis.Redis.from_url(redis_url)
    presence = RedisPresence(client, grace=30)
    now = time.time()
    client.zadd("presence:visitor:1", {1: now + 30, 2: now - 1, 3: now + 5})
    client.zadd("presence:agent:1", {4: now + 30})
    client.zadd("presence:visitor:2", {5: now + 30})

    assert presence.online_among("visitor", 1, [1, 2, 3, 4, 5, 6]) == {1, 3}
    assert presence.online_among("visitor", 1, []) == set()
    assert presence.online_among("visitor", 9, [1]) == set()


def test_online_among_in_memory_matches():
    """The embedded backend answers the same question the same way."""
    from app.presence.memory import MemoryPresence

    presence = MemoryPresence(grace=30)
    presence.renew("visitor", 1, 1)
    presence.renew("agent", 1, 4)
    presence.renew("visitor", 2, 5)
    presence.grace = 0  # a record that lapses as it is made
    presence.renew("visitor", 1, 3)

    assert presence.online_among("visitor", 1, [1, 2, 3, 4, 5]) == {1}
    assert presence.online_among("visitor", 1, []) == set()
