// @ts-check
// Questions asked before acting, in one dialog.

import { byId, plural } from "./dom.js";

// ---- dialogs -----------------------------------------------------------------

export function confirmDialog(title, text, okLabel, danger) {
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm"));
  const field = byId("confirm-note-field");
  const note = /** @type {HTMLTextAreaElement} */ (byId("confirm-note"));
  if (!field.hidden) { field.hidden = true; note.required = false; }
  byId("confirm-title").textContent = title;
  byId("confirm-text").textContent = text;
  const ok = byId("confirm-ok");
  ok.textContent = okLabel;
  ok.className = danger ? "danger" : "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    /** @type {HTMLButtonElement} */ (dialog.querySelector("button[value=cancel]")).focus();
  });
}

export function confirmSend(subject, count) {
  return confirmDialog("Send now?",
    `Send “${subject}” to ${plural(count, "recipient")} now? This cannot be undone.`, "Send", false);
}

export function confirmStop(subject, count) {
  return confirmDialog("Stop sending?",
    `Stop sending “${subject}”? ${plural(count, "recipient")} who have not got it yet will not get it. ` +
    "A stopped broadcast cannot be resumed.", "Stop sending", true);
}

export function confirmDelete(m) {
  const lost = m.state === "SENT"
    ? `Its delivery record — who got it and who did not (${plural(m.delivery.total, "recipient")}) — is erased too.`
    : "";
  return confirmDialog("Delete this broadcast?",
    `Delete “${m.subject}”? ${lost} This cannot be undone.`.replace("  ", " "), "Delete", true);
}

/** A question that needs words: the note staff give when they reject (SPEC 9).
 * The text, or null when cancelled; an empty note cannot be given. */
export async function askNote(title, text, okLabel) {
  const field = byId("confirm-note-field");
  const note = /** @type {HTMLTextAreaElement} */ (byId("confirm-note"));
  const dialog = /** @type {HTMLDialogElement} */ (byId("confirm"));
  byId("confirm-title").textContent = title;
  byId("confirm-text").textContent = text;
  const ok = byId("confirm-ok");
  ok.textContent = okLabel;
  ok.className = "danger";
  note.value = "";
  note.required = true;
  field.hidden = false;
  const answer = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    note.focus();
  });
  field.hidden = true;
  note.required = false;
  return answer && note.value.trim() ? note.value.trim() : null;
}
