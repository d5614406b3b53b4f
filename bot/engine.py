"""The Rasa dialogue engine: the only module that imports `rasa` (with its tracker store,
bot/tracker_store.py).

Rasa runs on an event loop of its own in a dedicated thread. NLU and policy inference
are CPU work that would otherwise stall the service's loop, and with it the
acknowledgement of every other webhook; TensorFlow releases the interpreter while it
computes, so the web loop stays responsive while the model is busy.

Custom actions run in-process: Rasa calls its action endpoint, and ours hands the call
straight to rasa_sdk's executor instead of making an HTTP request to ourselves.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot import policy_shortcut
from bot.memory import thaw_for_model_swap
from bot.messages import Button

logger = logging.getLogger(__name__)
T = TypeVar("T")

_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")
FALLBACK_INTENT = "nlu_fallback"
# How long a stopping engine waits for the events still being published to RabbitMQ.
BROKER_FLUSH_SECONDS = 10.0


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class Reply:
    text: str = ""
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    custom: dict[str, Any] | None = None


@dataclass(frozen=True)
class Turn:
    """What the model made of one customer message."""

    intent: str | None
    confidence: float | None
    entities: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    # Set when an action sent the custom payload {"handoff": {"reason": ...}}: its reason.
    handoff_reason: str | None = None
    intent_ranking: list[dict[str, Any]] = field(default_factory=list)
    # An action returned ConversationPaused: Rasa's own way of handing over.
    paused: bool = False
    # The tracker was paused when this message came (a person had the conversation) and
    # was resumed first, so the model answers it.
    resumed: bool = False


_HIDDEN = "\ue000{"


def read_endpoints(path: Path, variables: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """endpoints.yml with `${VAR}` filled from `variables`; a section whose type or url
    comes out empty is switched off, so one file serves SQLite and PostgreSQL/Redis.

    The file is parsed first and the values filled into its parsed strings: a password
    with a quote, a "#", a ": " or a line break is then only ever a string, never YAML
    (pasted into the text, it broke the file or added keys to it)."""
    from ruamel.yaml import YAML

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise EngineError(f"{path.name} uses ${{{name}}}, which no setting provides")
        return str(variables[name])

    def filled(node: Any) -> Any:
        if isinstance(node, str):
            return _VARIABLE.sub(fill, node.replace(_HIDDEN, "${"))
        if isinstance(node, dict):
            return {key: filled(value) for key, value in node.items()}
        if isinstance(node, list):
            return [filled(item) for item in node]
        return node

    # Hidden while parsing: once rasa is imported, its resolver expands `${VAR}` from the
    # process environment itself, and fails on a name the environment lacks.
    data = filled(YAML(typ="safe").load(path.read_text().replace("${", _HIDDEN)) or {})
    return {
        name: {k: v for k, v in section.items() if v not in ("", None)}
        for name, section in data.items()
        if isinstance(section, dict) and (section.get("type") or section.get("url"))
    }


class _LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


class DialogueEngine:
    def __init__(self, model_path: Path, endpoints: Mapping[str, dict[str, Any]], actions: list[Any],
                 skip_ted_when_decided: bool = True) -> None:
        self.model_path = model_path
        # bot/policy_shortcut.py: TEDPolicy runs only on turns where it can change the answer.
        self._skip_ted_when_decided = skip_ted_when_decided
        self._endpoints = endpoints
        self._actions = actions
        self._thread: _LoopThread | None = None
        self._agent: Any = None
        # Rasa's event broker (RabbitMQ), one for the engine's life: every agent a swap loads
        # publishes through it, so a swap opens no new connection and leaves none behind.
        self._broker: Any = None

    @property
    def model_name(self) -> str:
        return self.model_path.name

    async def start(self) -> None:
        from rasa.utils.log_utils import configure_structlog

        # Rasa's structured logs would print every prediction; warnings are enough here.
        configure_structlog(logging.WARNING)
        self._thread = _LoopThread("dialogue-engine")
        try:
            self._broker = await self._thread.call(self._open_broker())
            self._agent = await self._thread.call(self._load(self.model_path))
        except BaseException:
            await self.stop()
            raise
        logger.info("dialogue model %s loaded", self.model_name)

    async def stop(self) -> None:
        if self._thread is not None:
            if self._broker is not None:
                await self._thread.call(self._close_broker(self._broker))
                self._broker = None
            self._thread.stop()
            self._thread = None

    async def _open_broker(self) -> Any:
        """Made on the engine's loop: Rasa's broker publishes with tasks on the loop it was made on."""
        section = self._endpoints.get("event_broker")
        if not section:
            return None
        from rasa.core.brokers.broker import EventBroker
        from rasa.utils.endpoints import EndpointConfig

        return await EventBroker.create(EndpointConfig.from_dict(dict(section)))

    @staticmethod
    async def _close_broker(broker: Any) -> None:
        # Rasa publishes each event in a task of its own and closes without waiting for
        # them: the events of the last messages answered would be lost at every stop.
        publishing = list(getattr(broker, "_background_tasks", ()))
        if publishing:
            await asyncio.wait(publishing, timeout=BROKER_FLUSH_SECONDS)
        await broker.close()

    async def swap(self, model_path: Path) -> None:
        """Answer with another model from now on, without a restart.

        The new agent loads beside the old one (off the engine's loop, which keeps
        answering meanwhile) and shares its lock store, so a conversation stays in order
        across the swap; then the reference is switched on the engine's loop. A message
        already being handled read the old reference and finishes on the old model."""
        if self._thread is None or self._agent is None:
            raise EngineError("the dialogue engine is not started")
        agent = await self._thread.call(self._load(model_path, previous=self._agent))
        await self._thread.call(self._install(agent, model_path))
        thaw_for_model_swap()
        logger.info("dialogue model %s loaded; now answering with it", model_path.name)

    async def _install(self, agent: Any, model_path: Path) -> None:
        self._agent, self.model_path = agent, model_path

    async def _load(self, model_path: Path, previous: Any = None) -> Any:
        from rasa.core.agent import Agent
        from rasa.core.lock_store import LockStore
        from rasa.core.tracker_store import TrackerStore
        from rasa.utils.endpoints import EndpointConfig

        def endpoint(name: str) -> EndpointConfig | None:
            section = self._endpoints.get(name)
            return EndpointConfig.from_dict(dict(section)) if section else None

        broker = self._broker
        tracker_config = endpoint("tracker_store")

        def load() -> Any:
            # The model's domain is set on the store when the model loads, so every agent
            # gets its own store; only the in-memory default is shared, to keep its trackers.
            if tracker_config and str(tracker_config.type).lower() == "sql":
                from bot.tracker_store import CachingSQLTrackerStore

                tracker_store = CachingSQLTrackerStore(host=tracker_config.url, event_broker=broker,
                                                       **tracker_config.kwargs)
            elif tracker_config:
                tracker_store = TrackerStore.create(tracker_config, event_broker=broker)
            else:
                tracker_store = previous.tracker_store if previous is not None else None
            root = logging.getLogger()
            level = root.level
            try:
                agent = Agent.load(
                    model_path, tracker_store=tracker_store,
                    lock_store=previous.lock_store if previous is not None else LockStore.create(endpoint("lock_store")),
                    action_endpoint=(ActionServer(self._endpoints["action_endpoint"])
                                     if self._endpoints.get("action_endpoint") else InProcessActions(self._actions)),
                )
            finally:
                # Agent.load sets the root logger to WARNING, which silenced the service's
                # own INFO lines (a model switch, a claim lost) from then on.
                root.setLevel(level)
            if self._skip_ted_when_decided and policy_shortcut.install(agent):
                logger.info("TEDPolicy of %s runs only where the rules and stories leave the answer open",
                            model_path.name)
            return agent

        if previous is None:
            # At start nothing is being answered yet: load on the engine's own loop, and
            # leave no executor thread behind that could hold up the process's exit.
            return load()
        # A swap is seconds of CPU and disk: in a thread, so the loop goes on answering.
        return await asyncio.get_running_loop().run_in_executor(None, load)

    async def handle(self, conversation_key: str, text: str, *, channel: str, message_id: str,
                     metadata: dict[str, Any] | None = None) -> Turn:
        if self._thread is None:
            raise EngineError("the dialogue engine is not started")
        return await self._thread.call(self._handle(conversation_key, text, channel, message_id, metadata or {}))

    async def _handle(self, key: str, text: str, channel: str, message_id: str, metadata: dict[str, Any]) -> Turn:
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
        from rasa.shared.core.events import ActionExecuted, ConversationPaused, UserUttered

        agent = self._agent
        output = CollectingOutputChannel()
        message = UserMessage(text, output, key, input_channel=channel, message_id=message_id, metadata=metadata)
        processor = agent.processor
        # Processor.handle_message, step by step, so the tracker (intent, confidence,
        # actions) comes back with the replies instead of being read again.
        async with agent.lock_store.lock(key):
            tracker = await processor.fetch_tracker_and_update_session(key, output, metadata)
            resumed = _resume_if_paused(tracker)
            await processor._handle_message_with_tracker(message, tracker)
            tracker = await processor.run_action_extract_slots(output, tracker)
            await processor._run_prediction_loop(output, tracker)
            await processor.run_anonymization_pipeline(tracker)
            await processor.save_tracker(tracker)
            # Read while the lock is held: the tracker store may hand the same tracker to
            # this conversation's next message.
            parse = tracker.latest_message.parse_data if tracker.latest_message else {}
            events = list(tracker.events)

        user_index = max((i for i, e in enumerate(events) if isinstance(e, UserUttered)), default=-1)
        actions = [
            e.action_name for e in events[user_index + 1:]
            if isinstance(e, ActionExecuted) and e.action_name and e.action_name != "action_listen"
        ]
        replies, handoff_reason = _replies(output.messages)
        intent = parse.get("intent") or {}
        return Turn(
            intent=intent.get("name"), confidence=_model_score(intent, parse.get("intent_ranking") or []),
            entities=[_plain(e) for e in parse.get("entities", [])],
            actions=actions, replies=replies, handoff_reason=handoff_reason,
            intent_ranking=[_plain(r) for r in parse.get("intent_ranking", [])[:5]],
            paused=any(isinstance(e, ConversationPaused) for e in events[user_index + 1:]), resumed=resumed,
        )


def _resume_if_paused(tracker: Any) -> bool:
    """Resume a paused tracker (ConversationResumed) before the message is logged.

    Rasa ignores a paused tracker's messages, and an action that handed over with
    ConversationPaused leaves it paused; the agent who gives the conversation back does so
    in the console or the CLI, in a web process that has no model (scale-out) and may not
    reach one. The service's history says who owns the conversation, and only messages of
    conversations that are with the bot reach the model; so a paused tracker seen here
    belongs to a conversation that came back to the bot (handed back, resolved and written
    to again, or its hand-over refused), and is resumed here, under the conversation's
    lock, in whichever process runs the model: the same in `bot run`, with its model in a
    child process, and with many workers. Systems reading Rasa's events see the
    ConversationResumed just before the customer's next message."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, ConversationResumed

    if not tracker.is_paused():
        return False
    tracker.update(ConversationResumed())
    if tracker.latest_action_name != ACTION_LISTEN_NAME:
        # The pause stopped Rasa's prediction loop before its `action_listen`; without it
        # the next message follows the hand-over action, which no rule or story expects,
        # and the policies answer with their fallback.
        tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    return True


