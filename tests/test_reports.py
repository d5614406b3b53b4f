"""The reports' figures from a history made for the test, on SQLite and PostgreSQL: every
expected number below is worked out by hand in the comments (docs/analytics.md defines them).

The week of Monday 2 March 2026 in Europe/London (UTC+0 then), business hours Mon-Fri
09:00-18:00, first-response target 15 minutes; the report is made on Monday 9 March 09:20.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bot.business_hours import parse
from bot.messages import OutgoingMessage
from bot.reports import Period, PeriodError, ReportSettings, build_report, percentile, period
from bot.storage import history as written
from bot.storage.migrate import upgrade
from bot.storage.models import Conversation, ConversationEvent, Customer, Message, ReportHandover, Satisfaction
from bot.settings import Settings
from bot.storage.database import Database

UTC = timezone.utc
CONFIG = ReportSettings(parse("Mon-Fri 09:00-18:00", "Europe/London"), 15 * 60, 0.6)
WEEK = Period(datetime(2026, 3, 2).date(), datetime(2026, 3, 8).date(), "Europe/London")
NOW = datetime(2026, 3, 9, 9, 20, tzinfo=UTC)


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


class History:
    """Writes conversations, messages and events at chosen moments: agents' replies and
    events through the service's own writing (bot/storage/history.py), which keeps the
    reports' hand-over facts; `raw`, as rows only, like a history written before it did."""

    def __init__(self, session, raw: bool = False) -> None:
        self.session = session
        self.raw = raw
        self.customers = 0

    async def conversation(self, channel: str, started: datetime) -> int:
        self.customers += 1
        customer = Customer(channel=channel, external_id=f"c{self.customers}", created_at=started)
        self.session.add(customer)
        await self.session.flush()
        conversation = Conversation(customer_id=customer.id, channel=channel, status="bot", priority=0,
                                    is_public=False, created_at=started, updated_at=started, last_message_at=started)
        self.session.add(conversation)
        await self.session.flush()
        return conversation.id

    async def customer(self, conversation: int, when: datetime, text: str, intent: str | None = None,
                       confidence: float | None = None) -> None:
        self.session.add(Message(conversation_id=conversation, direction="in", author="customer", text=text,
                                 data={}, intent=intent, confidence=confidence, created_at=when))
        await self.session.flush()

    async def bot(self, conversation: int, when: datetime, text: str = "…") -> None:
        self.session.add(Message(conversation_id=conversation, direction="out", author="bot", text=text,
                                 data={}, created_at=when))

    async def agent(self, conversation: int, when: datetime, name: str) -> None:
        if not self.raw:
            talk = await self.session.get(Conversation, conversation)
            await written.record_outgoing(self.session, talk, None, OutgoingMessage(
                channel=talk.channel, recipient_id="c", text="Hello", author="agent", agent_name=name), when)
            return
        self.session.add(Message(conversation_id=conversation, direction="out", author="agent", text="Hello",
                                 data={}, agent_name=name, created_at=when))
        await self.session.flush()

    async def event(self, conversation: int, when: datetime, kind: str, **data) -> None:
        if not self.raw:
            await written.add_event(self.session, conversation, kind, data, when)
            await self.session.flush()
            return
        self.session.add(ConversationEvent(conversation_id=conversation, kind=kind, data=data, created_at=when))
        await self.session.flush()

    async def rating(self, conversation: int, when: datetime, score: int, agent: str) -> None:
        self.session.add(Satisfaction(conversation_id=conversation, score=score, agent_name=agent, created_at=when))
        await self.customer(conversation, when, str(score))


