"""`python -m bot ...`: run the service, and look after it from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager

from bot import settings as settings_module
from bot.logs import configure_logging, quiet_libraries
from bot.settings import Settings, SettingsError


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()  # before any command imports TensorFlow or Rasa
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_module.load()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    return args.handler(settings, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The brand-page assistant.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="everything in one process: web, dialogue worker, outbox (default set-up)")
    run.set_defaults(handler=_run, web=True, worker=True)
    web = sub.add_parser("web", help="webhooks, web chat and console only (scale-out)")
    web.set_defaults(handler=_run, web=True, worker=False)
    worker = sub.add_parser("worker", help="dialogue engine and outbox only (scale-out)")
    worker.set_defaults(handler=_run, web=False, worker=True)
    for command in (run, web, worker):
        command.add_argument("--port", type=int, help="override PORT")

    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=_migrate)

    from bot.training.commands import add_commands as add_training_commands

    # review, annotate, intents, train, models, eval
    add_training_commands(sub)

    queue = sub.add_parser("queue", help="conversations waiting for, or with, a person")
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(handler=_queue)

    handback = sub.add_parser("handback", help="return a conversation to the bot")
    handback.add_argument("conversation", type=int)
    handback.set_defaults(handler=_handback)

    transcript = sub.add_parser("transcript", help="a customer's conversations, readably")
    transcript.add_argument("--channel", required=True)
    transcript.add_argument("--sender", required=True)
    transcript.add_argument("--json", action="store_true")
    transcript.set_defaults(handler=_transcript)

    report = sub.add_parser("report", help="the Reports page's figures for a period (docs/analytics.md)")
    report.add_argument("--since", help="first day, YYYY-MM-DD in BUSINESS_TIMEZONE (default: 6 days before --until)")
    report.add_argument("--until", help="last day, included (default: today)")
    report.add_argument("--range", choices=("today", "7d", "30d"), help="a preset ending today, instead of the dates")
    report.add_argument("--channel", help="one channel's conversations only")
    output = report.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--csv", action="store_true", help="figure,dimension,value rows")
    report.set_defaults(handler=_report)
    erase = sub.add_parser("erase", help="erase one customer everywhere (asks to type the sender id)")
    erase.add_argument("--channel", required=True)
    erase.add_argument("--sender", required=True)
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--json", action="store_true")
    erase.set_defaults(handler=_erase)

    export = sub.add_parser("export", help="one customer's record, or everything in a date range")
    export.add_argument("--channel")
    export.add_argument("--sender")
    export.add_argument("--since", type=_date_arg, help="from this UTC date or time (ISO 8601), inclusive")
    export.add_argument("--until", type=_date_arg, help="up to this UTC date or time, exclusive")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", help="a file to write (default: standard output)")
    export.set_defaults(handler=_export)

    audit_log = sub.add_parser("audit", help="the audit trail: who read or changed what, newest first")
    audit_log.add_argument("--actor")
    audit_log.add_argument("--action")
    audit_log.add_argument("--target", help="e.g. conversation:12, user:ann")
    audit_log.add_argument("--since", type=_date_arg)
    audit_log.add_argument("--until", type=_date_arg)
    audit_log.add_argument("--limit", type=int, default=200)
    audit_log.add_argument("--json", action="store_true")
    audit_log.set_defaults(handler=_audit)

    telegram = sub.add_parser("telegram", help="Telegram bot set-up")
    telegram_sub = telegram.add_subparsers(dest="telegram_command", required=True)
    set_webhook = telegram_sub.add_parser("set-webhook", help="register this service's webhook with Telegram")
    set_webhook.add_argument("--url", help="the service's public base URL (default: PUBLIC_URL)")
    set_webhook.set_defaults(handler=_telegram_set_webhook)

    users = sub.add_parser("users", help="console accounts: add, list, set-password, set-display-name, disable")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create an account (prints a generated password if none is given)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("agent", "supervisor", "trainer", "admin"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--display-name", help="the name customers see when this person writes to them "
                                            "(default: the login name)")
    add.set_defaults(handler=_users_add)
    users_list = users_sub.add_parser("list", help="every account, with role and state")
    users_list.add_argument("--json", action="store_true")
    users_list.set_defaults(handler=_users_list)
    set_password = users_sub.add_parser("set-password", help="new password (generated unless --password-stdin)")
    set_password.add_argument("name")
    set_password.add_argument("--password-stdin", action="store_true")
    set_password.set_defaults(handler=_users_set_password)
    display_name = users_sub.add_parser("set-display-name", help="the name customers see for an account")
    display_name.add_argument("name")
    shown = display_name.add_mutually_exclusive_group(required=True)
    shown.add_argument("display_name", nargs="?", help="1-64 characters, e.g. \"Ann from Northwind\"")
    shown.add_argument("--clear", action="store_true", help="show the login name again")
    display_name.set_defaults(handler=_users_set_display_name)
    disable = users_sub.add_parser("disable", help="the account can no longer log in; its sessions end")
    disable.add_argument("name")
    disable.set_defaults(handler=_users_disable)
    return parser


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    from bot.storage.migrate import upgrade

    upgrade(settings.sync_database_url)
    print(f"database is up to date ({_safe_url(settings)})")
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from dataclasses import replace

    from aiohttp import web

    from bot.action_package import ActionsPackageError
    from bot.app import LOADING_KEY, Roles, create_app
    from bot.storage.migrate import upgrade
    from bot.training.registry import serving_model

    if args.port:
        settings = replace(settings, port=args.port, public_url=f"http://{settings.host}:{args.port}")
    if args.worker and serving_model(settings.models_dir, settings.model_path) is None:
        print(f"error: no trained model in {settings.models_dir}; run `python -m bot train`", file=sys.stderr)
        return 1
    if args.worker and not args.web and settings.worker_niceness > 0:
        os.nice(settings.worker_niceness)
    upgrade(settings.sync_database_url)
    if settings.demo_orders:
        asyncio.run(_seed_demo(settings))
    first_admin = asyncio.run(_first_admin(settings)) if args.web and settings.console_first_admin else None
    roles = Roles(web=args.web, worker=args.worker, reclaim_on_start=args.web and args.worker and settings.is_sqlite,
                  engine_process=args.web and args.worker and settings.engine_process)
    try:
        app = create_app(settings, roles)
        if args.web:
            app.on_startup.append(lambda _: _print_urls(settings, first_admin))
            app.on_shutdown.append(_print_stopping)
        web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                    shutdown_timeout=5, loop=new_event_loop(settings.uvloop))
    except ActionsPackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    loading = app.get(LOADING_KEY)
    if loading is not None and loading.state == "failed":
        print(f"error: the dialogue model could not be loaded ({loading.error}); messages accepted "
              "meanwhile are kept and answered after the next start", file=sys.stderr)
        return 1
    if args.web:
        print("  Stopped. Messages accepted but not yet answered are answered after the next start.", flush=True)
    return 0


def new_event_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def _seed_demo(settings: Settings) -> None:
    """The demo brand's orders, and its canned responses when the list is empty."""
    from actions.orders import DEMO_ORDERS
    from bot.console.demo_canned import DEMO_CANNED
    from bot.messages import utcnow
    from bot.storage.console import seed_canned
    from bot.storage.database import Database
    from bot.storage.orders import seed_orders

    db = Database(settings.database_url)
    try:
        await seed_orders(db, DEMO_ORDERS)
        async with db.session() as session:
            await seed_canned(session, DEMO_CANNED, "demo", utcnow())
    finally:
        await db.close()