def _model_score(intent: dict[str, Any], ranking: list[dict[str, Any]]) -> float | None:
    """The model's confidence in what it understood. For `nlu_fallback` that is its best
    real intent's score: the FallbackClassifier gives the fallback its threshold, which told
    trainers and agents nothing ("60%" on every message the model could not place)."""
    if intent.get("name") != FALLBACK_INTENT:
        return intent.get("confidence")
    scores = [r.get("confidence") or 0.0 for r in ranking if r.get("name") != FALLBACK_INTENT]
    return max(scores, default=0.0)


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy (numpy floats become floats) for the history tables."""
    return json.loads(json.dumps(value, default=float))


def _replies(messages: list[dict[str, Any]]) -> tuple[list[Reply], str | None]:
    replies: list[Reply] = []
    handoff_reason: str | None = None
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and "handoff" in custom:
            handoff_reason = str((custom.get("handoff") or {}).get("reason") or "other")
            continue
        buttons = tuple(Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in message.get("buttons") or ())
        replies.append(Reply(text=message.get("text") or "", buttons=buttons, image=message.get("image"),
                             custom=custom if isinstance(custom, dict) else None))
    return replies, handoff_reason


def InProcessActions(actions: list[Any]) -> Any:  # noqa: N802 - stands in for an EndpointConfig
    """An action endpoint that runs rasa_sdk actions in this process."""
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

    executor = ActionExecutor()
    for action in actions:
        executor.register_action(action)

    class _InProcessActions(EndpointConfig):
        async def request(self, method: str = "post", subpath: str | None = None,
                          content_type: str | None = "application/json", compress: bool = False,
                          **kwargs: Any) -> Any:
            # A JSON round trip, as over HTTP: actions must not share objects with Rasa.
            call = json.loads(json.dumps(kwargs.get("json")))
            try:
                return await executor.run(call)
            except ActionExecutionRejection as error:
                body = json.dumps({"action_name": error.action_name, "error": error.message})
                raise ClientResponseError(400, "action rejected", body) from error
            except ActionNotFoundException as error:
                raise ClientResponseError(404, "no such action", json.dumps({"error": str(error)})) from error

    return _InProcessActions(url="in-process://actions")


ACTIONS_UNAVAILABLE = "actions_unavailable"


def ActionServer(section: Mapping[str, Any]) -> Any:  # noqa: N802 - stands in for an EndpointConfig
    """An external action server's endpoint (endpoints.yml `action_endpoint`), as `rasa run`
    uses it, except when the server cannot be reached or fails: Rasa then logs and goes on
    without the action's events, so a form asked nothing and the customer got silence or
    an unrelated answer. Instead the conversation is paused (a form asks no further
    question) and handed to a person; the worker tells the customer why, in their words
    (bot/phrases.yml `actions_unavailable`)."""
    import aiohttp
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    class _ActionServer(EndpointConfig):
        async def request(self, method: str = "post", subpath: str | None = None,
                          content_type: str | None = "application/json", compress: bool = False,
                          **kwargs: Any) -> Any:
            try:
                return await super().request(method, subpath, content_type, compress, **kwargs)
            except ClientResponseError as error:
                # 400 is the server's "action rejected" (a form's validation), 404 an unknown
                # action: answers Rasa handles itself.
                if error.status < 500:
                    raise
                failure = f"answered {error.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                failure = f"unreachable ({type(error).__name__}: {error})"
            action = (kwargs.get("json") or {}).get("next_action")
            logger.error("action server %s %s running %s: the customer is handed to a person",
                         self.url, failure, action)
            return {"events": [{"event": "pause"}],
                    "responses": [{"custom": {"handoff": {"reason": ACTIONS_UNAVAILABLE}}}]}

    return _ActionServer(**dict(section))
