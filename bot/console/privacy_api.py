"""The console's privacy routes: a customer's full record as a JSON download (supervisors,
admins), erasing a customer (admins, who type the customer's id to confirm) and the
audit trail (admins), each read or change itself recorded in the trail."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from bot import audit
from bot.console.api import answering, json_body, text_field
from bot.console.auth import SUPERVISOR_ROLES
from bot.console.desk import DeskError
from bot.console.sessions import identity, login_required
from bot.messages import utcnow
from bot.privacy.erase import erase_customer
from bot.privacy.export import customer_conversations, customer_record
from bot.settings import Settings
from bot.storage.audit_log import AuditFilter, entries
from bot.storage.database import Database
from bot.storage.models import Conversation, Customer

ADMIN_ROLES = frozenset({"admin"})
supervisor_api = login_required(SUPERVISOR_ROLES, api=True)
admin_api = login_required(ADMIN_ROLES, api=True)


def privacy_routes(db: Database, settings: Settings) -> list[web.RouteDef]:
    async def customer_of(conversation_id: int) -> Customer:
        async with db.session() as session:
            conversation = await session.get(Conversation, conversation_id)
            customer = await session.get(Customer, conversation.customer_id) if conversation else None
        if customer is None:
            raise DeskError(f"no conversation {conversation_id}", 404)
        return customer

    @supervisor_api
    async def export(request: web.Request) -> web.Response:
        conversation_id = int(request.match_info["conversation_id"])
        try:
            customer = await customer_of(conversation_id)
        except DeskError as error:
            return web.json_response({"error": str(error)}, status=error.status)
        async with db.session() as session:
            ids = await customer_conversations(session, customer.channel, customer.external_id)
            record = await customer_record(session, ids)
            await audit.record(session, identity(request).name, "export", f"conversation:{conversation_id}",
                               utcnow(), customer=True, conversations=len(ids))
        body = {"customer": {"channel": customer.channel, "id": customer.external_id,
                             "name": customer.display_name, "created_at": customer.created_at.isoformat()},
                **record}
        return web.json_response(body, headers={
            "Content-Disposition": f'attachment; filename="customer-{conversation_id}.json"',
            "Cache-Control": "no-store"})

    @admin_api
    @answering
    async def erase(request: web.Request):
        conversation_id = int(request.match_info["conversation_id"])
        confirm = text_field(await json_body(request), "confirm", 255)
        customer = await customer_of(conversation_id)
        if confirm != customer.external_id:
            raise DeskError("type the customer's id exactly to confirm; nothing was erased", 400)
        report = await erase_customer(db, settings, customer.channel, customer.external_id,
                                      actor=identity(request).name, now=utcnow())
        return {"rows": report.rows, "tracker_events": report.tracker_events,
                "training_examples": [{"intent": e.intent, "text": e.text} for e in report.training_examples]}

    @admin_api
    @answering
    async def audit_log(request: web.Request):
        query = request.query
        try:
            where = AuditFilter(query.get("actor") or None, query.get("action") or None, query.get("target") or None,
                                _moment(query.get("since")), _moment(query.get("until")),
                                int(query.get("limit") or 200))
        except ValueError as error:
            raise DeskError(f"bad filter: {error}", 400) from error
        async with db.session() as session:
            return {"entries": await entries(session, where)}

    path = r"/api/conversations/{conversation_id:\d+}"
    return [web.get(f"{path}/export", export), web.post(f"{path}/erase", erase), web.get("/api/audit", audit_log)]


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    from datetime import timezone

    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
