"""JSON APIs. Every error has the shape ``{"error": {"code", "message"}}``."""
