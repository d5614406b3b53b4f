"""Scale-out under faults: one web and two worker processes on PostgreSQL and Redis.

The web process reaches PostgreSQL, and every process reaches Redis, through a loopback
TCP proxy the tests cut and restore. Customers write over the Twitter/X webhook (signed,
acknowledged at once); the replies go to a fake X API that records them. After every
fault the same checks run: each accepted message answered exactly once (in the history
and at the platform), each conversation in order.

One cluster serves the whole module (each worker loads TensorFlow): the faults that leave
it whole run first, the two kill -9 tests last.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.messages import OutgoingMessage
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from bot.storage.models import InboxItem, Message, OutboxItem
from bot.storage.queue import waiting
from channels.base import scoped_message_id
from channels.twitter import dm_text, signature
from tests.conftest import service_env
from tests.support.fake_platform import FakePlatform, Scripted
from tests.support.metrics import TOKEN as METRICS_TOKEN
from tests.support.metrics import moved, names, scrape, total, value
from tests.support.process import ServiceProcess
from tests.support.services import fresh_postgres_database, require
from tests.support.tcp_proxy import TcpProxy

# The first test also waits for the cluster: three processes loading TensorFlow at once.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(900)]

SECRET = "scaleout-consumer-secret"
BRAND = "1503227405498351616"
DM_PATH = "/2/dm_conversations/with/"
HTTP_TIMEOUT = 2.0
RATE_PER_MINUTE, BURST = 120, 10  # one message every 0.5 s after a burst of 10
QUESTIONS = (
    "what are your opening hours?", "how much is shipping?", "how long does delivery take?",
    "do you ship internationally?", "what is your returns policy?", "what payment methods do you accept?",
    "do you have a promo code?", "where are your stores?",
)


# -- the cluster -------------------------------------------------------------------------------

@dataclass
class Cluster:
    database_url: str
    model: Path
    fake: FakePlatform
    pg_proxy: TcpProxy
    redis_proxy: TcpProxy
    web: ServiceProcess | None = None
    workers: list[ServiceProcess] = field(default_factory=list)

    def env(self, role: str) -> dict[str, str]:
        # The web process reaches PostgreSQL through the proxy (the 503 test cuts it); the
        # workers go direct, so the Redis test's failures are Redis's alone.
        url = self.database_url
        if role == "web":
            url = url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{self.pg_proxy.port}/")
        return service_env(
            url, self.model, REDIS_URL=f"redis://127.0.0.1:{self.redis_proxy.port}/7", DEMO_ORDERS="false",
            TWITTER_CONSUMER_SECRET=SECRET, TWITTER_ACCESS_TOKEN="token", TWITTER_USER_ID=BRAND,
            TWITTER_API_URL=self.fake.url, HTTP_TIMEOUT=str(HTTP_TIMEOUT), INBOX_LEASE_SECONDS="3",
            OUTBOX_BACKOFF_BASE="0.2", OUTBOX_BACKOFF_MAX="1", WORKER_CONCURRENCY="4",
            SENDER_RATE_PER_MINUTE=str(RATE_PER_MINUTE), SENDER_BURST=str(BURST), LOG_LEVEL="INFO",
            METRICS_TOKEN=METRICS_TOKEN,
        )

    def start_web(self) -> ServiceProcess:
        self.web = ServiceProcess(self.env("web"), command="web").start(timeout=600)
        return self.web

    def stop(self) -> None:
        for process in [self.web, *self.workers]:
            if process is not None:
                process.stop()


def _start_all(processes: list[ServiceProcess]) -> None:
    """Start side by side: each worker spends ~20 s of CPU loading the model."""
    errors: list[BaseException] = []

    def start(process: ServiceProcess) -> None:
        try:
            process.start(timeout=600)
        except BaseException as error:  # reported below, after every start has ended
            errors.append(error)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def cluster(model):
    require("Redis", "127.0.0.1", 6379)
    fake = FakePlatform().start()
    pg_proxy, redis_proxy = TcpProxy("127.0.0.1", 5432).start(), TcpProxy("127.0.0.1", 6379).start()
    with fresh_postgres_database() as url:
        # Migrated once before the processes start, so they do not race to create tables.
        upgrade(url.replace("+asyncpg", "+psycopg2"))
        cluster = Cluster(url, model, fake, pg_proxy, redis_proxy)
        cluster.web = ServiceProcess(cluster.env("web"), command="web")
        cluster.workers = [ServiceProcess(cluster.env("worker"), command="worker") for _ in range(2)]
        try:
            _start_all([cluster.web, *cluster.workers])
            yield cluster
        finally:
            cluster.stop()
            pg_proxy.stop()
            redis_proxy.stop()
            fake.stop()


# -- talking to it -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    sender: str
    message_id: str
    text: str


def new_senders(count: int) -> list[str]:
    base = uuid.uuid4().int % 10**12
    return [str(base * 100 + n) for n in range(count)]


def dm_batch(messages: list[Sent]) -> bytes:
    """An Account Activity delivery: one or more DMs to the brand, as X sends them."""
    return json.dumps({"for_user_id": BRAND, "direct_message_events": [{
        "type": "message_create", "id": m.message_id, "created_timestamp": str(int(time.time() * 1000)),
        "message_create": {"target": {"recipient_id": BRAND}, "sender_id": m.sender,
                           "message_data": {"text": m.text}},
    } for m in messages]}).encode()


async def post_dms(http: aiohttp.ClientSession, url: str, messages: list[Sent]) -> int:
    body = dm_batch(messages)
    async with http.post(f"{url}/webhooks/twitter/webhook", data=body, headers={
            "Content-Type": "application/json", "x-twitter-webhooks-signature": signature(SECRET, body)}) as response:
        await response.read()
        return response.status


def conversation(sender: str, turns: int, start: int = 0) -> list[Sent]:
    return [Sent(sender, f"dm-{sender}-{n}", QUESTIONS[n % len(QUESTIONS)]) for n in range(start, start + turns)]


# -- what the database and the platform say ----------------------------------------------------

async def inbox_rows(url: str, message_ids: list[str]) -> list:
    db = Database(url)
    try:
        async with db.session() as session:
            return list((await session.execute(
                select(InboxItem).where(InboxItem.platform_message_id.in_(message_ids)).order_by(InboxItem.id)
            )).scalars())
    finally:
        await db.close()


async def wait_answered(url: str, message_ids: list[str], timeout: float = 120) -> None:
    """Every one of these messages done, and every reply to them sent."""
    db = Database(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            async with db.session() as session:
                items = (await session.execute(select(InboxItem.id, InboxItem.status).where(
                    InboxItem.platform_message_id.in_(message_ids)))).all()
                unsent = (await session.execute(select(OutboxItem.id).join(
                    Message, Message.id == OutboxItem.message_id).where(
                    Message.inbox_id.in_([i.id for i in items]), OutboxItem.status != "sent"))).all()
            done = sum(i.status == "done" for i in items)
            if done == len(message_ids) and not unsent:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{done} of {len(message_ids)} messages answered, {len(unsent)} replies unsent")
            await asyncio.sleep(0.3)
    finally:
        await db.close()


@dataclass(frozen=True)
class Reply:
    inbox_id: int
    text: str  # as the platform must receive it
    attempts: int


async def replies_by_sender(url: str, sent: list[Sent]) -> dict[str, list[Reply]]:
    """The bot's replies to these messages, per customer, in the order they were written."""
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (await session.execute(
                select(InboxItem.id, InboxItem.payload, OutboxItem.payload, OutboxItem.attempts, OutboxItem.status)
                .join(Message, Message.inbox_id == InboxItem.id)
                .join(OutboxItem, OutboxItem.message_id == Message.id)
                .where(InboxItem.platform_message_id.in_([m.message_id for m in sent]), Message.direction == "out")
                .order_by(Message.id)
            )).all()
    finally:
        await db.close()
    replies: dict[str, list[Reply]] = defaultdict(list)
    for inbox_id, incoming, outgoing, attempts, status in rows:
        assert status == "sent", (inbox_id, status)
        replies[incoming["sender_id"]].append(Reply(inbox_id, dm_text(OutgoingMessage.from_json(outgoing)), attempts))
    return replies


