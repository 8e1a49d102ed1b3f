"""Room names. Visitors and agents of a conversation sit in separate rooms so
that internal notes can be sent to agents alone."""

WIDGET = "/widget"
AGENT = "/agent"


def visitor_side(conversation_id: int) -> str:
    """Every tab of the conversation's visitor."""
    return f"c{conversation_id}:v"


def agent_side(conversation_id: int) -> str:
    """Every agent console that has the conversation open."""
    return f"c{conversation_id}:a"


def visitor(visitor_id: int) -> str:
    """Every tab of one visitor, for conversations they start elsewhere."""
    return f"v{visitor_id}"


def workspace_agents(workspace_id: int) -> str:
    """Every agent console of a workspace, for inbox and presence updates."""
    return f"w{workspace_id}:a"