async def _first_admin(settings: Settings) -> tuple[str, str] | None:
    """The first admin's name and one-time password, when this start created the account."""
    from bot.console.accounts import FIRST_ADMIN, ensure_first_admin
    from bot.messages import utcnow
    from bot.storage.database import Database

    db = Database(settings.database_url)
    try:
        password = await ensure_first_admin(db, utcnow())
    finally:
        await db.close()
    return (FIRST_ADMIN, password) if password else None


async def _print_urls(settings: Settings, first_admin: tuple[str, str] | None) -> None:
    base = settings.public_url.rstrip("/")
    # Printed as the port opens, before the model has loaded: messages are accepted from now on.
    account = "" if first_admin is None else (
        f"\n    Console account created: {first_admin[0]} / {first_admin[1]}\n"
        f"    (shown once; the console asks for a new password at first sign-in)\n")
    print(f"""
  {settings.brand_name} assistant is running ({_safe_url(settings)})

    Web chat       {base}/chat
    Agent console  {base}/console
    REST webhook   {base}/webhooks/rest/webhook
    Health         {base}/health
{account}
  Press Ctrl-C to stop.
""", flush=True)


async def _print_stopping(_) -> None:
    print("\n  Stopping: finishing the messages in hand...", flush=True)


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _with_db(settings: Settings, work):
    from bot.storage.database import Database

    async def runner():
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(runner())


