// @ts-check
// Templates: list, create, edit, delete.

import { api, listAll } from "../api.js";
import { confirmDialog } from "../dialogs.js";
import { action, h, loading, newKey, say, show, stale } from "../dom.js";
import { drawHistory } from "../history.js";
import { livePreview } from "../preview.js";
import { languageTabs } from "../languages.js";
import { store } from "../store.js";

// ---- templates ---------------------------------------------------------------

export async function showTemplates() {
  const token = loading("templates");
  const result = await listAll("/api/broadcast-message-templates/?o=name");
  if (stale(token)) return;
  const rows = result.data.map((t) => h("tr", {},
    h("td", { "data-label": "Name" }, h("a", { href: `#/templates/${t.uuid}`, text: t.name })),
    h("td", { "data-label": "Subject", text: t.subject })));
  show("Templates",
    h("h1", { text: "Templates" }),
    h("div", { class: "actions" }, h("a", { class: "button", href: "#/templates/new", text: "New template" })),
    h("table", { class: "cards", id: "templates" },
      h("caption", { class: "muted", text: "Subjects and messages to start a broadcast from." }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Name" }), h("th", { scope: "col", text: "Subject" }))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 2, class: "muted", text: "No templates yet." })))));
}

export async function showTemplate(uuid) {
  const token = loading("the template");
  const t = uuid ? (await api("GET", `/api/broadcast-message-templates/${uuid}/`)).data : { name: "", subject: "", body: "" };
  if (stale(token)) return;
  const draft = { name: t.name, subject: t.subject, body: t.body, translations: { ...(t.translations || {}) } };
  // Which text the fields edit: "" the default, else a translation's tag (SPEC 2.3).
  let editing = "";
  const textOf = () => (editing ? draft.translations[editing] : draft);
  let clean = JSON.stringify(draft);
  store.unsaved = () => JSON.stringify(draft) !== clean;
  const name = h("input", { type: "text", id: "template-name", maxlength: 150, value: draft.name, required: true });
  const subject = h("input", { type: "text", id: "subject", maxlength: 1000, value: draft.subject, required: true });
  const body = h("textarea", { id: "body", text: draft.body, required: true });
  const preview = livePreview({ subject: () => textOf().subject, body: () => textOf().body });
  name.addEventListener("input", () => (draft.name = name.value));
  subject.addEventListener("input", () => { textOf().subject = subject.value; preview.refresh(); });
  body.addEventListener("input", () => { textOf().body = body.value; preview.refresh(); });
  const tabs = languageTabs(draft, () => editing, (tag) => {
    editing = tag;
    subject.value = textOf().subject;
    body.value = textOf().body;
    preview.refresh();
  });
  const error = h("p", { class: "error", role: "alert" });
  // The save error speaks of the text as it was at the save: any change makes it stale.
  for (const field of [name, subject, body]) field.addEventListener("input", () => { error.textContent = ""; });
  const saveButton = action(h("button", { type: "button", text: "Save template" }), "Saving…", async () => {
    const payload = { name: draft.name.trim(), subject: draft.subject, body: draft.body, translations: draft.translations };
    if (uuid) await api("PUT", `/api/broadcast-message-templates/${uuid}/`, payload);
    else await api("POST", "/api/broadcast-message-templates/", payload, { key: newKey() });
    clean = JSON.stringify(draft);
    say(`Saved the template “${payload.name}”.`); location.hash = "#/templates";
  }, error);
  const buttons = h("div", { class: "actions" }, saveButton);
  if (uuid) buttons.append(action(h("button", { type: "button", class: "danger", text: "Delete" }), "Deleting…", async () => {
    if (!(await confirmDialog("Delete this template?", `Delete the template “${t.name}”? Broadcasts made from it keep their text. This cannot be undone.`, "Delete", true))) { say("Nothing was deleted."); return; }
    await api("DELETE", `/api/broadcast-message-templates/${uuid}/`);
    clean = JSON.stringify(draft);
    say(`Deleted the template “${t.name}”.`); location.hash = "#/templates";
  }, error));
  const title = uuid ? "Edit template" : "New template";
  const history = h("p", { id: "history", class: "muted" });
  if (uuid) drawHistory(uuid, history);
  show(title,
    h("p", {}, h("a", { href: "#/templates", text: "← All templates" })),
    h("h1", { text: title }),
    history,
    h("div", { class: "card" }, h("div", { class: "two" },
      h("div", {}, h("label", { for: "template-name", text: "Name" }), name,
        tabs.element, h("label", { for: "subject", text: "Subject" }), subject,
        h("label", { for: "body", text: "Message (plain text or HTML)" }), body, preview.problems),
      h("div", {}, h("h2", { text: "How the mail will look" }), preview.box)),
      error, buttons));
  preview.refresh();
}
