// The team page: each agent's load, and reassigning any open conversation.
"use strict";

(() => {
  const { api, el, toast, time, live, badge, reason } = window.Desk;
  let agents = [];
  const admin = document.body.dataset.role === "admin";
  // What the supervisor picked per conversation, kept across live re-renders of the table.
  const chosen = new Map();

  async function loadTeam() {
    const result = await api("GET", "/console/api/team");
    if (!result.ok) { toast(result.data.error || "Could not load the team.", "error"); return; }
    agents = result.data.agents;
    const rows = document.getElementById("team-rows");
    // Live updates re-draw the table: not while an admin is typing a name in it.
    if (rows.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
    rows.replaceChildren(...agents.map((a) => el("tr", { dataset: { agent: a.name } },
      el("td", {}, a.name, a.active ? "" : " (disabled)"), shownAsCell(a), el("td", {}, a.role),
      el("td", { class: "load" }, el("span", { class: `load-bar${a.assigned >= 5 ? " high" : ""}` }, String(a.assigned))),
      el("td", {}, a.last_login_at ? time(a.last_login_at) : "never"))));
  }

  // Admins set the name customers see for anyone; supervisors only read it.
  function shownAsCell(agent) {
    if (!admin) return el("td", { class: "shown-as" }, agent.display_name || "—");
    const input = el("input", { type: "text", maxlength: "64", value: agent.display_name || "", placeholder: agent.name,
      "aria-label": `Name customers see for ${agent.name}` });
    const button = el("button", { class: "btn small", type: "button" }, "Save");
    button.addEventListener("click", async () => {
      const wanted = input.value.trim();
      const result = await api("POST", `/console/api/agents/${encodeURIComponent(agent.name)}/display-name`,
        { display_name: wanted || null });
      if (result.ok) { toast(`Customers see ${agent.name} as ${result.data.display_name || agent.name}`); loadTeam(); }
      else toast(result.data.error || "Could not save the name.", "error");
    });
    return el("td", { class: "row shown-as" }, input, button);
  }

  function reassignCell(row) {
    const names = agents.filter((a) => a.active && a.role !== "trainer" && a.name !== row.agent).map((a) => a.name);
    const select = el("select", { "aria-label": `Reassign conversation ${row.id}` },
      el("option", { value: "" }, "Choose…"), ...names.map((name) => el("option", { value: name }, name)));
    if (names.includes(chosen.get(row.id))) select.value = chosen.get(row.id);
    select.addEventListener("change", () => chosen.set(row.id, select.value));
    const button = el("button", { class: "btn small", type: "button" }, "Reassign");
    button.addEventListener("click", async () => {
      if (!select.value) return;
      const result = await api("POST", `/console/api/conversations/${row.id}/transfer`, { agent: select.value });
      if (result.ok) { chosen.delete(row.id); toast(`Conversation ${row.id} is with ${select.value} now`); loadTeam(); }
      else toast(result.data.error || "Could not reassign.", "error");
    });
    return el("td", { class: "row" }, select, button);
  }

  function render(snapshot) {
    const rows = [...snapshot.waiting, ...snapshot.mine, ...snapshot.others];
    document.getElementById("assignment-rows").replaceChildren(...rows.map((row) => el("tr", { dataset: { id: row.id } },
      el("td", {}, el("a", { href: `/console/conversations/${row.id}` }, `#${row.id}`)),
      el("td", {}, row.customer, " ", badge(row.channel, "channel")),
      el("td", {}, badge(row.status, `status ${row.status}`)),
      el("td", { class: "reason" }, reason(row.reason) || "—"),
      el("td", { class: "last" }, row.last_message || ""),
      el("td", {}, row.agent || "—"),
      reassignCell(row))));
  }

  loadTeam().then(() => live("", (frame) => { if (frame.type === "queue") { render(frame); loadTeam(); } }));
})();
