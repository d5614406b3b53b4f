// The conversation page's "Customer data" panel: erasing the customer (admins), who
// confirm by typing the customer's id. The download is a plain link.
"use strict";

(() => {
  const { api, el, toast } = window.Desk;
  const form = document.getElementById("erase-form");
  if (!form) return;
  const id = document.getElementById("conversation").dataset.conversationId;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const confirm = document.getElementById("erase-confirm").value.trim();
    if (!confirm) { toast("Type the customer's id to confirm.", "error"); return; }
    const result = await api("POST", `/console/api/conversations/${id}/erase`, { confirm });
    if (!result.ok) { toast(result.data.error || "Could not erase.", "error"); return; }
    const rows = Object.entries(result.data.rows).filter(([, n]) => n > 0);
    const examples = result.data.training_examples;
    const box = document.getElementById("erase-result");
    box.replaceChildren(
      el("p", {}, "Erased: ", rows.map(([table, n]) => `${table} ${n}`).join(", "),
         `, dialogue tracker ${result.data.tracker_events}.`),
      examples.length ? el("p", {}, "Their words are examples in the training data; keep or remove them on the Intents page:") : "",
      examples.length ? el("ul", { id: "erase-examples" }, ...examples.map((e) => el("li", {}, `${e.intent}: ${e.text}`))) : "");
    box.hidden = false;
    form.hidden = true;
    toast("The customer was erased.");
  });
})();
