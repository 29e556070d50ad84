"""The story_costs table (its own module: the budget book creates it without the story cost writer's imports)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS story_costs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    service TEXT NOT NULL,
    model TEXT NOT NULL,
    units REAL NOT NULL,
    unit TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS story_costs_identity ON story_costs(identity, service);
"""