def _queue(settings: Settings, args: argparse.Namespace) -> int:
    from bot.messages import utcnow
    from bot.storage.queue import waiting

    async def work(db):
        async with db.session() as session:
            return await waiting(session)

    entries = _with_db(settings, work)
    now = utcnow()
    rows = [{
        "conversation": e.conversation_id, "channel": e.channel, "customer": e.customer, "customer_id": e.customer_id,
        "status": e.status,
        "reason": e.reason, "priority": e.priority, "public": e.is_public,
        "waiting_seconds": int((now - e.queued_at).total_seconds()) if e.queued_at else None,
        "agent": e.assigned_agent, "last_message": e.last_message,
    } for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("No conversation is waiting for a person.")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} conversation(s) with people")
    for column in ("#", "channel", "customer", "status", "reason", "priority", "waiting", "last message"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["conversation"]), row["channel"] + (" (public)" if row["public"] else ""),
                      row["customer"], row["status"] + (f" ({row['agent']})" if row["agent"] else ""),
                      row["reason"] or "", str(row["priority"]), _duration(row["waiting_seconds"]),
                      row["last_message"][:80])
    Console().print(table)
    return 0


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _handback(settings: Settings, args: argparse.Namespace) -> int:
    from bot.handoff import TransitionError
    from bot.messages import utcnow
    from bot.storage.queue import hand_back

    async def work(db):
        async with db.session() as session:
            return await hand_back(session, args.conversation, by="cli", now=utcnow())

    try:
        conversation = _with_db(settings, work)
    except (LookupError, TransitionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"conversation {conversation.id} is back with the bot")
    return 0


def _report(settings: Settings, args: argparse.Namespace) -> int:
    import csv

    from bot.messages import utcnow
    from bot.reports import PeriodError, ReportSettings, build_report, flat_figures, period

    now = utcnow()
    try:
        span = period(args.since, args.until, settings.business_timezone, now, args.range)
    except PeriodError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config = ReportSettings.from_settings(settings)
    report = _with_db(settings, lambda db: build_report(db, config, span, args.channel, now))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    rows = flat_figures(report)
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(("figure", "dimension", "value"))
        writer.writerows(("" if v is None else v for v in row) for row in rows)
        return 0
    for figure, dimension, value in rows:
        shown = "-" if value is None else f"{value:.4g}" if isinstance(value, float) else value
        print(f"{figure:<40} {dimension:<24} {shown}")
    return 0


def _telegram_set_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from channels.telegram import set_webhook

    answer = asyncio.run(set_webhook(settings, args.url or settings.public_url))
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0 if answer.get("ok") else 1