def delivered(fake: FakePlatform, sender: str, skip: int = 0) -> list[str]:
    """DM texts the fake X API accepted for `sender`, in arrival order; `skip` = scripted failures."""
    answered = fake.received(DM_PATH)[skip:]
    return [r.json["text"] for r in answered if r.path.startswith(f"{DM_PATH}{sender}/")]


async def assert_exactly_once_in_order(cluster: Cluster, sent: list[Sent], skip: int = 0) -> None:
    """Each message done once with one set of replies, conversations in order, and the
    platform got every reply once, in order. The only repeat allowed at the platform is
    a send retried after its sender process died mid-call (its outbox attempts > 1)."""
    items = await inbox_rows(cluster.database_url, [m.message_id for m in sent])
    by_id = {i.platform_message_id: i for i in items}
    assert sorted(by_id) == sorted(m.message_id for m in sent), "a message is missing or stored twice"
    assert all(i.status == "done" for i in items), [(i.platform_message_id, i.status, i.error) for i in items]
    replies = await replies_by_sender(cluster.database_url, sent)
    for sender in {m.sender for m in sent}:
        order = [by_id[m.message_id] for m in sent if m.sender == sender]
        # In order: stored in the order sent, finished in that order, answered in that order.
        assert [i.id for i in order] == sorted(i.id for i in order)
        assert [i.processed_at for i in order] == sorted(i.processed_at for i in order)
        written = replies[sender]
        assert [r.inbox_id for r in written] == sorted(r.inbox_id for r in written)
        per_message = defaultdict(list)
        for reply in written:
            per_message[reply.inbox_id].append(reply.text)
        # Exactly once: every message has replies, and no reply set was written twice.
        assert set(per_message) == {i.id for i in order}, f"{sender}: a message has no answer"
        assert all(len(texts) == len(set(texts)) for texts in per_message.values()), f"{sender}: answered twice"
        _assert_platform_got(delivered(cluster.fake, sender, skip), written, sender)


