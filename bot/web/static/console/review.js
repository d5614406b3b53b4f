// The review queue: groups of customer messages to learn from; teach a group to an existing
// or a new intent, or dismiss it.
"use strict";

(() => {
  const { api, el, toast, time, badge } = window.Desk;
  const $ = (name) => document.getElementById(name);
  const NEW = "__new__";
  let intents = [];

  function contextLines(item) {
    if (!item.context.length) return null;
    return el("ol", { class: "context" }, item.context.map((line) =>
      el("li", { class: line.author }, el("span", { class: "author" }, line.author === "customer" ? "Customer" : line.author === "bot" ? "Bot" : "Agent"), " ", line.text)));
  }

  function teachForm(group) {
    const ids = group.messages.map((m) => m.message_id);
    const select = el("select", { class: "teach-intent", "aria-label": "Intent" },
      el("option", { value: "" }, "Teach to an intent…"),
      ...intents.map((name) => el("option", { value: name }, name)),
      el("option", { value: NEW }, "＋ New intent…"));
    // No intent is chosen for the trainer: the model's guess, shown above, is often the mistake.
    const name = el("input", { class: "new-intent-name", placeholder: "new_intent_name", maxlength: 64, "aria-label": "New intent name" });
    const response = el("textarea", { class: "new-intent-response", rows: 2, maxlength: 4096, placeholder: "What the bot answers", "aria-label": "The bot answers" });
    const fresh = el("div", { class: "stack new-intent", hidden: true }, name, response);
    select.addEventListener("change", () => { fresh.hidden = select.value !== NEW; if (!fresh.hidden) name.focus(); });
    const teach = el("button", { class: "btn primary small teach", type: "submit" }, "Teach");
    const dismiss = el("button", { class: "btn ghost small dismiss", type: "button" }, "Dismiss");
    const form = el("form", { class: "teach-form", autocomplete: "off" }, el("div", { class: "row" }, select, teach, dismiss), fresh);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const isNew = select.value === NEW;
      const intent = isNew ? name.value.trim() : select.value;
      if (!intent) { toast(isNew ? "Name the new intent." : "Choose an intent first.", "error"); return; }
      teach.disabled = true;
      const result = await api("POST", "/console/api/training/review/teach",
        { message_ids: ids, intent, new: isNew, response: isNew ? response.value : undefined });
      teach.disabled = false;
      if (!result.ok) { toast(result.data.error || "Could not teach that.", "error"); return; }
      const { added } = result.data;
      toast(`${isNew ? `New intent ${intent}` : intent}: ${added} example${added === 1 ? "" : "s"} added. Train a new model to use ${added === 1 ? "it" : "them"}.`);
      load();
    });
    dismiss.addEventListener("click", async () => {
      const result = await api("POST", "/console/api/training/review/dismiss", { message_ids: ids });
      if (!result.ok) { toast(result.data.error || "Could not dismiss.", "error"); return; }
      toast("Dismissed: nothing to teach there.");
      load();
    });
    return form;
  }

  function groupItem(group) {
    const first = group.messages[0];
    const reasons = [...new Set(group.messages.flatMap((m) => m.reasons))];
    const predicted = Object.entries(group.intents).map(([name, n]) => badge(`${name}${n > 1 ? ` ×${n}` : ""}`, "intent"));
    const confidence = first.confidence === null ? null : el("span", { class: "score" }, `${Math.round(first.confidence * 100)}%`);
    const links = group.messages.slice(0, 6).map((m) => el("a", { href: `/console/conversations/${m.conversation_id}`, title: time(m.created_at) }, `#${m.conversation_id}`));
    const texts = [...new Set(group.messages.map((m) => m.text))];
    return el("li", { class: `review-group${group.done ? " done" : ""}`, dataset: { key: group.key } },
      el("div", { class: "review-head" },
        el("q", { class: "review-text" }, first.text),
        el("span", { class: "count", title: "messages in this group" }, `×${group.count}`),
        group.done ? badge("done", "status closed") : null),
      texts.length > 1 ? el("ul", { class: "variants" }, texts.slice(1, 6).map((t) => el("li", {}, t))) : null,
      el("div", { class: "review-meta" }, el("span", { class: "label" }, "Predicted"), predicted, confidence,
        reasons.map((r) => badge(r, "reason-badge"))),
      contextLines(first),
      el("div", { class: "review-foot" }, el("span", { class: "links" }, group.count > 1 ? "In conversations " : "In conversation ", links, group.count > 6 ? " …" : ""),
        group.done ? null : teachForm(group)));
  }

  async function load() {
    const result = await api("GET", `/console/api/training/review${$("show-done").checked ? "?all=1" : ""}`);
    if (!result.ok) { toast(result.data.error || "Could not load the review queue.", "error"); return; }
    intents = result.data.intents;
    const groups = result.data.groups;
    $("groups").replaceChildren(...groups.map(groupItem));
    $("groups-empty").hidden = groups.length > 0;
    $("review-count").textContent = String(groups.filter((g) => !g.done).length);
  }

  $("show-done").addEventListener("change", load);
  load();
})();
