"""Migration 0007 marks the public posts stored before it, on both backends."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from bot.settings import Settings
from bot.storage.migrate import alembic_config, upgrade


def test_posts_stored_before_the_migration_are_marked_public(database_url):
    url = Settings.from_mapping({"DATABASE_URL": database_url}).sync_database_url
    upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO customers (id, channel, external_id, created_at) "
                                "VALUES (1, 'facebook', 'u1', '2026-12-01 10:00:00')"))
        connection.execute(text("INSERT INTO conversations (id, customer_id, channel, status, priority, is_public, "
                                "created_at, updated_at, last_message_at) VALUES "
                                "(1, 1, 'facebook', 'bot', 0, true, '2026-12-01 10:00:00', '2026-12-01 10:00:00', "
                                "'2026-12-01 10:00:00')"))
        for id_, direction, data in ((1, "in", '{"is_public": true, "thread_id": "c1"}'),
                                     (2, "in", '{"is_public": false}'), (3, "out", '{"is_public": true}')):
            connection.execute(text("INSERT INTO messages (id, conversation_id, direction, author, text, data, "
                                    "created_at) VALUES (:id, 1, :direction, 'customer', 'hi', :data, "
                                    "'2026-12-01 10:00:00')"), {"id": id_, "direction": direction, "data": data})
    upgrade(url)
    with engine.begin() as connection:
        marked = dict(connection.execute(text("SELECT id, is_public FROM messages ORDER BY id")).all())
    assert {id_: bool(value) for id_, value in marked.items()} == {1: True, 2: False, 3: False}
    command.downgrade(alembic_config(url), "0004")
    upgrade(url)
    engine.dispose()
