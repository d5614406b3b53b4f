"""The trainers' JSON API: the review queue, teaching (examples, intents, responses), and
rules and stories. The same functions as `python -m bot review / annotate / intents`
(bot/training/), run in a thread under the project's edit lock: file edits never block
the event loop that acknowledges webhooks, and never interleave."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.console.api import answering, json_body, text_field
from bot.console.auth import TRAINER_ROLES
from bot.console.desk import DeskError
from bot.console.sessions import identity, login_required
from bot.settings import Settings
from bot.storage.database import Database
from bot.training import annotate, flows, review
from bot.training.annotate import AnnotationError
from bot.training.project import Project

trainer_api = login_required(TRAINER_ROLES, api=True)
MAX_EXAMPLE = 500
MAX_FLOW = 20_000


def group_json(group: review.ReviewGroup) -> dict[str, Any]:
    return {
        "key": group.key, "count": group.count, "done": group.done, "intents": dict(group.intents),
        "messages": [{**asdict(item), "created_at": item.created_at.isoformat(),
                      "context": [asdict(c) for c in item.context]} for item in group.items],
    }


def training_api_routes(db: Database, settings: Settings) -> list[web.RouteDef]:
    project = Project.from_settings(settings)

    async def edit(work, *args):
        """A change of the project's files, in a thread, under the edit lock."""
        def locked():
            with annotate.editing(project):
                return work(project, *args)

        try:
            return await asyncio.to_thread(locked)
        except AnnotationError as error:
            raise DeskError(str(error), 400) from None

    async def read(work, *args):
        # No lock: every edit replaces its file whole, so a reader never sees half of one.
        return await asyncio.to_thread(work, project, *args)

    def message_ids(body: dict[str, Any]) -> list[int]:
        ids = body.get("message_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids) or len(ids) > 500:
            raise DeskError("'message_ids' must be a list of message ids", 400)
        return ids

    async def texts_of(ids: list[int]) -> list[str]:
        try:
            async with db.session() as session:
                return [await review.customer_text(session, i) for i in ids]
        except LookupError as error:
            raise DeskError(str(error), 404) from None

    @trainer_api
    @answering
    async def review_queue(request):
        known = await read(annotate.known_examples)
        async with db.session() as session:
            items = await review.review_items(session, settings.review_confidence_threshold, known_examples=known)
        groups = review.group(items)
        if request.query.get("all") != "1":
            groups = [g for g in groups if not g.done]
        return {"groups": [group_json(g) for g in groups[:200]], "intents": await read(annotate.domain_intents)}

    @trainer_api
    @answering
    async def teach(request):
        """Every distinct text of the chosen messages becomes an example of the intent (a new
        one with its response and rule when `new`); the messages are marked done."""
        body = await json_body(request)
        ids, intent = message_ids(body), text_field(body, "intent", 64).strip()
        texts = list(dict.fromkeys(t.strip() for t in await texts_of(ids) if t and t.strip()))
        if not texts:
            raise DeskError("these messages have no text to learn from", 400)
        texts = [t[:MAX_EXAMPLE] for t in texts]
        response = text_field(body, "response") if body.get("new") else None

        def learn(project: Project) -> int:
            if response is None:
                return sum(annotate.add_example(project, intent, t).added for t in texts)
            annotate.add_intent(project, intent, texts[0], response)
            return 1 + sum(annotate.add_example(project, intent, t).added for t in texts[1:])

        added = await edit(learn)
        by = identity(request).name
        async with db.session() as session:
            for message_id in ids:
                await review.mark_annotated(session, message_id, intent, by)
        return {"intent": intent, "added": added, "new_intent": bool(body.get("new"))}

    @trainer_api
    @answering
    async def dismiss(request):
        body = await json_body(request)
        ids = message_ids(body)
        by = identity(request).name
        try:
            async with db.session() as session:
                for message_id in ids:
                    await review.dismiss(session, message_id, by)
        except LookupError as error:
            raise DeskError(str(error), 404) from None

    @trainer_api
    @answering
    async def intents(request):
        def overview(project: Project) -> list[dict[str, Any]]:
            responses = annotate.responses_of(project)
            return [{"name": name, "examples": len(examples), "response": responses.get(name)}
                    for name, examples in annotate.intent_examples(project).items()]

        return {"intents": await read(overview)}

    @trainer_api
    @answering
    async def new_intent(request):
        body = await json_body(request)
        name = text_field(body, "name", 64).strip()
        await edit(annotate.add_intent, name, text_field(body, "example", MAX_EXAMPLE), text_field(body, "response"))
        return {"name": name}

    def intent_name(request: web.Request) -> str:
        return request.match_info["intent"]

    @trainer_api
    @answering
    async def intent(request):
        name = intent_name(request)

        def details(project: Project) -> dict[str, Any]:
            examples = annotate.intent_examples(project)
            if name not in examples:
                raise DeskError(f"no intent {name!r}", 404)
            return {"name": name, "examples": examples[name], "response": annotate.responses_of(project).get(name),
                    "flows": [asdict(f) for f in flows.flows_for_intent(project, name)],
                    "actions": sorted(flows.actions_of(project))}

        return await read(details)

    @trainer_api
    @answering
    async def add_example(request):
        body = await json_body(request)
        result = await edit(annotate.add_example, intent_name(request), text_field(body, "text", MAX_EXAMPLE))
        if not result.added:
            raise DeskError(f"{result.intent} has this example already", 409)
        return {"text": result.text}

    @trainer_api
    @answering
    async def change_example(request):
        body = await json_body(request)
        new = None if body.get("remove") else text_field(body, "text", MAX_EXAMPLE)
        await edit(annotate.replace_example, intent_name(request), text_field(body, "old", MAX_EXAMPLE), new)

    @trainer_api
    @answering
    async def set_response(request):
        body = await json_body(request)
        name = intent_name(request)
        await edit(annotate.set_response, name, text_field(body, "text"))

    @trainer_api
    @answering
    async def save_flow(request):
        body = await json_body(request)
        kind = text_field(body, "kind", 8)
        replaces = body.get("replaces")
        if replaces is not None and not isinstance(replaces, str):
            raise DeskError("'replaces' must be the name of the rule or story", 400)
        flow = await edit(flows.save_flow, kind, text_field(body, "yaml", MAX_FLOW), replaces)
        return asdict(flow)

    @trainer_api
    @answering
    async def remove_flow(request):
        body = await json_body(request)
        await edit(flows.remove_flow, text_field(body, "kind", 8), text_field(body, "name", 200))

    intent_path = r"/api/training/intents/{intent:[a-z][a-z0-9_]*}"
    return [
        web.get("/api/training/review", review_queue),
        web.post("/api/training/review/teach", teach),
        web.post("/api/training/review/dismiss", dismiss),
        web.get("/api/training/intents", intents),
        web.post("/api/training/intents", new_intent),
        web.get(intent_path, intent),
        web.post(f"{intent_path}/examples", add_example),
        web.post(f"{intent_path}/examples/change", change_example),
        web.post(f"{intent_path}/response", set_response),
        web.post("/api/training/flows", save_flow),
        web.post("/api/training/flows/remove", remove_flow),
    ]
