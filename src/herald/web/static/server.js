// @ts-check
// What the server says of itself: whether mail really leaves, the directory's freshness.

import { api } from "./api.js";
import { byId, plural } from "./dom.js";
import { store } from "./store.js";

// ---- server facts ---------------------------------------------------------


export async function serverStatus() {
  if (!store.server) {
    try { store.server = (await api("GET", "/api/status/")).data; } catch (err) { store.server = null; }
  }
  return store.server;
}

export async function showServerNotice() {
  // A server that writes mail to files instead of sending it says so, on every screen.
  const notice = byId("notice");
  const facts = await serverStatus();
  if (!facts) return;
  notice.hidden = facts.mail.delivered;
  notice.textContent = facts.mail.delivered ? "" :
    "Mail is not being sent: this Herald writes each mail as a file on the server " +
    "(its operator has not set HERALD_SMTP_URL). Recipients receive nothing.";
}

export function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return "just now";
  if (seconds < 5400) return `${Math.round(seconds / 60)} minutes ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} hours ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export async function showDirectoryFooter() {
  // Where the audience comes from, and whether its sync from Waldur is fresh.
  const footer = byId("footer");
  let status;
  try { status = (await api("GET", "/api/directory/status/")).data; } catch (err) { return; }
  const size = `${plural(status.counts.users, "user")}, ${plural(status.counts.customers, "organisation")}`;
  let text = `Directory: ${size}`;
  let failed = false;
  if (status.configured || status.last_run) {
    if (!status.last_run) text += ` · not synced from ${status.waldur} yet`;
    else if (status.ok) text += ` · synced from ${status.waldur || "Waldur"} ${ago(status.last_success)}`;
    else {
      failed = true;
      text += ` · the last sync from ${status.waldur || "Waldur"} failed ${ago(status.last_run)}: ${status.detail.error || "see the server log"}`;
      if (status.last_success) text += ` (last good ${ago(status.last_success)})`;
    }
  } else text += " · loaded from a file";
  footer.textContent = text;
  footer.classList.toggle("error", failed);
  footer.hidden = false;
}
