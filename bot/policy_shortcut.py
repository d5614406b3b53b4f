"""Skip TEDPolicy's inference on turns where it cannot change the answer.

Rasa's ensemble takes the most confident prediction and, among equally confident ones,
the one of the higher-priority policy; TEDPolicy has the lowest priority. So when
RulePolicy or MemoizationPolicy is certain (confidence 1.0), TED's prediction can only
lose, unless it is end-to-end (those overrule predictions from intents; only a model
trained on stories with user text makes them) or the last action was rejected (its
confidence is then zeroed in every prediction). On the demo most turns are decided by a
rule, and TED's inference was about half of a turn's CPU.

Installed on a loaded agent's prediction graph: TED's node returns a deferred
prediction, and the ensemble's node computes it only when the others leave the
outcome open. Every answer, policy name and confidence stays what Rasa computes
(tests/test_policy_shortcut.py compares the two turn by turn). Imports rasa: part of
the dialogue engine (bot/engine.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class DeferredPrediction:
    """A policy's prediction, computed on first use. Not a PolicyPrediction, so the
    ensemble leaves it out unless it is resolved first."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self._compute = compute

    def resolve(self) -> Any:
        return self._compute()


def install(agent: Any) -> int:
    """Make the TEDPolicy nodes of `agent`'s prediction graph lazy; how many were.

    Anything unexpected (another Rasa version's internals, an end-to-end model) leaves the
    graph as Rasa built it."""
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
    from rasa.core.policies.ted_policy import TEDPolicy

    try:
        nodes = agent.processor.graph_runner._instantiated_nodes
        ted = [n for n in nodes.values() if n._component_class is TEDPolicy
               and n._fn_name == "predict_action_probabilities" and "precomputations" not in n._inputs]
        ensembles = [n for n in nodes.values() if issubclass(n._component_class, DefaultPolicyPredictionEnsemble)
                     and n._fn_name == "combine_predictions_from_kwargs"]
        if not ted or len(ensembles) != 1:
            return 0
        lazy_priority = max(node._component.priority for node in ted)
    except (AttributeError, TypeError) as error:
        logger.warning("TEDPolicy runs on every turn: this Rasa's prediction graph is not as expected (%s)", error)
        return 0
    for node in ted:
        node._fn = _deferring(node._fn)
    ensembles[0]._fn = _resolving(ensembles[0]._fn, lazy_priority)
    return len(ted)


def _deferring(predict: Callable[..., Any]) -> Callable[..., Any]:
    def deferred(component: Any, **kwargs: Any) -> DeferredPrediction:
        return DeferredPrediction(lambda: predict(component, **kwargs))

    return deferred


def _resolving(combine: Callable[..., Any], lazy_priority: int) -> Callable[..., Any]:
    def resolved(component: Any, tracker: Any, domain: Any, **predictions: Any) -> Any:
        if not decided_without_deferred(predictions.values(), tracker, lazy_priority):
            predictions = {name: p.resolve() if isinstance(p, DeferredPrediction) else p
                           for name, p in predictions.items()}
        return combine(component, tracker=tracker, domain=domain, **predictions)

    return resolved


def decided_without_deferred(predictions: Any, tracker: Any, lazy_priority: int) -> bool:
    """Whether no prediction of priority `lazy_priority` or lower can win, whatever it says."""
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected

    last_action = next((e for e in reversed(tracker.events) if isinstance(e, (ActionExecutionRejected,
                                                                             ActionExecuted))), None)
    if isinstance(last_action, ActionExecutionRejected):
        return False
    ready = [p for p in predictions if isinstance(p, PolicyPrediction)]
    # A "no user" prediction (a form's happy path) overrules every prediction from user input.
    return any(p.is_no_user_prediction for p in ready) or any(
        p.max_confidence >= 1.0 and p.policy_priority > lazy_priority for p in ready)