async def build_week(db, raw: bool = False) -> None:
    async with db.session() as session:
        h = History(session, raw)
        # Before the period: not counted.
        early = await h.conversation("webchat", at(1, 23, 59))
        await h.customer(early, at(1, 23, 59), "asdf", "nlu_fallback", 0.4)

        # C1, C2: the bot alone (contained). C2's two messages are unsure ones.
        c1 = await h.conversation("webchat", at(2, 10, 0))
        await h.customer(c1, at(2, 10, 0), "hello", "greet", 0.95)
        await h.bot(c1, at(2, 10, 0, 1))
        c2 = await h.conversation("webchat", at(2, 10, 5))
        await h.customer(c2, at(2, 10, 5), "how much is it", "ask_price", 0.5)
        await h.customer(c2, at(2, 10, 6), "Do you sell gift cards??", "nlu_fallback", 0.4)

        # C3 (facebook): asks for a person; ann answers in 10 minutes, resolves after 30, rated 5.
        c3 = await h.conversation("facebook", at(2, 11, 0))
        await h.customer(c3, at(2, 11, 0), "I want a human", "request_human", 0.9)
        await h.event(c3, at(2, 11, 0, 10), "handoff", reason="customer_request", priority=0)
        await h.event(c3, at(2, 11, 5), "claimed", agent="ann", waited_seconds=290)
        await h.agent(c3, at(2, 11, 10, 10), "ann")
        await h.customer(c3, at(2, 11, 12), "thanks")
        await h.event(c3, at(2, 11, 30, 10), "resolved", by="ann", ask_satisfaction=True)
        await h.event(c3, at(2, 11, 30, 10), "satisfaction_asked", by="ann")
        await h.rating(c3, at(2, 11, 31), 5, "ann")

        # C4: a complaint at 17:50, ten minutes before closing; bob answers Tuesday 09:10
        # (20 business minutes, 15 h 20 min on the wall), resolves 09:40; asked, never rated.
        c4 = await h.conversation("webchat", at(2, 17, 50))
        await h.customer(c4, at(2, 17, 50), "this is a disgrace", "complaint", 0.85)
        await h.event(c4, at(2, 17, 50), "handoff", reason="complaint", priority=30)
        await h.agent(c4, at(3, 9, 10), "bob")
        await h.event(c4, at(3, 9, 40), "resolved", by="bob", ask_satisfaction=True)
        await h.event(c4, at(3, 9, 40), "satisfaction_asked", by="bob")

        # C5: started Monday 23:50, across midnight: not understood, handed over; ann answers
        # at 00:10 (outside hours: 0 business seconds) and hands it back at 00:15. Reopened:
        # Tuesday 09:00 the customer asks for a person; ann answers 09:05, resolves 09:20, rated 2.
        c5 = await h.conversation("webchat", at(2, 23, 50))
        await h.customer(c5, at(2, 23, 50), "do you sell gift cards", "nlu_fallback", 0.4)
        await h.event(c5, at(2, 23, 50, 2), "handoff", reason="out_of_scope", priority=0)
        await h.agent(c5, at(3, 0, 10, 2), "ann")
        await h.event(c5, at(3, 0, 15), "handback", by="ann")
        await h.customer(c5, at(3, 9, 0), "a person please", "request_human", 0.92)
        await h.event(c5, at(3, 9, 0), "handoff", reason="customer_request", priority=0)
        await h.agent(c5, at(3, 9, 5), "ann")
        await h.event(c5, at(3, 9, 20), "resolved", by="ann", ask_satisfaction=True)
        await h.event(c5, at(3, 9, 20), "satisfaction_asked", by="ann")
        await h.rating(c5, at(3, 9, 21), 2, "ann")

        # C6 (facebook): an abusive public post on Saturday, outside hours; nobody answered
        # by the report: 20 business minutes (Monday 09:00-09:20), past the target.
        c6 = await h.conversation("facebook", at(7, 12, 0))
        await h.customer(c6, at(7, 12, 0), "you are all ****")
        await h.event(c6, at(7, 12, 0, 1), "handoff", reason="abuse", priority=100)

        # C7: an upset customer on Sunday evening, resolved by sue without a reply.
        c7 = await h.conversation("webchat", at(8, 20, 0))
        await h.customer(c7, at(8, 20, 0), "where is my order you idiots", "order_status", 0.8)
        await h.event(c7, at(8, 20, 0, 1), "handoff", reason="negative_sentiment", priority=50)
        await h.event(c7, at(8, 21, 0, 1), "resolved", by="sue", ask_satisfaction=False)

        # After the period: not counted.
        late = await h.conversation("webchat", at(9, 0, 0))
        await h.customer(late, at(9, 0, 0), "hi", "greet", 0.99)


