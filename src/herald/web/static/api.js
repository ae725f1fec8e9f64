// @ts-check
// Herald's public API, the only thing the console talks to.

import { store } from "./store.js";

export const onlyFields = (names) => names.map((name) => `field=${name}`).join("&");
// What a broadcast's page reads of it: everything but `emails` (see showMessage).
export const MESSAGE_FIELDS = ["uuid", "created", "subject", "body", "query", "author_full_name", "state", "send_at", "delivery", "scope", "review", "translations"];
/** The event a 401 raises; main.js signs out on it. */
export const SESSION_ENDED = "herald:session-ended";
// ---- the API -------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(body) || `Request failed (${status})`);
    this.status = status;
    this.body = body;
  }
  static describe(body) {
    if (!body || typeof body !== "object") return "";
    if (body.detail) return body.detail;
    const names = { body: "Message", subject: "Subject", query: "Recipients", send_at: "Send on",
      emails: "Addresses", email: "Address", name: "Name", additional_recipients: "Also send to",
      excluded_recipients: "Never send to", customers: "Organisations", offerings: "Offerings",
      translations: "Translation" };
    const parts = [];
    const walk = (value, path) => {
      if (Array.isArray(value)) value.forEach((v) => (typeof v === "string" ? parts.push(`${path}: ${v}`) : walk(v, path)));
      else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
          const label = names[k] || (/^\d+$/.test(k) ? `item ${Number(k) + 1}` : k);
          walk(v, path ? `${path}, ${label}` : label);
        }
      }
    };
    walk(body, "");
    return parts.join("; ");
  }
}


/** Who is signed in, or null: asks the server (a new tab, a shared link). */
export async function currentSession() {
  const response = await fetch("/api/session/", { credentials: "same-origin" });
  if (!response.ok) { store.session.csrf = ""; store.session.user = null; store.session.logoutUrl = null; return null; }
  const data = await response.json();
  store.session.csrf = data.csrf_token;
  store.session.user = data.user;
  // Signed in through the portal's identity provider: signing out goes there too.
  store.session.logoutUrl = data.logout_url || null;
  // A service provider or an organisation's owner (SPEC 9): what they may send to;
  // null for staff and support.
  store.session.scopes = data.scopes || null;
  return data.user;
}

export async function api(method, path, body, options = {}) {
  // Changes carry the session's CSRF token; the cookie goes by itself.
  /** @type {Record<string, string>} */
  const headers = method === "GET" || method === "HEAD" ? {} : { "X-CSRF-Token": store.session.csrf || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (options.key) headers["Idempotency-Key"] = options.key;
  let response;
  try {
    response = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { detail: "Herald cannot be reached; check the connection and try again." });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (err) { data = { detail: text.slice(0, 200) }; }
  if (response.status === 401 && !options.signingIn) {
    window.dispatchEvent(new CustomEvent(SESSION_ENDED, { detail: "Your session has ended; sign in again." }));
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, status: response.status, count: Number(response.headers.get("X-Result-Count") || 0), links: parseLinks(response.headers.get("Link")), headers: response.headers };
}

/** Every item of a list, page by page along its `next` links (300 a page, the API's
 * largest): a list the console shows whole is never cut short without a word. */
export async function listAll(path) {
  const glue = path.includes("?") ? "&" : "?";
  let page = await api("GET", `${path}${glue}page_size=300`);
  const data = [...page.data];
  while (page.links.next) {
    const next = new URL(page.links.next);
    page = await api("GET", `${next.pathname}${next.search}`);
    data.push(...page.data);
  }
  return { data, count: data.length };
}

export function parseLinks(header) {
  const links = {};
  for (const part of (header || "").split(",")) {
    const match = part.match(/<([^>]+)>;\s*rel="(\w+)"/);
    if (match) links[match[2]] = match[1];
  }
  return links;
}

export function queryParams(query) {
  const params = new URLSearchParams();
  for (const uuid of query.customers || []) params.append("customers", uuid);
  for (const uuid of query.offerings || []) params.append("offerings", uuid);
  if (query.all_users) params.set("all_users", "true");
  if (query.send_to_me) params.set("send_to_me", "true");
  for (const a of query.additional_recipients || []) params.append("additional_recipients", a);
  for (const a of query.excluded_recipients || []) params.append("excluded_recipients", a);
  return params;
}
