// @ts-check
// Sending a test of a message, from compose or from a message's page: one home for
// the request and for what it says afterwards.

import { api } from "./api.js";
import { newKey, say } from "./dom.js";

/**
 * Send a test to `to`; `saved` gives the message's UUID (compose saves the draft first).
 * @param {string[]} to
 * @param {() => Promise<string>} saved
 * @param {HTMLElement} error where a missing address is said
 * @param {string} [also] what else happened, said after the outcome
 */
export async function sendTest(to, saved, error, also = "") {
  if (!to.length) { error.textContent = "Give 1 to 10 addresses for the test."; return; }
  const uuid = await saved();
  // More than 10: the server's 400 says so (never cut silently here).
  const result = await api("POST", `/api/broadcast-messages/${uuid}/test-send/`, { emails: to }, { key: newKey() });
  const failed = result.data.results.filter((r) => r.status !== "sent");
  say(failed.length ? `Test not delivered to ${failed.map((f) => `${f.email} (${f.detail})`).join(", ")}.`
    : `Test sent to ${to.join(", ")}${also}.`);
}
