// Every intent with its example count and answer; create a new one.
"use strict";

(() => {
  const { api, el, toast } = window.Desk;
  const $ = (name) => document.getElementById(name);
  let intents = [];

  function render() {
    const words = $("filter").value.trim().toLowerCase();
    const shown = intents.filter((i) => !words || i.name.includes(words) || (i.response || "").toLowerCase().includes(words));
    $("intent-rows").replaceChildren(...shown.map((i) => el("tr", { dataset: { intent: i.name } },
      el("td", {}, el("a", { href: `/console/intents/${i.name}` }, i.name)),
      el("td", { class: `examples-count${i.examples < 10 ? " thin" : ""}`, title: i.examples < 10 ? "Fewer than 10 examples: add more" : "" }, String(i.examples)),
      el("td", { class: "response-cell" }, i.response === null || i.response === undefined ? el("span", { class: "muted" }, "a custom action, form or hand-over") : i.response))));
    $("intent-count").textContent = String(intents.length);
  }

  async function load() {
    const result = await api("GET", "/console/api/training/intents");
    if (!result.ok) { toast(result.data.error || "Could not load the intents.", "error"); return; }
    intents = result.data.intents;
    render();
  }

  $("filter").addEventListener("input", render);
  $("new-intent").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: $("new-name").value.trim(), example: $("new-example").value, response: $("new-response").value };
    const result = await api("POST", "/console/api/training/intents", body);
    if (!result.ok) { toast(result.data.error || "Could not create the intent.", "error"); return; }
    toast(`Intent ${body.name} created with its response and rule. Add more examples, then train.`);
    window.location.assign(`/console/intents/${body.name}`);
  });
  load();
})();
