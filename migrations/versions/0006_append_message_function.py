"""A function that numbers and stores a message in one round trip (PostgreSQL)

Revision ID: 0006
Revises: 0005
Created: 2026-12-04 16:30:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Each statement of a PL/pgSQL function in a READ COMMITTED transaction takes
# a fresh snapshot, as separate statements from the client do: the look for
# a retry, made once the conversation's row is locked, sees a first attempt
# that committed while this one waited for the lock. The plans of the
# statements are kept for the session, so they are not parsed each time.
CREATE = """
CREATE FUNCTION parley_append_message(
    p_conversation integer,
    p_kind varchar,
    p_author integer,
    p_client_msg_id varchar,
    p_body text,
    p_created_at timestamptz,
    p_visible boolean,
    p_replied boolean
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
    earlier_id integer
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- Take the next number; the row stays locked to the end of the
    -- caller's transaction, which orders concurrent sends.
    UPDATE conversations AS c SET last_seq = c.last_seq + 1
    WHERE c.id = p_conversation
    RETURNING c.id, c.workspace_id, c.visitor_id, c.status, c.team_id,
              c.assignee_id, c.queued_at, c.last_seq, c.last_visible_seq,
              c.visitor_read_seq, c.agent_read_seq
    INTO c_id, c_workspace_id, c_visitor_id, c_status, c_team_id,
         c_assignee_id, c_queued_at, c_last_seq, c_last_visible_seq,
         c_visitor_read_seq, c_agent_read_seq;
    IF NOT FOUND THEN
        RETURN;
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION parley_append_message("
            "integer, varchar, integer, varchar, text, timestamptz, boolean, boolean)"
        )
