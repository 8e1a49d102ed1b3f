"""Business rules with no Flask globals: views, socket handlers and jobs call these.

Every function takes the SQLAlchemy session (or a :class:`Tenant`) it works in.
"""