async def test_the_figures_of_a_week(db):
    await build_week(db)
    assert_week(await build_report(db, CONFIG, WEEK, None, NOW))


def assert_week(report) -> None:

    assert report.conversations == 7
    assert (report.handed_over.count, report.contained.count) == (5, 2)
    assert report.contained.rate == pytest.approx(2 / 7)
    assert report.handovers == 6
    assert [(code, n) for code, _, n in report.reasons] == [
        ("customer_request", 2), ("abuse", 1), ("complaint", 1), ("negative_sentiment", 1), ("out_of_scope", 1)]

    # 12 customer messages; 8 read by the model; 2 fallbacks; 3 under 0.6 or fallbacks.
    assert report.customer_messages == 12
    assert (report.fallback.count, report.fallback.total) == (2, 8)
    assert (report.low_confidence.count, report.low_confidence.total) == (3, 8)
    assert report.top_low_confidence == (("do you sell gift cards", 2), ("how much is it", 1))

    # First replies, business seconds: C3 600, C4 1200, C5 0 and 300 -> p50 300, p90 1200.
    first = report.first_response
    assert (first.business.count, first.business.p50, first.business.p90) == (4, 300, 1200)
    # Wall clock: 600, 55200, 1200, 300 -> p50 600, p90 55200.
    assert (first.wall.p50, first.wall.p90) == (600, 55200)
    # Within 15 minutes: 3 of the 4 answered plus C6, still waiting past the target.
    assert (first.within_target.count, first.within_target.total) == (3, 5)
    assert (first.waiting_past_target, first.ended_without_reply) == (1, 1)

    # Resolutions, business seconds: C3 1800, C4 3000, C5 1200, C7 0; wall: 1800, 57000, 1200, 3600.
    assert (report.resolution_business.count, report.resolution_business.p50,
            report.resolution_business.p90) == (4, 1200, 3000)
    assert (report.resolution_wall.p50, report.resolution_wall.p90) == (1800, 57000)

    csat = report.satisfaction
    assert (csat.asked, csat.answered, csat.mean) == (3, 2, 3.5)
    assert csat.distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert csat.response_rate == pytest.approx(2 / 3)

    agents = {a.name: a for a in report.agents}
    assert set(agents) == {"ann", "bob", "sue"}
    ann, bob, sue = agents["ann"], agents["bob"], agents["sue"]
    assert (ann.handled, ann.first_responses, ann.first_response_p50, ann.resolutions, ann.resolution_p50,
            ann.ratings, ann.csat) == (2, 3, 300, 2, 1200, 2, 3.5)
    assert (bob.handled, bob.first_response_p50, bob.resolution_p50, bob.ratings, bob.csat) == (1, 1200, 3000, 0, None)
    assert (sue.handled, sue.first_responses, sue.resolutions, sue.resolution_p50) == (0, 0, 1, 0)

    assert [(d.day.isoformat(), d.conversations, d.handed_over) for d in report.by_day] == [
        ("2026-03-02", 5, 3), ("2026-03-03", 0, 0), ("2026-03-04", 0, 0), ("2026-03-05", 0, 0),
        ("2026-03-06", 0, 0), ("2026-03-07", 1, 1), ("2026-03-08", 1, 1)]
    cells = {(day, hour): n for day, row in enumerate(report.by_hour) for hour, n in enumerate(row) if n}
    assert cells == {(0, 10): 2, (0, 11): 1, (0, 17): 1, (0, 23): 1, (5, 12): 1, (6, 20): 1}
    assert report.handover_intents == (("request_human", 2), (None, 1), ("complaint", 1),
                                       ("nlu_fallback", 1), ("order_status", 1))
    assert report.channels == ("facebook", "webchat")
    # The JSON the page and the CLI print is plain JSON.
    assert json.loads(json.dumps(report.to_json()))["contained"]["rate"] == round(2 / 7, 4)