def _assert_platform_got(received: list[str], written: list[Reply], sender: str) -> None:
    position = 0
    for reply in written:
        assert position < len(received) and received[position] == reply.text, (
            f"{sender}: expected {reply.text!r} next, the platform got {received[position:position + 3]!r}")
        position += 1
        repeats = 0
        while position < len(received) and received[position] == reply.text and repeats < reply.attempts - 1:
            position += 1  # re-sent after a takeover: the first call's outcome was unknown
            repeats += 1
    assert position == len(received), f"{sender}: the platform got more than was written: {received[position:]}"


async def health(process: ServiceProcess) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{process.url}/health") as response:
            return response.status, (await response.json())["status"]


def log_of(process: ServiceProcess) -> str:
    return process.log_path.read_text(errors="replace")


# -- the faults --------------------------------------------------------------------------------

def niceness(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16])


async def test_workers_yield_the_cpu_to_the_web_process(cluster):
    # WORKER_NICENESS (10 unless set): the model's CPU work never delays accepting webhooks.
    web = niceness(cluster.web.process.pid)
    assert [niceness(w.process.pid) for w in cluster.workers] == [min(web + 10, 19)] * 2


async def test_platform_errors_and_timeouts_delay_replies_which_then_arrive_once_in_order(cluster):
    failures = [Scripted(500, {"title": "Internal Error"}), Scripted(503, "unavailable"),
                Scripted(200, {"data": {"dm_event_id": "late"}}, delay=HTTP_TIMEOUT + 1.5),
                Scripted(500, {"title": "Internal Error"}), Scripted(200, {"data": {}}, delay=HTTP_TIMEOUT + 1.5)]
    cluster.fake.clear()
    cluster.fake.script(DM_PATH, *failures)
    senders = new_senders(2)
    sent = [m for s in senders for m in conversation(s, 3)]
    async with aiohttp.ClientSession() as http:
        for turn in range(3):
            for sender in senders:
                (message,) = [m for m in sent if m.sender == sender][turn:turn + 1]
                assert await post_dms(http, cluster.web.url, [message]) == 200
    await wait_answered(cluster.database_url, [m.message_id for m in sent])
    await asyncio.sleep(HTTP_TIMEOUT)  # a send answered late would show as an extra request now
    replies = await replies_by_sender(cluster.database_url, sent)
    assert sum(r.attempts - 1 for rs in replies.values() for r in rs) >= len(failures), "the outage was not seen"
    await assert_exactly_once_in_order(cluster, sent, skip=len(failures))


