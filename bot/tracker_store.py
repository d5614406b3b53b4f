"""Rasa's SQL tracker store as the dialogue engine uses it (imported by bot/engine.py only).

The same `events` table, the same rows, so Rasa's tools read it as ever; what changes is
the work per message. Rasa's SQLTrackerStore rebuilds the tracker from every event of the
session on each message and counts the stored events again before each save. This one
keeps the trackers it handled last in memory and, before reusing one, reads with one
indexed query the conversation's events stored after it: none, or those another worker
added (the lock store keeps a conversation to one worker at a time, so that is the only
way it can change), which are applied to the kept tracker instead of rebuilding it from
the whole session. Saves add the new events in one statement.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.storage.database import sqlite_pragmas

DEFAULT_CACHE_SIZE = 2000


@dataclass
class _Cached:
    tracker: DialogueStateTracker
    stored: int  # how many of the tracker's events are in the table
    last_id: int | None  # the newest row of the conversation when it was cached


class CachingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, cache_size: int = DEFAULT_CACHE_SIZE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # Rasa opens a new SQLite connection per query and fails after 5 s of a busy
            # database; a small pool and the service's own busy timeout instead, and the
            # service's WAL journal (Rasa's default journal synced the disk twice per save).
            self.engine = sa.create_engine(self.engine.url, poolclass=sa.pool.QueuePool, pool_size=4,
                                           max_overflow=4, connect_args={"timeout": 30})
            sa.event.listen(self.engine, "connect", sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_size = cache_size

    def _last_id(self, session: Any, sender_id: str) -> int | None:
        return session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        if fetch_events_from_all_sessions:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        cached = self._cache.pop(sender_id, None)
        if cached is not None and cached.last_id is not None and len(cached.tracker.events) == cached.stored:
            with self.session_scope() as session:
                newer = (session.query(self.SQLEvent.id, self.SQLEvent.type_name, self.SQLEvent.data)
                         .filter(self.SQLEvent.sender_id == sender_id, self.SQLEvent.id >= cached.last_id)
                         .order_by(self.SQLEvent.id).all())
            # The newest row known when cached must still be there: a conversation erased
            # since (bot/privacy/erase.py) starts afresh, not from the memory of it.
            kept = bool(newer) and newer[0].id == cached.last_id
            newer = newer[1:]
            # Another worker's turn is applied as Rasa would replay it; a new session that
            # worker started is read from its start instead, as Rasa reads it.
            if kept and not any(row.type_name == SessionStarted.type_name for row in newer):
                for event in deserialise_events([json.loads(row.data) for row in newer]):
                    cached.tracker.update(event)
                last_id = newer[-1].id if newer else cached.last_id
                self._remember(cached.tracker, len(cached.tracker.events), last_id)
                return cached.tracker
        with self.session_scope() as session:
            last_id = self._last_id(session, sender_id)
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if tracker is not None:
            self._remember(tracker, len(tracker.events), last_id)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        cached = self._cache.get(tracker.sender_id)
        with self.session_scope() as session:
            if cached is not None and cached.tracker is tracker:
                new = list(itertools.islice(tracker.events, cached.stored, None))
            else:
                new = list(self._additional_events(session, tracker))
            if new:
                session.execute(self.SQLEvent.__table__.insert(), [self._row(tracker.sender_id, e) for e in new])
            last_id = self._last_id(session, tracker.sender_id)
            session.commit()
        if self.event_broker is not None and new:
            # The events just stored, and only those (Rasa would read the tracker again to
            # find them), published once they are in the table.
            await self._stream_new_events(self.event_broker, new, tracker.sender_id)
        if any(isinstance(event, SessionStarted) for event in new) or tracker.events.maxlen is not None:
            # A new session: Rasa reads only its events from now on, so read them again.
            self._cache.pop(tracker.sender_id, None)
        else:
            self._remember(tracker, len(tracker.events), last_id)

    def _remember(self, tracker: DialogueStateTracker, stored: int, last_id: int | None) -> None:
        self._cache[tracker.sender_id] = _Cached(tracker, stored, last_id)
        self._cache.move_to_end(tracker.sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @staticmethod
    def _row(sender_id: str, event: Any) -> dict[str, Any]:
        # The columns Rasa's own save writes, from the same serialised event.
        data = event.as_dict()
        return {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"), "data": json.dumps(data)}
