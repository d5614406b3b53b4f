"""The trainers' commands of `python -m bot`: review, annotate, intents, train, models, eval."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from bot.settings import Settings


def add_commands(sub) -> None:
    review = sub.add_parser("review", help="customer messages the bot should learn from, grouped")
    review.add_argument("--limit", type=int, default=20, help="groups to show (default 20)")
    review.add_argument("--all", action="store_true", help="include groups already annotated")
    review.add_argument("--json", action="store_true")
    review.add_argument("--dismiss", type=int, nargs="+", metavar="ID", help="nothing to teach in these messages")
    review.set_defaults(handler=_review)

    annotate = sub.add_parser("annotate", help="teach an example to an existing or a new intent")
    annotate.add_argument("text", nargs="?", help="the example (or use --message)")
    annotate.add_argument("--message", type=int, help="a customer message id from `review`")
    annotate.add_argument("--intent", required=True)
    annotate.add_argument("--new", action="store_true", help="create the intent, its response and rule")
    annotate.add_argument("--response", help="what the bot answers (a new intent's, or replaces an existing one's)")
    annotate.add_argument("--by", default="cli", help="who annotated (recorded in the history)")
    annotate.set_defaults(handler=_annotate)

    intents = sub.add_parser("intents", help="intents and how many examples each has; or one intent in full")
    intents.add_argument("intent", nargs="?", help="show this intent's examples, response, rules and stories")
    intents.add_argument("--json", action="store_true")
    intents.set_defaults(handler=_intents)

    examples = sub.add_parser("examples", help="change an intent's examples: --add, --remove or --replace")
    examples.add_argument("intent")
    change = examples.add_mutually_exclusive_group(required=True)
    change.add_argument("--add", metavar="TEXT")
    change.add_argument("--remove", metavar="TEXT")
    change.add_argument("--replace", nargs=2, metavar=("OLD", "NEW"))
    examples.set_defaults(handler=_examples)

    flows = sub.add_parser("flows", help="add, replace or remove a rule or story, written in Rasa's YAML")
    flows.add_argument("action", choices=("add", "replace", "remove"))
    flows.add_argument("--kind", choices=("rule", "story"), required=True)
    flows.add_argument("--name", help="with replace and remove: the rule's or story's name")
    flows.add_argument("--file", type=Path, help="the YAML of one rule or story ('-': standard input)")
    flows.set_defaults(handler=_flows)

    train = sub.add_parser("train", help="validate, train, gate against the active model (see docs/training.md)")
    train.add_argument("--if-missing", action="store_true", help="only when models/ has no model (no gate)")
    train.add_argument("--activate", action="store_true", help="activate the new model when it passes the gate")
    train.add_argument("--measure", action="store_true",
                       help="the first model: measure its held-out figures too (a second, NLU-only training)")
    train.add_argument("--events", action="store_true",
                       help="progress and outcome as JSON lines on stdout (the console's training page reads them)")
    train.set_defaults(handler=_train)

    models = sub.add_parser("models", help="model versions: list, activate, rollback, measure")
    models.add_argument("action", nargs="?", choices=("list", "activate", "rollback", "measure"), default="list")
    models.add_argument("version", nargs="?")
    models.add_argument("--force", action="store_true", help="activate a version the gate refused")
    models.add_argument("--reason", default="", help="why the gate is overruled (kept with the version)")
    models.add_argument("--json", action="store_true")
    models.add_argument("--events", action="store_true",
                        help="with measure: progress and outcome as JSON lines (the console's Models page reads them)")
    models.set_defaults(handler=_models)

    evaluate = sub.add_parser("eval", help="measure the pipeline on a labelled train and test set")
    evaluate.add_argument("--train", type=Path, required=True, help="Rasa NLU YAML or CSV (text,label)")
    evaluate.add_argument("--test", type=Path, required=True, help="label `oos`: must be handed over")
    evaluate.add_argument("--validation", type=Path, help="for --choose-threshold (default: 20%% of --train)")
    evaluate.add_argument("--config", type=Path, help="pipeline to measure (default: CONFIG_FILE)")
    evaluate.add_argument("--choose-threshold", action="store_true")
    evaluate.add_argument("--target-wrong-rate", type=float, default=0.05)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=_eval)


def _project(settings: Settings):
    from bot.training.project import Project

    return Project.from_settings(settings)


def _with_session(settings: Settings, work):
    from bot.storage.database import Database

    async def runner():
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                return await work(session)
        finally:
            await db.close()

    return asyncio.run(runner())


# --- review ------------------------------------------------------------------------------

def _review(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.annotate import known_examples
    from bot.training.review import group, review_items

    if args.dismiss:
        return _dismiss(settings, args.dismiss)
    known = known_examples(_project(settings))

    async def work(session):
        return await review_items(session, settings.review_confidence_threshold, known_examples=known)

    groups = [g for g in group(_with_session(settings, work)) if args.all or not g.done][:args.limit]
    if args.json:
        print(json.dumps([{
            "key": g.key, "count": g.count, "done": g.done, "intents": dict(g.intents),
            "messages": [{**asdict(i), "created_at": i.created_at.isoformat(),
                          "context": [asdict(c) for c in i.context]} for i in g.items],
        } for g in groups], indent=2, ensure_ascii=False))
        return 0
    if not groups:
        print("Nothing to review.")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(groups)} group(s) to review (annotate with `python -m bot annotate --message ID "
                        "--intent NAME`)")
    for column in ("count", "example", "message ids", "predicted", "why", "context"):
        table.add_column(column, overflow="fold")
    for g in groups:
        first = g.items[0]
        predicted = ", ".join(f"{name} ×{n}" for name, n in g.intents)
        if first.confidence is not None:
            predicted += f" ({first.confidence:.2f})"
        context = " / ".join(f"{c.author}: {c.text[:40]}" for c in first.context)
        table.add_row(str(g.count) + (" done" if g.done else ""), first.text[:80],
                      ", ".join(str(i.message_id) for i in g.items[:5]) + ("…" if g.count > 5 else ""),
                      predicted, "; ".join(first.reasons), context)
    Console().print(table)
    return 0


def _dismiss(settings: Settings, message_ids: list[int]) -> int:
    from bot.training.review import dismiss

    async def work(session):
        for message_id in message_ids:
            await dismiss(session, message_id, "cli")

    try:
        _with_session(settings, work)
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"dismissed {len(message_ids)} message(s): nothing to teach there")
    return 0


# --- annotate / intents ------------------------------------------------------------------

def _annotate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.annotate import AnnotationError, add_example, add_intent, editing, set_response
    from bot.training.review import customer_text, mark_annotated

    project = _project(settings)
    text = args.text
    try:
        if args.message is not None:
            async def read(session):
                return await customer_text(session, args.message)

            text = _with_session(settings, read)
        if not text and not (args.response and not args.new):
            raise AnnotationError("give the example's text, or --message ID")
        with editing(project):
            if args.new:
                result = add_intent(project, args.intent, text, args.response or "")
            else:
                if args.response:
                    # An existing intent: --response rewrites what the bot answers.
                    set_response(project, args.intent, args.response)
                    print(f"utter_{args.intent} now answers: {args.response.strip()}")
                    if not text:
                        return 0
                result = add_example(project, args.intent, text)
    except (AnnotationError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.message is not None:
        async def mark(session):
            await mark_annotated(session, args.message, args.intent, args.by)

        _with_session(settings, mark)
    if result.new_intent:
        print(f"new intent {result.intent}: example, response utter_{result.intent} and rule added")
    elif result.added:
        print(f"added to {result.intent}: {result.text}")
    else:
        print(f"{result.intent} has this example already")
    print("train and activate with `python -m bot train --activate`")
    return 0


def _intents(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.annotate import intent_examples, responses_of
    from bot.training.flows import flows_for_intent

    project = _project(settings)
    examples = intent_examples(project)
    if args.intent:
        if args.intent not in examples:
            print(f"error: no intent {args.intent!r}; see `python -m bot intents`", file=sys.stderr)
            return 1
        detail = {"name": args.intent, "examples": examples[args.intent],
                  "response": responses_of(project).get(args.intent),
                  "flows": [asdict(f) for f in flows_for_intent(project, args.intent)]}
        if args.json:
            print(json.dumps(detail, indent=2, ensure_ascii=False))
            return 0
        print(f"{args.intent}: {len(detail['examples'])} examples")
        print("\n".join(f"  - {e}" for e in detail["examples"]))
        print(f"response: {detail['response'] or '(none: a custom action, form or hand-over answers it)'}")
        for flow in detail["flows"]:
            print(f"\n{flow['kind']} in data/{flow['file']}:\n{flow['yaml'].rstrip()}")
        return 0
    counts = {name: len(found) for name, found in examples.items()}
    if args.json:
        print(json.dumps(counts, indent=2))
        return 0
    width = max(map(len, counts), default=10)
    for name, count in counts.items():
        print(f"{name:<{width}}  {count}")
    print(f"{len(counts)} intents, {sum(counts.values())} examples")
    return 0


def _examples(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.annotate import AnnotationError, add_example, editing, replace_example

    project = _project(settings)
    try:
        with editing(project):
            if args.add is not None:
                if not add_example(project, args.intent, args.add).added:
                    print(f"{args.intent} has this example already")
                    return 0
            elif args.remove is not None:
                replace_example(project, args.intent, args.remove, None)
            else:
                replace_example(project, args.intent, *args.replace)
    except AnnotationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{args.intent}: done; train with `python -m bot train --activate`")
    return 0


def _flows(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training.annotate import AnnotationError, editing
    from bot.training.flows import remove_flow, save_flow

    project = _project(settings)
    if args.action != "add" and not args.name:
        print(f"error: {args.action} needs --name", file=sys.stderr)
        return 2
    try:
        with editing(project):
            if args.action == "remove":
                remove_flow(project, args.kind, args.name)
                print(f"removed the {args.kind} {args.name!r}")
                return 0
            if args.file is None:
                print("error: give the YAML with --file (or --file - for standard input)", file=sys.stderr)
                return 2
            text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
            flow = save_flow(project, args.kind, text, replaces=args.name if args.action == "replace" else None)
    except (AnnotationError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"saved the {flow.kind} {flow.name!r} in data/{flow.file}")
    return 0


# --- train / models ----------------------------------------------------------------------

def _train(settings: Settings, args: argparse.Namespace) -> int:
    from bot.training import TrainingFailed
    from bot.training.pipeline import train_and_gate
    from bot.training.registry import serving_model

    if args.if_missing and serving_model(settings.models_dir, settings.model_path):
        return 0
    if args.events:
        return _train_with_events(settings, args.activate, args.measure)
    from rich.console import Console

    console = Console(stderr=True)

    def on_step(step: str) -> None:
        console.print(f"[bold]» {step}[/bold]")

    try:
        with console.status("starting", spinner="dots") as status:
            def on_output(line: str) -> None:
                # Rasa's progress bars and log lines, one at a time, on the status line.
                status.update(line[-120:].replace("[", r"\["))
                if not console.is_terminal and ("it/s" not in line or "100%" in line):
                    console.print(line, markup=False, highlight=False)

            outcome = train_and_gate(_project(settings), settings.models_dir, settings.gate_tolerance,
                                     activate=args.activate or args.if_missing, measure_first=args.measure,
                                     on_step=on_step, on_output=on_output)
    except TrainingFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(outcome.report)
    version = outcome.version
    if version.status == "active":
        print(f"{version.version} is active; a running service switches to it within a few seconds")
    elif version.status == "candidate":
        print(f"{version.version} passed; activate it with `python -m bot models activate {version.version}`")
    else:
        print(f"{version.version} was refused; it stays registered but is not served", file=sys.stderr)
        return 3
    return 0


def _train_with_events(settings: Settings, activate: bool, measure_first: bool = False) -> int:
    """`bot train --events`: one JSON object a line, `{"event": "step" | "output" | "progress" |
    "result" | "error", ...}`. Lines that are not JSON (Rasa's own, from the gate's trainings) may come
    in between; readers treat them as output."""
    from bot.training import TrainingFailed
    from bot.training.pipeline import train_and_gate

    _lower_priority(settings)
    try:
        outcome = train_and_gate(_project(settings), settings.models_dir, settings.gate_tolerance,
                                 activate=activate, measure_first=measure_first,
                                 on_step=lambda text: _emit("step", text=text),
                                 on_output=lambda line: _emit("output", text=line))
    except TrainingFailed as error:
        _emit("error", text=str(error))
        return 1
    version = outcome.version
    _emit("result", version=version.version, status=version.status, report=outcome.report,
          passed=outcome.decision.passed if outcome.decision else True)
    return 0 if version.status != "refused" else 3


def _lower_priority(settings: Settings) -> None:
    if settings.training_niceness > 0:
        # The console's trainings share the machine with the service: a lower priority.
        os.nice(settings.training_niceness)


def _emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)


def _models(settings: Settings, args: argparse.Namespace) -> int:
    from bot import audit
    from bot.training.registry import Registry, RegistryError

    registry = Registry(settings.models_dir)
    try:
        if args.action == "activate":
            if not args.version:
                print("error: which version? see `python -m bot models list`", file=sys.stderr)
                return 2
            entry = registry.activate(args.version, force=args.force, forced_by="command line",
                                      reason=args.reason or None)
            audit.record_from_cli(settings.database_url, "model_activated", f"model:{entry.version}", force=args.force)
            print(f"{entry.version} is active; a running service switches to it within a few seconds")
            return 0
        if args.action == "rollback":
            entry = registry.rollback()
            audit.record_from_cli(settings.database_url, "model_rolled_back", f"model:{entry.version}")
            print(f"rolled back: {entry.version} is active again")
            return 0
        if args.action == "measure":
            return _measure(settings, registry, args.version, args.events)
    except RegistryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    versions = registry.versions()
    if args.json:
        print(json.dumps([asdict(v) for v in versions], indent=2))
        return 0
    if not versions:
        print(f"No registered model in {settings.models_dir}; train one with `python -m bot train`.")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Model versions")
    for column in ("version", "status", "created", "data", "held-out macro F1", "gate"):
        table.add_column(column)
    for v in reversed(versions):
        nlu = (v.gate or {}).get("nlu") or {}
        decision = (v.gate or {}).get("decision") or {}
        table.add_row(v.version, v.status, v.created_at, v.fingerprint[:8],
                      f"{nlu['macro_f1']:.3f}" if nlu else "",
                      "; ".join(decision.get("reasons", [])) if decision else "")
    Console().print(table)
    return 0


def _measure(settings: Settings, registry, version: str | None, events: bool) -> int:
    """`bot models measure VERSION`: the gate's held-out figures of a version without them
    (the first model); with --events, reported as `bot train --events` reports (the console
    runs it so)."""
    from bot.training import TrainingFailed
    from bot.training.gate import measured
    from bot.training.pipeline import measure
    from bot.training.registry import RegistryError

    if not version:
        print("error: which version? see `python -m bot models list`", file=sys.stderr)
        return 2
    if events:
        _lower_priority(settings)
    try:
        if events:
            entry = measure(registry, version, on_step=_emit_step, on_progress=_emit_progress)
        else:
            entry = measure(registry, version, on_step=lambda text: print(f"» {text}", file=sys.stderr))
    except (RegistryError, TrainingFailed) as error:
        if events:
            _emit("error", text=str(error))
        else:
            print(f"error: {error}", file=sys.stderr)
        return 1
    report = measured(entry.gate["nlu"])
    if events:
        _emit("result", version=entry.version, status="measured", report=report)
    else:
        print(report)
    return 0


def _emit_step(text: str) -> None:
    _emit("step", text=text)


def _emit_progress(done: int, total: int) -> None:
    _emit("progress", label="held-out examples", done=done, total=total)


# --- eval --------------------------------------------------------------------------------

def _eval(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from bot.training import TrainingFailed
    from bot.training.eval import EvalRequest, evaluate

    request = EvalRequest(train=args.train, test=args.test, config=args.config or settings.config_file,
                          validation=args.validation, choose_threshold=args.choose_threshold,
                          target_wrong_rate=args.target_wrong_rate)
    console = Console(stderr=True)
    try:
        console.print(f"[bold]» training {request.config.name}'s pipeline on {request.train.name}[/bold] "
                      "(Rasa's progress bars follow)")
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            # A pipeline without epochs (a logistic regression) fits in one call that can
            # take minutes: the spinner and the clock show it is at work.
            training = bar.add_task("training", total=None)
            testing = bar.add_task("classifying the test set", total=None, start=False)

            def progress(done: int, total: int) -> None:
                if not bar.tasks[testing].started:
                    bar.update(training, total=1, completed=1, visible=False)
                    bar.start_task(testing)
                bar.update(testing, completed=done, total=total)

            result = evaluate(request, progress=progress)
    except (TrainingFailed, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(eval_text(result))
    return 0


def eval_text(result: dict) -> str:
    def pct(value):
        return "n/a" if value is None else f"{value:.1%}"

    lines = [
        f"{result['examples']} test examples, {result['train_examples']} train examples, {result['intents']} intents",
        f"trained in {result['train_seconds']}s, classified in {result['predict_seconds']}s",
        f"in-scope accuracy  {pct(result['in_scope_accuracy'])}",
        f"out-of-scope recall {pct(result['oos_recall'])}",
        f"wrong-answer rate  {pct(result['wrong_answer_rate'])}",
        f"containment        {pct(result['containment'])}",
        f"threshold          {result['threshold']:.3f}",
        "", f"{'intent':<28} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>5}",
    ]
    for name, s in result["per_intent"].items():
        lines.append(f"{name:<28} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} {s['support']:>5}")
    if result["confusions"]:
        lines += ["", "confusions (true -> predicted: count)"]
        lines += [f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in result["confusions"][:20]]
    return "\n".join(lines)