async def test_redis_away_keeps_accepting_logs_clearly_and_loses_nothing(cluster):
    cluster.fake.clear()
    senders = new_senders(3)
    sent = [m for s in senders for m in conversation(s, 2)]
    cluster.redis_proxy.cut()
    try:
        async with aiohttp.ClientSession() as http:
            for message in sent:
                assert await post_dms(http, cluster.web.url, [message]) == 200
        assert await health(cluster.web) == (200, "ok")
        await asyncio.sleep(3)  # the workers try, and fail on the lock store
        done = [i for i in await inbox_rows(cluster.database_url, [m.message_id for m in sent]) if i.status == "done"]
        assert not done, "answered without Redis's lock store?"
    finally:
        cluster.redis_proxy.restore()
    await wait_answered(cluster.database_url, [m.message_id for m in sent])
    await assert_exactly_once_in_order(cluster, sent)
    assert "Redis unavailable" in log_of(cluster.web)
    assert any("not processed: Redis unavailable" in log_of(w) for w in cluster.workers)


async def test_postgres_away_answers_503_stores_nothing_half_and_recovers_alone(cluster):
    cluster.fake.clear()
    senders = new_senders(2)
    batch = [conversation(s, 1)[0] for s in senders]  # two customers in one delivery
    later = conversation(senders[0], 1, start=1)
    cluster.pg_proxy.cut()
    try:
        async with aiohttp.ClientSession() as http:
            assert await post_dms(http, cluster.web.url, batch) == 503
            assert await post_dms(http, cluster.web.url, later) == 503
        assert await health(cluster.web) == (503, "degraded")
    finally:
        cluster.pg_proxy.restore()
    assert await inbox_rows(cluster.database_url, [m.message_id for m in batch + later]) == []
    async with aiohttp.ClientSession() as http:
        # The platform retries; the service recovered without a restart.
        for body in (batch, later):
            for _ in range(20):
                if (status := await post_dms(http, cluster.web.url, body)) == 200:
                    break
                await asyncio.sleep(0.5)
            assert status == 200
    sent = batch + later
    await wait_answered(cluster.database_url, [m.message_id for m in sent])
    await assert_exactly_once_in_order(cluster, sent)


