"""The message function checks the conversation it writes to

Revision ID: 0008
Revises: 0007
Created: 2026-12-04 22:00:00
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# A send may be refused by what the conversation's locked row says: another
# workspace's, another visitor's, or closed. The caller checked that after
# the call, inside its own transaction, so every send cost BEGIN and COMMIT
# round trips besides the call. With p_workspace, p_visitor and p_statuses
# the function claims a number only from a row that passes, and otherwise
# returns the row untouched, so a send that changes nothing else can run as
# a statement of its own (autocommit): one round trip.
CREATE = """
CREATE FUNCTION parley_append_message(
    p_conversation integer,
    p_kind varchar,
    p_author integer,
    p_client_msg_id varchar,
    p_body text,
    p_created_at timestamptz,
    p_visible boolean,
    p_replied boolean,
    p_answering boolean,
    p_workspace integer,
    p_visitor integer,
    p_statuses varchar[]
)
RETURNS TABLE (
    c_id integer,
    c_workspace_id integer,
    c_visitor_id integer,
    c_status varchar,
    c_team_id integer,
    c_assignee_id integer,
    c_queued_at timestamptz,
    c_last_seq integer,
    c_last_visible_seq integer,
    c_visitor_read_seq integer,
    c_agent_read_seq integer,
    message_id integer,
    earlier_id integer,
    a_online integer,
    a_assignee varchar,
    a_team varchar,
    a_hours json
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Take the next number if the row is one the message may go to; the
    -- row stays locked to the end of the transaction (the caller's, or
    -- this statement's alone), which orders concurrent sends.
    UPDATE conversations AS c SET last_seq = c.last_seq + 1
    WHERE c.id = p_conversation
      AND (p_workspace IS NULL OR c.workspace_id = p_workspace)
      AND (p_visitor IS NULL OR c.visitor_id = p_visitor)
      AND (p_statuses IS NULL OR c.status = ANY (p_statuses))
    RETURNING c.id, c.workspace_id, c.visitor_id, c.status, c.team_id,
              c.assignee_id, c.queued_at, c.last_seq, c.last_visible_seq,
              c.visitor_read_seq, c.agent_read_seq
    INTO c_id, c_workspace_id, c_visitor_id, c_status, c_team_id,
         c_assignee_id, c_queued_at, c_last_seq, c_last_visible_seq,
         c_visitor_read_seq, c_agent_read_seq;
    IF NOT FOUND THEN
        -- Missing, or not one the message may go to: the row as it is,
        -- with nothing claimed or stored (no message id, no earlier one).
        SELECT c.id, c.workspace_id, c.visitor_id, c.status, c.team_id,
               c.assignee_id, c.queued_at, c.last_seq, c.last_visible_seq,
               c.visitor_read_seq, c.agent_read_seq
        INTO c_id, c_workspace_id, c_visitor_id, c_status, c_team_id,
             c_assignee_id, c_queued_at, c_last_seq, c_last_visible_seq,
             c_visitor_read_seq, c_agent_read_seq
        FROM conversations AS c WHERE c.id = p_conversation;
        IF FOUND THEN
            RETURN NEXT;
        END IF;
        RETURN;
    END IF;

    IF p_answering THEN
        -- Who can answer: what a visitor's send is acknowledged with.
        SELECT count(u.id) INTO a_online FROM users AS u
        WHERE u.workspace_id = c_workspace_id
          AND u.is_active
          AND u.availability = 'online'
          AND (c_team_id IS NULL OR EXISTS (
              SELECT 1 FROM team_memberships AS tm
              WHERE tm.user_id = u.id AND tm.team_id = c_team_id));
        IF c_assignee_id IS NOT NULL THEN
            SELECT u.name INTO a_assignee FROM users AS u WHERE u.id = c_assignee_id;
        END IF;
        IF c_team_id IS NOT NULL THEN
            SELECT t.name, t.business_hours INTO a_team, a_hours
            FROM teams AS t WHERE t.id = c_team_id;
        END IF;
    END IF;

    IF p_client_msg_id IS NOT NULL AND p_author IS NOT NULL THEN
        SELECT m.id INTO earlier_id FROM messages AS m
        WHERE m.conversation_id = p_conversation
          AND m.author_kind = p_kind
          AND m.author_id = p_author
          AND m.client_msg_id = p_client_msg_id;
        IF FOUND THEN
            -- A retry: hand the number back and store nothing.
            UPDATE conversations AS c SET last_seq = c.last_seq - 1
            WHERE c.id = p_conversation;
            c_last_seq := c_last_seq - 1;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    INSERT INTO messages AS m (
        workspace_id, conversation_id, seq, author_kind, author_id, body,
        client_msg_id, created_at
    )
    VALUES (
        c_workspace_id, p_conversation, c_last_seq, p_kind, p_author, p_body,
        p_client_msg_id, p_created_at
    )
    RETURNING m.id INTO message_id;

    IF p_visible THEN
        UPDATE conversations AS c
        SET last_visible_seq = c_last_seq,
            first_response_at = CASE
                WHEN p_replied THEN coalesce(c.first_response_at, p_created_at)
                ELSE c.first_response_at
            END
        WHERE c.id = p_conversation;
    END IF;
    -- c_last_visible_seq is still the value before this message: the
    -- caller needs both.
    RETURN NEXT;
END;
$$
"""


def _previous_function() -> str:
    """The function as migration 0007 created it, for a downgrade."""
    path = Path(__file__).with_name("0007_append_message_answering.py")
    spec = importlib.util.spec_from_file_location("parley_migration_0007", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CREATE


_SIGNATURE = (
    "integer, varchar, integer, varchar, text, timestamptz, boolean, boolean, boolean"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION parley_append_message({_SIGNATURE})")
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"DROP FUNCTION parley_append_message({_SIGNATURE},"
            " integer, integer, varchar[])"
        )
        op.execute(_previous_function())