async def test_a_reopened_conversation_counts_once_resolved_at_its_last_resolution(db):
    """A resolution taken back by a reopening is not one: the conversation's hand-over ends
    at its last resolution, so it is one resolution, one rating (the latest answer), and
    its time runs to when it was resolved for good."""
    from bot.storage import console as console_store

    async with db.session() as session:
        h = History(session)
        c = await h.conversation("webchat", at(4, 10, 0))
        await h.customer(c, at(4, 10, 0), "I want a human", "request_human", 0.9)
        await h.event(c, at(4, 10, 0, 10), "handoff", reason="customer_request", priority=0)
        await h.agent(c, at(4, 10, 5, 10), "ann")
        await h.event(c, at(4, 10, 10, 10), "resolved", by="ann", ask_satisfaction=True)
        await h.event(c, at(4, 10, 10, 10), "satisfaction_asked", by="ann")
        conversation = await session.get(Conversation, c)
        conversation.assigned_agent = "ann"
        await console_store.record_satisfaction(session, conversation, 2, at(4, 10, 11))
        # bob, a colleague, reopens it, writes again and resolves it for good 50 minutes on.
        await h.event(c, at(4, 10, 30), "reopened", by="bob", previous_agent="ann")
        conversation.assigned_agent = "bob"
        await h.agent(c, at(4, 10, 35), "bob")
        await h.event(c, at(4, 11, 0, 10), "resolved", by="bob", ask_satisfaction=True)
        await h.event(c, at(4, 11, 0, 10), "satisfaction_asked", by="bob")
        await console_store.record_satisfaction(session, conversation, 5, at(4, 11, 2))
    assert [(by, kind) for _, by, kind in await _facts(db)] == [("ann", "resolved")]
    report = await build_report(db, CONFIG, WEEK, None, NOW)
    assert report.handovers == 1 and report.resolution_business.count == 1
    # 10:00:10 to 11:00:10, within business hours: an hour, not the 10 minutes to the first.
    assert report.resolution_business.p50 == 3600
    csat = report.satisfaction
    assert (csat.asked, csat.answered, csat.ratings, csat.mean) == (1, 1, 1, 5)
    agents = {a.name: a for a in report.agents}
    assert (agents["bob"].resolutions, agents["bob"].ratings, agents["bob"].handled) == (1, 1, 1)
    assert (agents["ann"].resolutions, agents["ann"].ratings, agents["ann"].first_responses) == (0, 0, 1)

    # Reopened and not yet resolved again: an open hand-over, no resolution counted.
    async with db.session() as session:
        await History(session).event(c, at(4, 12, 0), "reopened", by="bob", previous_agent="bob")
    assert (await build_report(db, CONFIG, WEEK, None, NOW)).resolution_business.count == 0


async def test_one_channel(db):
    await build_week(db)
    report = await build_report(db, CONFIG, WEEK, "facebook", NOW)
    assert (report.conversations, report.handed_over.count, report.handovers) == (2, 2, 2)
    assert (report.customer_messages, report.fallback.total, report.fallback.count) == (4, 1, 0)
    assert report.first_response.business.p50 == 600
    assert (report.satisfaction.asked, report.satisfaction.mean) == (1, 5)
    assert [a.name for a in report.agents] == ["ann"]


async def test_hours_and_days_are_those_of_the_report_time_zone(db):
    """The same history in New York: UTC-5 until Sunday 8 March 02:00, UTC-4 after. C5,
    started 23:50 UTC on Monday, is Monday 18:50 there; C7 (Sunday 20:00 UTC) is 16:00;
    and the conversation of Monday 9 March 00:00 UTC is Sunday 20:00 there, in the period."""
    await build_week(db)
    new_york = Period(WEEK.since, WEEK.until, "America/New_York")
    report = await build_report(db, CONFIG, new_york, None, NOW)
    cells = {(day, hour): n for day, row in enumerate(report.by_hour) for hour, n in enumerate(row) if n}
    assert cells == {(0, 5): 2, (0, 6): 1, (0, 12): 1, (0, 18): 1, (5, 7): 1, (6, 16): 1, (6, 20): 1}
    assert report.conversations == 8


async def test_an_empty_period(db):
    report = await build_report(db, CONFIG, WEEK, None, NOW)
    assert report.conversations == 0 and report.contained.rate is None
    assert report.first_response.business.p50 is None and report.satisfaction.mean is None
    assert len(report.by_day) == 7 and not any(any(row) for row in report.by_hour)