async def test_a_flood_from_one_sender_is_rate_limited_without_slowing_others(cluster):
    cluster.fake.clear()
    flooder, *others = new_senders(3)
    flood = conversation(flooder, 30)
    calm = [m for s in others for m in conversation(s, 2)]
    async with aiohttp.ClientSession() as http:
        # A platform webhook is never refused: the flood is stored, the excess deferred.
        assert await post_dms(http, cluster.web.url, flood) == 200
        for message in calm:
            assert await post_dms(http, cluster.web.url, [message]) == 200
    await wait_answered(cluster.database_url, [m.message_id for m in calm])
    still_waiting = [i for i in await inbox_rows(cluster.database_url, [m.message_id for m in flood])
                     if i.status != "done"]
    assert len(still_waiting) >= 5, "the others were answered only after the flood"
    await wait_answered(cluster.database_url, [m.message_id for m in flood])
    await assert_exactly_once_in_order(cluster, flood + calm)
    items = await inbox_rows(cluster.database_url, [m.message_id for m in flood])
    interval = 60 / RATE_PER_MINUTE
    for n, item in enumerate(items[BURST:], start=1):
        # Beyond the burst, the n-th message waited for its slot.
        assert item.processed_at >= item.received_at + timedelta(seconds=n * interval - 0.05), n

    # REST and web chat clients are told instead (429 + Retry-After) and nothing is stored.
    rest_url = f"{cluster.web.url}/webhooks/rest/webhook"
    hasty, patient = new_senders(2)
    async with aiohttp.ClientSession() as http:
        async def say(sender: str, n: int) -> tuple[int, str | None]:
            async with http.post(rest_url, json={"sender": sender, "message": QUESTIONS[n % 8],
                                                 "message_id": f"rest-{sender}-{n}"}) as response:
                await response.read()
                return response.status, response.headers.get("Retry-After")

        answers = await asyncio.gather(*(say(hasty, n) for n in range(BURST + 4)))
        assert await say(patient, 0) == (200, None)
    refused = [retry for status, retry in answers if status == 429]
    assert len(refused) >= 3 and all(retry and int(retry) >= 1 for retry in refused), answers
    assert sum(status == 200 for status, _ in answers) == len(answers) - len(refused)
    stored = await inbox_rows(cluster.database_url,
                              [scoped_message_id(hasty, f"rest-{hasty}-{n}") for n in range(BURST + 4)])
    assert len(stored) == len(answers) - len(refused)


async def test_the_metrics_of_every_process_add_up_to_the_traffic(cluster):
    """Prometheus scrapes each process and adds them up: the web process counts what it
    accepted, the workers what they handed over and sent; the database's figures come
    from the web process."""
    processes = [cluster.web, *cluster.workers]
    cluster.fake.clear()
    before = [await scrape(p.url) for p in processes]
    senders = new_senders(4)
    sent = [m for s in senders[:3] for m in conversation(s, 2)]
    handover = Sent(senders[3], f"dm-{senders[3]}-0", "I want to talk to a human")
    async with aiohttp.ClientSession() as http:
        for message in [*sent, handover]:
            assert await post_dms(http, cluster.web.url, [message]) == 200
    await wait_answered(cluster.database_url, [m.message_id for m in [*sent, handover]])
    after = [await scrape(p.url) for p in processes]

    def added(name: str, **labels: str) -> list[float]:
        return [moved(b, a, name, **labels) for b, a in zip(before, after)]

    count = len(sent) + 1
    assert added("assistant_messages_accepted_total", channel="twitter") == [count, 0, 0]
    assert added("assistant_webhook_ack_seconds_count", channel="twitter") == [count, 0, 0]
    # Each message's first reply was sent by one worker or the other: together, one each.
    reply_times = added("assistant_reply_seconds_count", channel="twitter")
    assert reply_times[0] == 0 and sum(reply_times) == count
    deliveries = added("assistant_outbox_deliveries_total", channel="twitter", outcome="sent")
    assert deliveries[0] == 0 and sum(deliveries) == len(cluster.fake.received(DM_PATH)) > count
    handovers = added("assistant_handovers_total", reason="customer_request")
    assert handovers[0] == 0 and sum(handovers) == 1

    web, *workers = after
    db = Database(cluster.database_url)
    try:
        async with db.session() as session:
            queued = len(await waiting(session, ("queued",)))
    finally:
        await db.close()
    assert total(web, "assistant_queue_waiting") == queued >= 1
    assert value(web, "assistant_inbox_backlog", status="pending") == 0 and value(web, "assistant_state_up") == 1
    models = {w.health()["model"] for w in cluster.workers}
    for worker in workers:
        # Workers count; the database's figures are the web processes' to answer.
        assert "assistant_inbox_backlog" not in names(worker)
        assert sum(value(worker, "assistant_model_info", version=m) for m in models) == 1
    assert "assistant_model_info" not in names(web)


