"""Realtime: read marks, visible seq, visitor context

Revision ID: 0002
Revises: 0001
Created: 2026-12-03 19:32:45.369989
"""

from alembic import op
import sqlalchemy as sa


import app.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get the defaults once; the defaults are then dropped so
    # that the schema matches the models, which set them in Python.
    counters = ("last_visible_seq", "visitor_read_seq", "agent_read_seq")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for name in counters:
            batch_op.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default="0")
            )
        batch_op.add_column(
            sa.Column("context", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_page", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(sa.Column("user_agent", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))

    op.execute(
        "UPDATE conversations SET last_visible_seq = last_seq, "
        "visitor_read_seq = 0, agent_read_seq = 0"
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for name in (*counters, "context"):
            batch_op.alter_column(name, server_default=None)
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.alter_column("last_page", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('visitors', schema=None) as batch_op:
        batch_op.drop_column('locale')
        batch_op.drop_column('user_agent')
        batch_op.drop_column('last_page')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('context')
        batch_op.drop_column('agent_read_seq')
        batch_op.drop_column('visitor_read_seq')
        batch_op.drop_column('last_visible_seq')

