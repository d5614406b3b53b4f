// One conversation: the whole history (live), reply with canned responses, notes,
// claim / transfer / resolve / reopen / return to the bot.
"use strict";

(() => {
  const { api, el, toast, time, live, badge, sentimentBadge, languageBadge, reason } = window.Desk;
  const root = document.getElementById("conversation");
  const id = Number(root.dataset.conversationId);
  const me = document.body.dataset.agent;
  const supervisor = ["supervisor", "admin"].includes(document.body.dataset.role);
  const $ = (name) => document.getElementById(name);
  let current = null;
  let canned = [];
  let agentsLoaded = false;

  const AUTHORS = { customer: "Customer", bot: "Bot", agent: "Agent", system: "System" };
  const DELIVERY = { pending: "sending…", sent: "sent", delivered: "delivered", read: "read", failed: "failed",
    not_deliverable: "not deliverable" };

  function flagControl(message, flagged) {
    if (flagged.has(message.id)) return el("div", { class: "flagged-note" }, "Flagged for the trainers");
    const button = el("button", { class: "btn ghost small flag-training", type: "button",
      title: "Send this message to the trainers' review: the bot should have answered it" }, "Bot should have answered");
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await api("POST", `/console/api/messages/${message.id}/flag`);
      if (result.ok) { toast("Flagged: the trainers will see it in their review."); await refresh(); }
      else { button.disabled = false; toast(result.data.error || "Could not flag it.", "error"); }
    });
    return button;
  }

  // The metadata actions read (REST's metadata, socket.io's customData, a platform's facts),
  // worth a look when it says more than the channel and public/private shown already.
  function hasOwnMetadata(metadata) {
    if (!metadata) return false;
    const service = metadata.brand_assistant || {};
    return Object.keys(metadata).some((key) => key !== "brand_assistant") || service.platform !== undefined;
  }

  function messageItem(message, flagged) {
    const mine = message.direction === "in" ? "in" : "out";
    const who = message.author === "agent" ? (message.agent_name || "Agent") : AUTHORS[message.author] || message.author;
    const meta = [el("span", { class: "author" }, who), el("time", { datetime: message.created_at }, time(message.created_at))];
    if (message.intent) {
      const confidence = message.confidence === null ? "" : ` ${Math.round(message.confidence * 100)}%`;
      meta.push(badge(`${message.intent}${confidence}`, "intent"));
    }
    if (message.direction === "in" && message.sentiment !== null && message.sentiment !== undefined) {
      meta.push(el("span", { class: "score", title: "VADER compound sentiment" }, `☺ ${message.sentiment.toFixed(2)}`));
    }
    if (message.public) meta.push(badge("public", "public"));
    const body = [el("div", { class: "meta" }, meta), el("div", { class: "text" }, message.text || "")];
    if (message.attachments.length) {
      body.push(el("div", { class: "attachments" }, message.attachments.map((a) => `[${a.kind}]`).join(" ")));
    }
    if (hasOwnMetadata(message.metadata)) {
      body.push(el("details", { class: "metadata" }, el("summary", {}, "metadata"),
        el("pre", {}, JSON.stringify(message.metadata, null, 2))));
    }
    if (message.buttons.length) {
      body.push(el("div", { class: "buttons" }, message.buttons.map((b) => el("span", { class: "chip" }, b.title))));
    }
    if (message.author === "customer" && message.text) body.push(flagControl(message, flagged));
    if (message.direction === "out" && message.delivery_status) {
      const status = el("div", { class: `delivery ${message.delivery_status}` }, DELIVERY[message.delivery_status] || message.delivery_status);
      if (message.error) status.append(el("span", { class: "error" }, ` — ${message.error}`));
      body.push(status);
    }
    return el("li", { class: `message ${mine} ${message.author}`, dataset: { id: message.id } }, body);
  }

  function eventText(event) {
    const d = event.data || {};
    switch (event.kind) {
      case "handoff": return `Handed to a person: ${reason(d.reason)} (priority ${d.priority})`;
      case "claimed": return `${d.agent} took the conversation`;
      case "transferred": return `${d.by} transferred it from ${d.from || "the queue"} to ${d.to}`;
      case "resolved": return `${d.by} resolved the conversation${d.ask_satisfaction ? " and asked for a rating" : ""}`;
      case "handback": return `${d.by} returned the conversation to the bot`;
      case "reopened": return `${d.by} reopened the conversation`;
      case "resumed": return "The bot answers again: its paused dialogue was resumed";
      case "actions": return `Bot actions: ${(d.actions || []).join(", ")}`;
      case "delivery_failed": return `Delivery failed after ${d.attempts} attempt(s): ${d.error}`;
      case "satisfaction": return `The customer rated the help ${d.score}/5`;
      case "satisfaction_asked": return null;
      case "polite_reply": return `Polite reply (${(d.reason || "").replace(/_/g, " ")})`;
      case "flagged": return `Flagged for moderation: ${d.reason}`;
      case "flag_for_training": return `${d.by} flagged a message for the trainers`;
      case "annotated": return `${d.by} taught a message to the bot as ${d.intent}`;
      case "review_dismissed": return null;
      default: return event.kind.replace(/_/g, " ");
    }
  }

  function renderTimeline(record) {
    const flagged = new Set(record.events.filter((e) => e.kind === "flag_for_training").map((e) => e.data.message_id));
    const items = [
      ...record.messages.map((m) => ({ at: m.created_at, order: 0, id: m.id, node: () => messageItem(m, flagged) })),
      ...record.events.map((e) => ({ at: e.created_at, order: 1, id: e.id, node: () => {
        const text = eventText(e);
        return text && el("li", { class: `event ${e.kind}` }, el("span", {}, text), el("time", { datetime: e.created_at }, time(e.created_at)));
      } })),
    ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order - b.order || a.id - b.id));
    const timeline = $("timeline");
    const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 60;
    timeline.replaceChildren(...items.map((i) => i.node()).filter(Boolean));
    if (atBottom || !current) timeline.scrollTop = timeline.scrollHeight;
  }

  function renderSide(record) {
    const c = record.conversation;
    const facts = [
      ["Name", record.customer.name], ["Channel", record.customer.channel], ["Customer id", record.customer.id],
      ["Customer since", time(record.customer.since)], ["Status", c.status], ["Handoff reason", reason(c.reason) || "—"],
      ["Priority", String(c.priority)],
    ];
    $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("earlier").replaceChildren(...(record.earlier.length ? record.earlier.map((e) =>
      el("li", {}, el("a", { href: `/console/conversations/${e.id}` }, `#${e.id}`), ` ${time(e.created_at)} · ${e.status}`,
         e.reason ? ` · ${reason(e.reason)}` : "")) : [el("li", { class: "muted" }, "None")]));
    $("notes").replaceChildren(...(record.notes.length ? record.notes.map((n) =>
      el("li", { class: "note" }, el("div", { class: "meta" }, el("span", { class: "author" }, n.author), el("time", {}, time(n.created_at))),
         el("div", { class: "text" }, n.text))) : [el("li", { class: "muted" }, "No notes yet.")]));
    const rating = $("satisfaction");
    rating.hidden = record.satisfaction === null;
    rating.textContent = record.satisfaction === null ? "" : `Customer rating: ${"★".repeat(record.satisfaction)}${"☆".repeat(5 - record.satisfaction)} (${record.satisfaction}/5)`;
  }

  function renderHead(record) {
    const c = record.conversation;
    $("customer-name").textContent = record.customer.name;
    $("badges").replaceChildren(badge(c.channel, "channel"), badge(c.public ? "public" : "private", c.public ? "public" : "private"),
      badge(c.status, `status ${c.status}`), sentimentBadge(c.sentiment_label, c.sentiment),
      ...(c.language ? [languageBadge(c.language)] : []));
    $("claim").hidden = c.status !== "queued";
    const reopenable = c.status === "closed" && (supervisor || handledByMe(record));
    $("reopen").hidden = !reopenable;
    $("owner").textContent = c.status === "assigned" ? (c.mine ? "You have this conversation" : `With ${c.agent}`) : "";
    const open = c.status === "queued" || c.status === "assigned";
    $("owner-actions").hidden = !(open && (c.mine || supervisor));
    $("resolve").hidden = !(c.status === "assigned" || supervisor);
    $("reply-form").hidden = !c.mine;
    // Said before the agent writes: some customers cannot receive a reply at all.
    $("reply-notice").hidden = !c.reply_notice;
    $("reply-notice").textContent = c.reply_notice || "";
    const locked = $("reply-locked");
    locked.hidden = c.mine;
    locked.textContent = c.status === "queued" ? "Claim the conversation to reply."
      : c.status === "assigned" ? `${c.agent} is handling this conversation.`
      : c.status === "closed" ? (reopenable ? "This conversation is resolved. Reopen it to write to the customer again."
        : "This conversation is resolved.")
      : "The bot is handling this conversation.";
    document.title = `${record.customer.name} · console`;
  }

  // The server decides (bot/console/desk.py, reopen); this only offers the button to those it allows.
  function handledByMe(record) {
    return record.conversation.agent === me || record.messages.some((m) => m.author === "agent" && m.agent_name === me);
  }

  function render(record) {
    renderHead(record);
    renderTimeline(record);
    renderSide(record);
    current = record;
    if (!agentsLoaded && !$("owner-actions").hidden) loadAgents();
  }

  async function refresh() {
    const result = await api("GET", `/console/api/conversations/${id}`);
    if (result.ok) render(result.data);
    else toast(result.data.error || "Could not load the conversation.", "error");
  }

  async function act(path, body, done) {
    const result = await api("POST", `/console/api/conversations/${id}/${path}`, body);
    if (!result.ok) {
      toast(result.data.error || "That did not work.", "error");
      await refresh();
      return false;
    }
    if (done) toast(done);
    await refresh();
    return true;
  }

  async function loadAgents() {
    agentsLoaded = true;
    const result = await api("GET", "/console/api/agents");
    const names = (result.data.agents || []).filter((name) => name !== me);
    $("transfer-to").replaceChildren(el("option", { value: "" }, "Transfer to…"), ...names.map((name) => el("option", { value: name }, name)));
  }

  // Canned responses: "/short" at the caret offers the matching ones.
  const reply = $("reply-text");
  const suggestions = $("suggestions");
  let matches = [];
  let chosen = 0;

  function slashWord() {
    const upto = reply.value.slice(0, reply.selectionStart);
    const match = /(^|\s)\/([\w-]*)$/.exec(upto);
    return match ? { start: upto.length - match[2].length - 1, word: match[2].toLowerCase() } : null;
  }

  function showSuggestions() {
    const slash = slashWord();
    matches = slash ? canned.filter((c) => c.shortcut.startsWith(slash.word)).slice(0, 6) : [];
    chosen = 0;
    if (slash && matches.length === 0) {
      // Say why nothing comes up, rather than nothing at all.
      suggestions.replaceChildren(el("div", { class: "suggestion hint" }, canned.length === 0
        ? "No canned responses yet: supervisors and admins add them under Canned responses."
        : `No canned response starts with /${slash.word}.`));
      suggestions.hidden = false;
      return;
    }
    suggestions.hidden = matches.length === 0;
    suggestions.replaceChildren(...matches.map((c, index) => {
      const option = el("div", { class: `suggestion${index === chosen ? " active" : ""}`, role: "option", dataset: { shortcut: c.shortcut } },
        el("strong", {}, `/${c.shortcut}`), el("span", {}, c.text));
      option.addEventListener("mousedown", (event) => { event.preventDefault(); insert(c); });
      return option;
    }));
  }

  function insert(item) {
    const slash = slashWord();
    if (!slash) return;
    const before = reply.value.slice(0, slash.start);
    const after = reply.value.slice(reply.selectionStart);
    reply.value = before + item.text + after;
    const caret = (before + item.text).length;
    reply.setSelectionRange(caret, caret);
    suggestions.hidden = true;
    matches = [];
    reply.focus();
  }

  reply.addEventListener("input", showSuggestions);
  reply.addEventListener("keydown", (event) => {
    if (matches.length && (event.key === "Tab" || event.key === "Enter")) {
      event.preventDefault();
      insert(matches[chosen]);
    } else if (matches.length && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      chosen = (chosen + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      [...suggestions.children].forEach((node, index) => node.classList.toggle("active", index === chosen));
    } else if (event.key === "Escape") {
      suggestions.hidden = true;
      matches = [];
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = reply.value.trim();
    if (!text) return;
    $("send").disabled = true;
    if (await act("reply", { text })) reply.value = "";
    $("send").disabled = false;
    reply.focus();
  });

  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) return;
    if (await act("notes", { text }, "Note added")) $("note-text").value = "";
  });

  $("claim").addEventListener("click", () => act("claim", undefined, "The conversation is yours"));
  $("transfer").addEventListener("click", () => {
    const to = $("transfer-to").value;
    if (!to) { toast("Choose who to transfer to.", "error"); return; }
    act("transfer", { agent: to }, `Transferred to ${to}`);
  });
  $("resolve").addEventListener("click", () => {
    // Resolving over an unanswered question leaves a customer waiting for nothing.
    const messages = current ? current.messages : [];
    const last = messages[messages.length - 1];
    if (last && last.author === "customer"
        && !window.confirm("The customer's last message has no answer yet. Resolve the conversation anyway?")) return;
    act("resolve", { ask_satisfaction: $("ask-satisfaction").checked }, "Resolved");
  });
  $("handback").addEventListener("click", () => act("handback", undefined, "Returned to the bot"));
  $("reopen").addEventListener("click", () => act("reopen", undefined, "Reopened: the conversation is yours again"));

  api("GET", "/console/api/canned").then((result) => { canned = result.data.canned || []; });
  refresh();
  live(`conversation=${id}`, (frame) => {
    if (frame.type === "conversation" && frame.conversation.id === id) render(frame);
  });
})();
