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