def test_periods():
    now = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # already Tuesday in Berlin
    assert period(None, None, "Europe/Berlin", now, "today") == Period(
        datetime(2026, 3, 10).date(), datetime(2026, 3, 10).date(), "Europe/Berlin")
    seven = period(None, None, "Europe/London", now, "7d")
    assert (seven.since.isoformat(), seven.until.isoformat()) == ("2026-03-03", "2026-03-09")
    custom = period("2026-03-02", "2026-03-08", "Europe/London", now)
    assert custom.start == at(2, 0, 0) and custom.end == at(9, 0, 0)
    summer = period("2026-07-01", "2026-07-01", "Europe/London", now)
    assert summer.start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    for since, until, preset, error in (("2026-03-09", "2026-03-01", None, "after"),
                                        ("yesterday", None, None, "must be a date"),
                                        (None, None, "90d", "unknown range"),
                                        ("2020-01-01", "2026-01-01", None, "at most")):
        with pytest.raises(PeriodError, match=error):
            period(since, until, "Europe/London", now, preset)


def test_percentiles_are_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile([4, 1, 3, 2], 50) == 2 and percentile([4, 1, 3, 2], 90) == 4
    assert percentile(list(range(1, 11)), 90) == 9


async def test_a_later_report_sees_what_happened_since(db):
    """Hand-over facts follow the history as it is written: C6's reply, written after the
    first report, counts in the second."""
    await build_week(db)
    before = await build_report(db, CONFIG, WEEK, None, NOW)
    assert before.first_response.waiting_past_target == 1
    async with db.session() as session:
        history = History(session)
        c6 = (await session.execute(select(Conversation.id).where(Conversation.channel == "facebook")
                                    .order_by(Conversation.id.desc()).limit(1))).scalar_one()
        await history.agent(c6, at(9, 9, 25), "bob")
        await history.event(c6, at(9, 9, 30), "resolved", by="bob", ask_satisfaction=False)
    after = await build_report(db, CONFIG, WEEK, None, datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    first = after.first_response
    # C6: handed over Saturday 12:00:01, answered Monday 09:25: 25 business minutes.
    assert (first.business.count, first.waiting_past_target, first.within_target.total) == (5, 0, 5)
    bob = next(a for a in after.agents if a.name == "bob")
    assert (bob.first_responses, bob.first_response_p50) == (2, 1200)  # 1200 and 1500: nearest rank
    assert after.resolution_business.count == 5


async def _facts(db) -> list[tuple]:
    async with db.session() as session:
        rows = await session.execute(select(ReportHandover.handoff_id, ReportHandover.first_reply_by,
                                            ReportHandover.ended_kind).order_by(ReportHandover.handoff_id))
        return [tuple(row) for row in rows.all()]


async def test_the_facts_are_written_with_the_history_and_a_report_writes_nothing(db):
    """The hand-over facts are in `report_handovers` as soon as the history is written
    (no report has run); a report reads them and changes nothing."""
    await build_week(db)
    facts = await _facts(db)
    # C3, C4, C5 twice, C6, C7: who answered first, and how the part ended.
    assert [(by, kind) for _, by, kind in facts] == [
        ("ann", "resolved"), ("bob", "resolved"), ("ann", "handback"), ("ann", "resolved"),
        (None, None), (None, "resolved")]
    await build_report(db, CONFIG, WEEK, None, NOW)
    assert await _facts(db) == facts


async def test_the_upgrade_works_out_the_facts_of_the_history_before_it(database_url):
    """A history written before the service kept the facts (rows only, then the schema taken
    back to revision 0007): migration 0008 works them out, and the report's figures are the
    hand-worked ones. Written at the newest revision, so the models' later columns exist."""
    from alembic import command

    from bot.storage.migrate import alembic_config

    sync_url = Settings.from_mapping({"DATABASE_URL": database_url}).sync_database_url
    upgrade(sync_url)
    db = Database(database_url)
    try:
        await build_week(db, raw=True)
        assert await _facts(db) == []
        await db.close()
        command.downgrade(alembic_config(sync_url), "0007")
        db = Database(database_url)
        upgrade(sync_url)
        assert len(await _facts(db)) == 6
        assert_week(await build_report(db, CONFIG, WEEK, None, NOW))
    finally:
        await db.close()
