"""Mark how far a visitor's missed replies were emailed

Revision ID: 0005
Revises: 0004
Created: 2026-12-03 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing conversations start at 0; the default is then dropped so that
    # the schema matches the model, which sets it in Python.
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emailed_seq", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("emailed_seq", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("emailed_seq")
