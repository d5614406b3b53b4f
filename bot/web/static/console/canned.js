// Canned responses: everyone sees them; supervisors and admins add, change (same shortcut)
// and delete them.
"use strict";

(() => {
  const { api, el, toast } = window.Desk;

  async function load() {
    const result = await api("GET", "/console/api/canned");
    const rows = result.data.canned || [];
    const mayEdit = Boolean(result.data.may_edit);
    document.getElementById("canned-form").hidden = !mayEdit;
    document.getElementById("canned-readonly").hidden = mayEdit;
    document.getElementById("canned-empty").hidden = rows.length > 0;
    document.getElementById("canned-list").replaceChildren(...rows.map((c) => {
      if (!mayEdit) return el("li", { class: "canned" }, el("div", {}, el("strong", {}, `/${c.shortcut}`), el("p", {}, c.text)));
      const remove = el("button", { class: "btn ghost small", type: "button" }, "Delete");
      remove.addEventListener("click", async () => {
        const done = await api("DELETE", `/console/api/canned/${c.id}`);
        if (!done.ok) toast(done.data.error || "Could not delete.", "error");
        load();
      });
      return el("li", { class: "canned" }, el("div", {}, el("strong", {}, `/${c.shortcut}`), el("p", {}, c.text)), remove);
    }));
  }

  document.getElementById("canned-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const shortcut = document.getElementById("canned-shortcut");
    const text = document.getElementById("canned-text");
    const result = await api("POST", "/console/api/canned", { shortcut: shortcut.value, text: text.value });
    if (!result.ok) { toast(result.data.error || "Could not save.", "error"); return; }
    toast(`Saved /${result.data.shortcut}`);
    shortcut.value = "";
    text.value = "";
    load();
  });

  load();
})();
