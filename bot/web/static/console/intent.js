// One intent: its examples (add, edit, remove), the bot's response, and the rules and
// stories it takes part in (edited in Rasa's YAML).
"use strict";

(() => {
  const { api, el, toast, badge } = window.Desk;
  const $ = (name) => document.getElementById(name);
  const intent = document.getElementById("intent").dataset.intent;
  const base = `/console/api/training/intents/${intent}`;
  let detail = null;

  function exampleItem(text) {
    const shown = el("span", { class: "example-text" }, text);
    const input = el("input", { class: "example-edit", value: text, maxlength: 500, hidden: true, "aria-label": "Example" });
    const edit = el("button", { class: "btn ghost small", type: "button" }, "Edit");
    const save = el("button", { class: "btn primary small", type: "button", hidden: true }, "Save");
    const remove = el("button", { class: "btn ghost small danger", type: "button" }, "Remove");
    edit.addEventListener("click", () => { shown.hidden = true; input.hidden = false; save.hidden = false; edit.hidden = true; input.focus(); });
    async function change(body, done) {
      const result = await api("POST", `${base}/examples/change`, { old: text, ...body });
      if (!result.ok) { toast(result.data.error || "That did not work.", "error"); return; }
      toast(done);
      load();
    }
    save.addEventListener("click", () => change({ text: input.value }, "Example changed."));
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); save.click(); } });
    remove.addEventListener("click", () => change({ remove: true }, "Example removed."));
    return el("li", { class: "example", dataset: { text } }, shown, input, el("span", { class: "row" }, edit, save, remove));
  }

  function flowItem(flow, isNew = false) {
    const pre = el("pre", { class: "flow-yaml" }, flow.yaml);
    const area = el("textarea", { class: "flow-edit", rows: Math.max(5, flow.yaml.split("\n").length + 1), spellcheck: "false", hidden: !isNew, "aria-label": `${flow.kind} in YAML` });
    area.value = flow.yaml;
    pre.hidden = isNew;
    const edit = el("button", { class: "btn ghost small", type: "button", hidden: isNew }, "Edit");
    const save = el("button", { class: "btn primary small", type: "button", hidden: !isNew }, "Save");
    const cancel = el("button", { class: "btn ghost small", type: "button", hidden: !isNew }, "Cancel");
    const remove = el("button", { class: "btn ghost small danger", type: "button", hidden: isNew }, "Delete");
    const item = el("li", { class: "flow", dataset: { kind: flow.kind, name: flow.name || "" } },
      el("div", { class: "flow-head" }, badge(flow.kind, "intent"), el("strong", {}, flow.name || `new ${flow.kind}`),
        flow.file ? el("span", { class: "muted" }, `data/${flow.file}`) : null),
      pre, area, el("div", { class: "row" }, edit, save, cancel, remove));
    edit.addEventListener("click", () => { pre.hidden = true; area.hidden = false; save.hidden = false; cancel.hidden = false; edit.hidden = true; remove.hidden = true; area.focus(); });
    cancel.addEventListener("click", () => (isNew ? item.remove() : render()));
    save.addEventListener("click", async () => {
      const result = await api("POST", "/console/api/training/flows", { kind: flow.kind, yaml: area.value, replaces: isNew ? undefined : flow.name });
      if (!result.ok) { toast(result.data.error || "Could not save it.", "error"); return; }
      toast(`${flow.kind === "rule" ? "Rule" : "Story"} ${result.data.name} saved.`);
      load();
    });
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete the ${flow.kind} "${flow.name}"?`)) return;
      const result = await api("POST", "/console/api/training/flows/remove", { kind: flow.kind, name: flow.name });
      if (!result.ok) { toast(result.data.error || "Could not delete it.", "error"); return; }
      toast(`${flow.kind === "rule" ? "Rule" : "Story"} deleted.`);
      load();
    });
    return item;
  }

  function template(kind) {
    const answer = detail.response !== null ? `utter_${intent}` : (detail.actions.find((a) => a.startsWith("action_")) || "action_listen");
    const title = kind === "rule" ? `answer ${intent.replace(/_/g, " ")}` : `${intent.replace(/_/g, " ")} conversation`;
    return `- ${kind}: ${title}\n  steps:\n  - intent: ${intent}\n  - action: ${answer}\n`;
  }

  function render() {
    $("examples").replaceChildren(...detail.examples.map(exampleItem));
    $("example-count").textContent = String(detail.examples.length);
    const hasResponse = detail.response !== null && detail.response !== undefined;
    $("response-form").hidden = !hasResponse;
    $("no-response").hidden = hasResponse;
    if (hasResponse && document.activeElement !== $("response-text")) $("response-text").value = detail.response;
    $("flows").replaceChildren(...(detail.flows.length ? detail.flows.map((f) => flowItem(f))
      : [el("li", { class: "muted" }, "No rule or story uses this intent yet.")]));
  }

  async function load() {
    const result = await api("GET", base);
    if (!result.ok) { toast(result.data.error || "Could not load the intent.", "error"); return; }
    detail = result.data;
    render();
  }

  $("add-example").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", `${base}/examples`, { text: $("example-text").value });
    if (!result.ok) { toast(result.data.error || "Could not add it.", "error"); return; }
    $("example-text").value = "";
    toast(`Added: ${result.data.text}`);
    load();
  });
  $("response-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", `${base}/response`, { text: $("response-text").value });
    if (!result.ok) { toast(result.data.error || "Could not save the response.", "error"); return; }
    toast("Response saved. Train a new model to use it.");
    $("response-text").blur();
    load();
  });
  for (const kind of ["rule", "story"]) {
    $(`add-${kind}`).addEventListener("click", () => {
      const empty = $("flows").querySelector("li.muted");
      if (empty) empty.remove();
      const item = flowItem({ kind, name: "", file: "", yaml: template(kind) }, true);
      $("flows").prepend(item);
      item.querySelector("textarea").focus();
    });
  }
  load();
})();
