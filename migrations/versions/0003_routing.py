"""Routing: teams' strategies and hours, agents' capacity, rules, queues

Revision ID: 0003
Revises: 0002
Created: 2026-12-03 19:45:00.000000
"""

from alembic import op
import sqlalchemy as sa


import app.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('page_url', 'language', 'prechat', 'attribute', name='rulekind', native_enum=False, length=16), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=True),
    sa.Column('pattern', sa.String(length=500), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_routing_rules_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_routing_rules_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_team_id'), ['team_id'], unique=False)
        batch_op.create_index('ix_routing_rules_workspace_position', ['workspace_id', 'position'], unique=False)

    # Existing rows get the defaults once; the defaults are then dropped so
    # that the schema matches the models, which set them in Python.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.Integer(), nullable=False, server_default='5'))
        batch_op.add_column(sa.Column('availability', sa.Enum('online', 'away', 'offline', name='availability', native_enum=False, length=16), nullable=False, server_default='offline'))
        batch_op.add_column(sa.Column('availability_changed_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_assigned_at', app.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strategy', sa.Enum('manual', 'round_robin', 'least_busy', name='strategy', native_enum=False, length=16), nullable=False, server_default='least_busy'))
        batch_op.add_column(sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('requeue_on_offline', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('offline_grace_seconds', sa.Integer(), nullable=False, server_default='120'))
        batch_op.add_column(sa.Column('business_hours', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('last_assigned_user_id', sa.Integer(), nullable=True))

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_conversations_team_queue', ['team_id', 'queued_at'], unique=False)

    # A workspace's oldest team catches what no rule matches, as every
    # conversation went to it (or to no team) before rules existed.
    op.execute(
        "UPDATE teams SET is_default = TRUE WHERE id IN "
        "(SELECT MIN(id) FROM teams GROUP BY workspace_id)"
    )

    with op.batch_alter_table('users', schema=None) as batch_op:
        for name in ('capacity', 'availability'):
            batch_op.alter_column(name, server_default=None)
    with op.batch_alter_table('teams', schema=None) as batch_op:
        for name in ('strategy', 'is_default', 'requeue_on_offline', 'offline_grace_seconds', 'business_hours'):
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_team_queue')
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('queued_at')

    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('last_assigned_user_id')
        batch_op.drop_column('business_hours')
        batch_op.drop_column('offline_grace_seconds')
        batch_op.drop_column('requeue_on_offline')
        batch_op.drop_column('is_default')
        batch_op.drop_column('strategy')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_assigned_at')
        batch_op.drop_column('availability_changed_at')
        batch_op.drop_column('availability')
        batch_op.drop_column('capacity')

    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_routing_rules_workspace_position')
        batch_op.drop_index(batch_op.f('ix_routing_rules_team_id'))

    op.drop_table('routing_rules')
