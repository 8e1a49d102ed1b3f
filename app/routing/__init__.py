"""Routing: the right conversation to the right agent, fairly, within capacity.

``rules``, ``strategies`` and ``hours`` are pure; ``assignment`` does the
transactional work and ``setup`` the admin's changes. None of them touches
Flask globals; ``hooks`` connects them to the domain events.
"""
