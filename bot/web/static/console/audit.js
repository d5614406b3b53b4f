// The admins' audit trail: filtered on the server, shown newest first.
"use strict";

(() => {
  const { api, el, toast, time } = window.Desk;
  const value = (id) => document.getElementById(id).value.trim();

  async function load() {
    const query = new URLSearchParams();
    for (const [key, id] of [["actor", "audit-actor"], ["action", "audit-action"], ["target", "audit-target"],
                             ["since", "audit-since"], ["until", "audit-until"]]) {
      if (value(id)) query.set(key, value(id));
    }
    const result = await api("GET", `/console/api/audit?${query}`);
    if (!result.ok) { toast(result.data.error || "Could not load the audit trail.", "error"); return; }
    document.getElementById("audit-rows").replaceChildren(...result.data.entries.map((e) => el("tr", {},
      el("td", {}, time(e.at)), el("td", {}, e.actor), el("td", {}, e.action), el("td", {}, e.target || ""),
      el("td", { class: "details" }, Object.keys(e.details || {}).length ? JSON.stringify(e.details) : ""))));
  }

  document.getElementById("audit-filter").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
})();