async def test_kill_9_of_the_web_process_between_acceptance_and_answer_loses_nothing(cluster):
    cluster.fake.clear()
    senders = new_senders(4)
    rest_url = cluster.web.url + "/webhooks/rest/webhook"
    asked = [(s, f"web-kill-{s}-{n}", QUESTIONS[n]) for s in senders for n in range(2)]
    stored_id = {message_id: scoped_message_id(sender, message_id) for sender, message_id, _ in asked}

    async def ask(http: aiohttp.ClientSession, url: str, sender: str, message_id: str, text: str):
        async with http.post(url, json={"sender": sender, "message": text, "message_id": message_id}) as response:
            return response.status, await response.json()

    async with aiohttp.ClientSession() as http:
        waiting = [asyncio.create_task(ask(http, rest_url, *a)) for a in asked[::2]]
        dms = [m for s in senders for m in conversation(s, 1)]
        assert await post_dms(http, cluster.web.url, dms) == 200
        deadline = time.monotonic() + 30
        while len(await inbox_rows(cluster.database_url, [stored_id[a[1]] for a in asked[::2]])) < len(waiting):
            assert time.monotonic() < deadline, "the REST messages were not accepted"
            await asyncio.sleep(0.05)
        cluster.web.kill()  # the REST clients are still waiting for their answers
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert any(isinstance(o, Exception) for o in outcomes), "every answer came before the kill"
    await wait_answered(cluster.database_url, [stored_id[a[1]] for a in asked[::2]] + [m.message_id for m in dms])
    await assert_exactly_once_in_order(cluster, dms)

    web = cluster.start_web()
    rest_url = web.url + "/webhooks/rest/webhook"
    async with aiohttp.ClientSession() as http:
        # The clients retry with the same ids: the stored answers come back, nothing is redone.
        for sender, message_id, text in asked:
            status, body = await ask(http, rest_url, sender, message_id, text)
            assert status == 200 and body and body[0]["recipient_id"] == sender
    items = await inbox_rows(cluster.database_url, [stored_id[a[1]] for a in asked])
    assert len(items) == len(asked) and all(i.status == "done" and i.attempts == 1 for i in items)


async def test_kill_9_of_a_worker_mid_stream_answers_every_message_exactly_once(cluster):
    cluster.fake.clear()
    senders = new_senders(4)
    streams = {s: conversation(s, 8) for s in senders}
    victim, survivor = cluster.workers
    killed = asyncio.Event()

    async def customer(http: aiohttp.ClientSession, messages: list[Sent]) -> None:
        for message in messages:
            assert await post_dms(http, cluster.web.url, [message]) == 200
            await asyncio.sleep(0.3)

    async def assassin() -> None:
        ids = [m.message_id for ms in streams.values() for m in ms]
        deadline = time.monotonic() + 30
        # Kill once the workers are busy and some answers are already out.
        while time.monotonic() < deadline:
            items = await inbox_rows(cluster.database_url, ids)
            if sum(i.status == "done" for i in items) >= 3 and sum(i.status == "processing" for i in items) >= 2:
                break
            await asyncio.sleep(0.05)
        victim.kill()
        killed.set()

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(assassin(), *(customer(http, ms) for ms in streams.values()))
    assert killed.is_set() and victim.process.returncode == -9
    sent = [m for ms in streams.values() for m in ms]
    await wait_answered(cluster.database_url, [m.message_id for m in sent])
    await asyncio.sleep(HTTP_TIMEOUT)  # anything sent twice would arrive now
    await assert_exactly_once_in_order(cluster, sent)
    assert await health(survivor) == (200, "ok")