def _transcript(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.history import transcript

    async def work(db):
        async with db.session() as session:
            return await transcript(session, args.channel, args.sender)

    found = _with_db(settings, work)
    if found is None:
        print(f"error: no customer {args.sender!r} on channel {args.channel!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(transcript_json(found), indent=2, ensure_ascii=False))
    else:
        print(transcript_text(found))
    return 0


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    from bot.audit import CLI
    from bot.messages import utcnow
    from bot.privacy.erase import erase_customer

    if not args.yes:
        print(f"Everything kept about {args.sender!r} on {args.channel!r} will be erased, for good.\n"
              "Type the sender id again to go on: ", end="", flush=True)
        if sys.stdin.readline().strip() != args.sender:
            print("error: not confirmed; nothing was erased", file=sys.stderr)
            return 1

    async def work(db):
        return await erase_customer(db, settings, args.channel, args.sender, actor=CLI, now=utcnow())

    report = _with_db(settings, work)
    examples = [{"intent": e.intent, "text": e.text} for e in report.training_examples]
    if args.json:
        print(json.dumps({"rows": report.rows, "tracker_events": report.tracker_events,
                          "training_examples": examples}, indent=2, ensure_ascii=False))
        return 0
    if not report.found:
        print(f"nothing was kept about {args.sender!r} on {args.channel!r}")
    for table, count in report.rows.items():
        if count:
            print(f"{table:<22} {count} row(s) {'reduced to a hash' if table == 'inbox' else 'erased'}")
    if report.tracker_events:
        print(f"{'dialogue tracker':<22} {report.tracker_events} event(s) erased")
    if examples:
        print(f"\nTheir words are examples in the training data ({settings.data_dir}); keep or remove them:")
        for example in examples:
            print(f"  {example['intent']}: {example['text']}")
    return 0


def _date_arg(value: str):
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {value!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot import audit
    from bot.messages import utcnow
    from bot.privacy.export import Selection, Writer, records

    if (args.channel is None) != (args.sender is None):
        print("error: --channel and --sender go together", file=sys.stderr)
        return 2
    if args.sender is None and args.since is None and args.until is None:
        print("error: name a customer (--channel, --sender) or a date range (--since, --until)", file=sys.stderr)
        return 2
    selection = Selection(args.channel, args.sender, args.since, args.until)
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout

    async def work(db):
        writer = Writer(out, args.format)
        async with db.session() as session:
            async for record in records(session, selection):
                writer.write(record)
        async with db.session() as session:
            await audit.record(session, audit.CLI, "export", f"channel:{args.channel}" if args.channel else None,
                               utcnow(), customer=args.sender is not None, since=_iso_or_none(args.since),
                               until=_iso_or_none(args.until), format=args.format, rows=writer.counts)
        return writer.counts

    try:
        counts = _with_db(settings, work)
    finally:
        if args.output:
            out.close()
    if args.output:
        print(", ".join(f"{n} {kind}(s)" for kind, n in counts.items()) or "nothing to export", file=sys.stderr)
    return 0


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.audit_log import AuditFilter, entries

    where = AuditFilter(args.actor, args.action, args.target, args.since, args.until, args.limit)

    async def work(db):
        async with db.session() as session:
            return await entries(session, where)

    rows = _with_db(settings, work)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        details = json.dumps(row["details"], separators=(",", ":")) if row["details"] else ""
        print(f"{row['at'][:19]}  {row['actor']:<16} {row['action']:<20} {row['target'] or '':<24} {details}")
    return 0


def _iso_or_none(value) -> str | None:
    return value.isoformat() if value is not None else None


def transcript_json(found) -> dict:
    return {
        "customer": {"channel": found.customer.channel, "id": found.customer.external_id,
                     "name": found.customer.display_name},
        "conversations": [{
            "id": c.id, "status": c.status, "handoff_reason": c.handoff_reason, "priority": c.priority,
            "language": c.language,
            "created_at": c.created_at.isoformat(),
            "messages": [{
                "id": m.id, "direction": m.direction, "author": m.author, "text": m.text, "intent": m.intent,
                "confidence": m.confidence, "entities": m.entities, "sentiment": m.sentiment,
                "delivery_status": m.delivery_status, "created_at": m.created_at.isoformat(),
                **({"buttons": m.data.get("buttons")} if (m.data or {}).get("buttons") else {}),
            } for m in found.messages if m.conversation_id == c.id],
            "events": [{"kind": e.kind, "data": e.data, "created_at": e.created_at.isoformat()}
                       for e in found.events if e.conversation_id == c.id],
        } for c in found.conversations],
    }


def transcript_text(found) -> str:
    lines = [f"{found.customer.display_name or found.customer.external_id} on {found.customer.channel}"]
    timeline = sorted([(m.created_at, 0, m.id, m) for m in found.messages]
                      + [(e.created_at, 1, e.id, e) for e in found.events], key=lambda t: t[:3])
    for at, kind, _, item in timeline:
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")
        if kind == 0:
            who = {"customer": "Customer", "bot": "Bot", "agent": f"Agent {item.agent_name or ''}".strip(),
                   "system": "System"}.get(item.author, item.author)
            detail = f"  [{item.intent} {item.confidence:.2f}]" if item.intent and item.confidence is not None else ""
            lines.append(f"{stamp}  {who}: {item.text}{detail}")
        elif item.kind == "handoff":
            lines.append(f"{stamp}  -- handed to a person: {item.data.get('reason')} "
                         f"(priority {item.data.get('priority')})")
        elif item.kind == "handback":
            lines.append(f"{stamp}  -- returned to the bot by {item.data.get('by')}")
        elif item.kind == "actions":
            lines.append(f"{stamp}  -- actions: {', '.join(item.data.get('actions', []))}")
        elif item.kind == "delivery_failed":
            lines.append(f"{stamp}  -- delivery failed: {item.data.get('error')}")
    return "\n".join(lines)


def _password_from(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _users(settings: Settings, work) -> int:
    from bot.console.accounts import AccountError
    from bot.storage.migrate import upgrade

    # Accounts may be made before the first start: the tables are created if missing.
    upgrade(settings.sync_database_url)
    try:
        return _with_db(settings, work)
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


@asynccontextmanager
async def _sessions_bus(settings: Settings):
    """In scale-out, the bus that tells the web processes to close an account's WebSockets
    at once (without it, each socket notices within seconds by itself)."""
    if not settings.redis_url:
        yield None
        return
    from bot.redis_bus import RedisBus

    bus = RedisBus(settings.redis_url)
    try:
        yield bus
    finally:
        await bus.close()


def _users_add(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.accounts import add_user
    from bot.messages import utcnow

    given = _password_from(args)

    async def work(db):
        password = await add_user(db, args.name, args.role, given, utcnow(), display_name=args.display_name)
        print(f"created {args.role} {args.name}" + ("" if given is not None else f" with password: {password}"))
        return 0

    return _users(settings, work)


def _users_list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.accounts import list_users

    async def work(db):
        rows = [{"name": a.name, "display_name": a.display_name, "role": a.role, "active": a.active,
                 "must_change_password": a.must_change_password,
                 "last_login_at": a.last_login_at.isoformat() if a.last_login_at else None}
                for a in await list_users(db)]
        if args.json:
            print(json.dumps(rows, indent=2))
        for row in [] if args.json else rows:
            state = "active" if row["active"] else "disabled"
            print(f"{row['name']:<24} {row['role']:<11} {state:<9} {row['display_name'] or '-'}")
        return 0

    return _users(settings, work)


def _users_set_password(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.accounts import set_password

    given = _password_from(args)

    async def work(db):
        async with _sessions_bus(settings) as bus:
            password = await set_password(db, args.name, given, bus)
        print(f"password of {args.name} changed" + ("" if given is not None else f": {password}"))
        return 0

    return _users(settings, work)


def _users_set_display_name(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.accounts import set_display_name

    async def work(db):
        shown = await set_display_name(db, args.name, None if args.clear else args.display_name)
        print(f"customers see {args.name} as {shown}" if shown else f"customers see {args.name} by their login name")
        return 0

    return _users(settings, work)


def _users_disable(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.accounts import disable

    async def work(db):
        async with _sessions_bus(settings) as bus:
            await disable(db, args.name, bus)
        print(f"{args.name} is disabled and logged out")
        return 0

    return _users(settings, work)
