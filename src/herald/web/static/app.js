// Herald's staff console: a small page over Herald's public API, nothing else.
// Every piece of user-supplied text reaches the page through textContent, never
// innerHTML; a message body is previewed in a sandboxed frame, sanitised first.
// Every action that creates or sends carries an Idempotency-Key and disables its
// button while it runs, so a double click or a retried request never acts twice.
"use strict";

const TOKEN_KEY = "herald.token";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const statusBox = document.getElementById("status");
const LIST_FIELDS = ["uuid", "subject", "author_full_name", "state", "created", "send_at", "delivery"];
// What a broadcast's page reads of it: everything but `emails` (see showMessage).
const MESSAGE_FIELDS = ["uuid", "created", "subject", "body", "query", "author_full_name", "state", "send_at", "delivery"];
const SHOWN_ADDRESSES = 300;
const NOT_WRITTEN = ["This field may not be blank.", "This field is required."];
const onlyFields = (names) => names.map((name) => `field=${name}`).join("&");
const PAGE_SIZES = [10, 20, 50, 100];

// ---- small helpers -------------------------------------------------------

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function say(message) {
  statusBox.textContent = message;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (statusBox.textContent = ""), 4000);
}

function show(title, ...content) {
  document.title = `${title} · Herald`;
  main.removeAttribute("aria-busy");
  // A screen may leave a part out (null): replaceChildren would print "null".
  main.replaceChildren(...content.filter((part) => part !== null && part !== undefined && part !== false));
  main.focus();
}

// Each screen starts with loading(), which hands it a token; a screen whose token is
// no longer the newest (the user moved on while it waited) must not draw itself.
let screenToken = 0;

function loading(what) {
  main.setAttribute("aria-busy", "true");
  main.replaceChildren(h("p", { class: "muted loading", role: "status", text: `Loading ${what}…` }));
  return ++screenToken;
}

function stale(token) {
  return token !== screenToken;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many || `${one}s`}`;
}

function splitAddresses(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// A scrolling region that keyboard users can reach (a wide table on a phone).
function scroller(label, ...content) {
  return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": label }, ...content);
}

// ---- what a message's state means to staff ---------------------------------

// The outcome first: "Sending — 40%", "Sent", "Sent — 2 failed", in a matching colour.
function outcome(m) {
  if (m.state !== "SENT") {
    const label = { DRAFT: "Draft", SCHEDULED: "Scheduled" }[m.state] || m.state;
    return { label, tone: m.state };
  }
  const d = m.delivery || { status: "done", total: 0, sent: 0, failed: 0, pending: 0, cancelled: 0 };
  // The same figure as the summary: what has left (sent), of the total.
  const percent = percentSent(d);
  if (d.status === "preparing") return { label: `Preparing — ${d.total} queued`, tone: "SENDING" };
  if (d.status === "paused") return { label: `Paused — ${percent}%`, tone: "PAUSED" };
  if (d.status === "cancelled") return { label: `Stopped — ${d.cancelled} not sent`, tone: "CANCELLED" };
  if (d.status === "sending") return { label: `Sending — ${percent}%`, tone: "SENDING" };
  if (d.failed) return { label: `Sent — ${d.failed} failed`, tone: "FAILED" };
  return { label: "Sent", tone: "SENT" };
}

// One figure wherever a share is shown (badge, summary): rounded down, so 99%
// until the last mail is sent.
// A day written as the browser's date field writes it (its locale), not as ISO.
function localDay(iso) {
  return new Date(`${iso}T00:00:00`).toLocaleDateString(undefined, { year: "numeric", month: "2-digit", day: "2-digit" });
}

function percentSent(d) {
  return d.total ? Math.floor((100 * d.sent) / d.total) : 0;
}

function badge(m) {
  const { label, tone } = outcome(m);
  return h("span", { class: `badge ${tone}`, text: label });
}

// ---- the API -------------------------------------------------------------

class ApiError extends Error {
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
      excluded_recipients: "Never send to", customers: "Organisations", offerings: "Offerings" };
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

async function api(method, path, body, options = {}) {
  const headers = { Authorization: `Token ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (options.key) headers["Idempotency-Key"] = options.key;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, { detail: "Herald cannot be reached; check the connection and try again." });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (err) { data = { detail: text.slice(0, 200) }; }
  if (response.status === 401 && !options.signingIn) {
    signOut("Your session has ended; sign in again.");
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, count: Number(response.headers.get("X-Result-Count") || 0), links: parseLinks(response.headers.get("Link")) };
}

function parseLinks(header) {
  const links = {};
  for (const part of (header || "").split(",")) {
    const match = part.match(/<([^>]+)>;\s*rel="(\w+)"/);
    if (match) links[match[2]] = match[1];
  }
  return links;
}

function queryParams(query) {
  const params = new URLSearchParams();
  for (const uuid of query.customers || []) params.append("customers", uuid);
  for (const uuid of query.offerings || []) params.append("offerings", uuid);
  if (query.all_users) params.set("all_users", "true");
  if (query.send_to_me) params.set("send_to_me", "true");
  for (const a of query.additional_recipients || []) params.append("additional_recipients", a);
  for (const a of query.excluded_recipients || []) params.append("excluded_recipients", a);
  return params;
}

// Run `work` with the button disabled and saying what is happening; errors go to `error`.
function action(button, busyLabel, work, error) {
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    const label = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = busyLabel;
    if (error) error.textContent = "";
    try {
      await work();
    } catch (err) {
      if (error) error.textContent = err.message; else say(err.message);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = label;
    }
  });
  return button;
}

// ---- server facts ---------------------------------------------------------

let server = null;

async function serverStatus() {
  if (!server) {
    try { server = (await api("GET", "/api/status/")).data; } catch (err) { server = null; }
  }
  return server;
}

async function showServerNotice() {
  // A server that writes mail to files instead of sending it says so, on every screen.
  const notice = document.getElementById("notice");
  const facts = await serverStatus();
  if (!facts) return;
  notice.hidden = facts.mail.delivered;
  notice.textContent = facts.mail.delivered ? "" :
    "Mail is not being sent: this Herald writes each mail as a file on the server " +
    "(its operator has not set HERALD_SMTP_URL). Recipients receive nothing.";
}

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return "just now";
  if (seconds < 5400) return `${Math.round(seconds / 60)} minutes ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} hours ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

async function showDirectoryFooter() {
  // Where the audience comes from, and whether its sync from Waldur is fresh.
  const footer = document.getElementById("footer");
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

// ---- dialogs -----------------------------------------------------------------

function confirmDialog(title, text, okLabel, danger) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  const ok = document.getElementById("confirm-ok");
  ok.textContent = okLabel;
  ok.className = danger ? "danger" : "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    dialog.querySelector("button[value=cancel]").focus();
  });
}

function confirmSend(subject, count) {
  return confirmDialog("Send now?",
    `Send “${subject}” to ${plural(count, "recipient")} now? This cannot be undone.`, "Send", false);
}

function confirmStop(subject, count) {
  return confirmDialog("Stop sending?",
    `Stop sending “${subject}”? ${plural(count, "recipient")} who have not got it yet will not get it. ` +
    "A stopped broadcast cannot be resumed.", "Stop sending", true);
}

function confirmDelete(m) {
  const lost = m.state === "SENT"
    ? `Its delivery record — who got it and who did not (${plural(m.delivery.total, "recipient")}) — is erased too.`
    : "";
  return confirmDialog("Delete this broadcast?",
    `Delete “${m.subject}”? ${lost} This cannot be undone.`.replace("  ", " "), "Delete", true);
}

// ---- unsaved work ------------------------------------------------------------

let unsaved = null; // a function telling whether the screen holds unsaved work

window.addEventListener("beforeunload", (event) => {
  if (unsaved && unsaved()) { event.preventDefault(); event.returnValue = ""; }
});

// ---- signing in and out -------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  server = null;
  unsaved = null;
  document.getElementById("notice").hidden = true;
  document.getElementById("footer").hidden = true;
  nav.hidden = true;
  showSignIn(message);
}

function showSignIn(message) {
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert", text: message || "" });
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const button = h("button", { type: "submit", text: "Sign in" });
  const form = h("form", { class: "card narrow", "aria-describedby": "sign-in-error" },
    h("label", { for: "token", text: "API token" }),
    h("p", { class: "muted", text: "A staff or support token, made with herald create-staff." }),
    input, error, h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await api("GET", "/api/broadcast-messages/?page_size=1", undefined, { signingIn: true });
      nav.hidden = false;
      if (location.hash === "#/" || !location.hash) route(); else location.hash = "#/";
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = err.status === 401 ? "That token is not valid." :
        err.status === 403 ? "This account is neither staff nor support, so it cannot use Herald." : err.message;
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  show("Sign in", h("h1", { text: "Sign in to Herald" }), form);
  input.focus();
}

// ---- the list ------------------------------------------------------------

function listState() {
  const params = new URLSearchParams((location.hash.split("?")[1] || ""));
  const size = Number(params.get("page_size"));
  // A hand-edited or outdated address may name a filter that does not exist:
  // ignore it rather than fail the whole screen.
  const oneOf = (name, allowed, fallback) => (allowed.includes(params.get(name)) ? params.get(name) : fallback);
  return {
    state: oneOf("state", ["DRAFT", "SCHEDULED", "SENT"], ""),
    delivery: oneOf("delivery", ["preparing", "sending", "paused", "cancelled", "done", "failed"], ""),
    subject: params.get("subject") || "",
    o: oneOf("o", ["created", "subject", "author_full_name"].flatMap((n) => [n, `-${n}`]), "-created"),
    page: Math.max(1, Number(params.get("page")) || 1),
    page_size: PAGE_SIZES.includes(size) ? size : 20,
  };
}

function goList(state) {
  const params = new URLSearchParams();
  if (state.state) params.set("state", state.state);
  if (state.delivery) params.set("delivery", state.delivery);
  if (state.subject) params.set("subject", state.subject);
  if (state.o !== "-created") params.set("o", state.o);
  if (state.page > 1) params.set("page", state.page);
  if (state.page_size !== 20) params.set("page_size", state.page_size);
  const hash = `#/${params.toString() ? `?${params}` : ""}`;
  if (location.hash === hash) route(); else location.hash = hash;
}

async function showList() {
  const state = listState();
  const token = loading("broadcasts");
  const params = new URLSearchParams({ page: state.page, page_size: state.page_size, o: state.o });
  if (state.state) params.set("state", state.state);
  if (state.delivery) params.set("delivery", state.delivery);
  if (state.subject) params.set("subject", state.subject);
  // Never `emails`: a message to a million people carries 28 MB of them.
  let result;
  try {
    result = await api("GET", `/api/broadcast-messages/?${params}&${onlyFields(LIST_FIELDS)}`);
    if (stale(token)) return;
  } catch (err) {
    if (stale(token)) return;
    if (err.status === 404 && state.page > 1) return goList({ ...state, page: 1 });
    throw err;
  }
  const stateSelect = h("select", { id: "filter-state", name: "state" },
    ...[["", "All states"], ["DRAFT", "Draft"], ["SCHEDULED", "Scheduled"], ["SENT", "Sent"]].map(
      ([value, label]) => h("option", { value, selected: value === state.state, text: label })));
  const deliverySelect = h("select", { id: "filter-delivery", name: "delivery" },
    ...[["", "Any delivery"], ["sending", "Sending"], ["paused", "Paused"], ["failed", "With failures"],
      ["cancelled", "Stopped"]].map(
      ([value, label]) => h("option", { value, selected: value === state.delivery, text: label })));
  const search = h("input", { type: "search", id: "filter-subject", name: "subject", value: state.subject });
  const sortChoices = [["-created", "Newest first"], ["created", "Oldest first"], ["subject", "Subject A–Z"],
    ["-subject", "Subject Z–A"], ["author_full_name", "Author A–Z"], ["-author_full_name", "Author Z–A"]];
  const sortSelect = h("select", { id: "sort", name: "o" },
    ...sortChoices.map(([value, label]) => h("option", { value, selected: value === state.o, text: label })));
  const size = h("select", { id: "page-size", name: "page_size" },
    ...PAGE_SIZES.map((n) => h("option", { value: n, selected: n === state.page_size, text: `${n} a page` })));
  const filters = h("form", { class: "filters card", role: "search" },
    h("div", {}, h("label", { for: "filter-state", text: "State" }), stateSelect),
    h("div", {}, h("label", { for: "filter-delivery", text: "Delivery" }), deliverySelect),
    h("div", {}, h("label", { for: "filter-subject", text: "Subject contains" }), search),
    h("div", {}, h("label", { for: "sort", text: "Sort" }), sortSelect),
    h("div", {}, h("label", { for: "page-size", text: "Show" }), size),
    h("button", { type: "submit", text: "Filter" }));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    goList({ ...state, state: stateSelect.value, delivery: deliverySelect.value, o: sortSelect.value, subject: search.value.trim(), page_size: Number(size.value), page: 1 });
  });
  const sortable = (name, label, cls) => {
    const active = state.o.replace("-", "") === name;
    const descending = state.o.startsWith("-");
    const sort = active ? (descending ? "descending" : "ascending") : "none";
    return h("th", { scope: "col", "aria-sort": sort, class: cls }, h("button", {
      type: "button", text: label + (active ? (descending ? " ▼" : " ▲") : ""),
      onclick: () => goList({ ...state, o: active && !descending ? `-${name}` : name, page: 1 }),
    }));
  };
  const rows = result.data.map((m) => {
    const d = m.delivery;
    return h("tr", { class: outcome(m).tone === "FAILED" ? "has-failures" : null },
      h("td", { "data-label": "Subject" }, h("a", { href: `#/m/${m.uuid}`, text: m.subject })),
      h("td", { "data-label": "Author", class: "nowrap", text: m.author_full_name }),
      h("td", { "data-label": "State" }, badge(m)),
      h("td", { "data-label": "Created", class: "nowrap", text: when(m.created) }),
      h("td", { "data-label": "Send day", class: "nowrap", text: m.send_at || "—" }),
      h("td", { "data-label": "Delivery", class: "nowrap" }, m.state === "SENT" ? `${d.sent}/${d.total}` : "—",
        d.failed ? h("strong", { class: "error", text: ` · ${d.failed} failed` }) : null));
  });
  const pages = Math.max(1, Math.ceil(result.count / state.page_size));
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "secondary", disabled: !result.links.prev, text: "Previous",
      onclick: () => goList({ ...state, page: state.page - 1 }) }),
    h("span", { text: `Page ${state.page} of ${pages} · ${plural(result.count, "broadcast")}` }),
    h("button", { type: "button", class: "secondary", disabled: !result.links.next, text: "Next",
      onclick: () => goList({ ...state, page: state.page + 1 }) }));
  show("Broadcasts",
    h("h1", { text: "Broadcasts" }), filters,
    h("table", { class: "cards", id: "broadcasts" },
      h("caption", { class: "muted", text: "Messages to the portal's users, newest first unless sorted." }),
      h("thead", {}, h("tr", {}, sortable("subject", "Subject"), sortable("author_full_name", "Author"),
        h("th", { scope: "col", text: "State" }), sortable("created", "Created"),
        h("th", { scope: "col", text: "Send day" }), h("th", { scope: "col", text: "Delivery" }))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No broadcasts match." })))),
    pager);
}

// ---- previewing a body safely -------------------------------------------

const BLOCKED = ["script", "iframe", "object", "embed", "link", "meta", "base", "form", "frame", "frameset", "style"];

// Attributes with which an element fetches something by itself.
const LOADING = ["src", "poster", "background", "data", "action", "formaction", "ping", "lowsrc", "dynsrc", "longdesc", "manifest", "codebase", "archive", "cite"];

function sanitise(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll(BLOCKED.join(",")).forEach((node) => node.remove());
  for (const node of doc.body.querySelectorAll("*")) {
    for (const attr of [...node.attributes]) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      // Anything that would load, from anywhere (this server included), unless it is inline data.
      const loads = LOADING.includes(name) || (name.endsWith("href") && node.localName !== "a");
      const styleLoads = name === "style" && /url\s*\(\s*(?!['"]?data:)/.test(value);
      if (name.startsWith("on") || value.startsWith("javascript:") || styleLoads ||
          (loads && !value.startsWith("data:")) || name === "srcset") {
        node.removeAttribute(attr.name);
      }
    }
  }
  return doc.body.innerHTML;
}

function looksLikeHtml(text) {
  return /<\/?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?\/?>/.test(text);
}

function previewFrame(body, title) {
  // No scripts (sandbox without allow-scripts) and no loads from anywhere (CSP).
  const csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">";
  const escape = (s) => s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c]));
  const content = looksLikeHtml(body) ? sanitise(body) : `<pre style="white-space:pre-wrap;font:inherit">${escape(body)}</pre>`;
  return h("iframe", { class: "preview", sandbox: "", title, srcdoc: `${csp}<body style="font-family:sans-serif">${content}</body>` });
}

// The mail as one recipient gets it, rendered by the server exactly as delivery does.
function livePreview({ subject, body, query, forEmail }) {
  const box = h("div", { id: "preview", "aria-live": "polite" });
  const problems = h("div", { id: "placeholder-errors", class: "error", role: "alert" });
  let timer;
  let asked = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const payload = { subject: subject() || " ", body: body() || " " };
      const q = query && query();
      if (q) payload.query = q;
      const email = forEmail && forEmail();
      if (email) payload.email = email;
      const mine = ++asked;
      try {
        const p = (await api("POST", "/api/broadcast-messages/render/", payload)).data;
        if (mine !== asked) return;
        problems.replaceChildren();
        box.replaceChildren(
          h("p", { class: "muted" }, `As ${p.email} gets it — Subject: `, h("strong", { text: p.subject })),
          previewFrame(p.html || p.text, "Preview of the mail"));
      } catch (err) {
        if (mine !== asked) return;
        const fields = err.body && typeof err.body === "object" ? err.body : {};
        const lines = [];
        for (const [field, label] of [["subject", "Subject"], ["body", "Message"]]) {
          for (const problem of fields[field] || []) {
            // Not written yet is not a mistake; the form says so when it is saved.
            if (!NOT_WRITTEN.includes(problem)) lines.push(`${label}, ${problem.replace(/^Line (\d+):/, "line $1:")}`);
          }
        }
        if (!lines.length && err.status !== 400) lines.push(err.message);
        problems.replaceChildren(...lines.map((l) => h("p", { text: l })));
        // The last good preview would now be a lie: say there is none instead.
        if (lines.length) box.replaceChildren(h("p", { class: "muted stale", text: "No preview until the problem above is fixed." }));
      }
    }, 250);
  };
  return { box, problems, refresh, hasProblems: () => problems.childElementCount > 0 };
}

// ---- choosing organisations and offerings: an ARIA combobox --------------------

function picker(kind, label, chosen, onChange) {
  const id = `pick-${kind}`;
  const listId = `${id}-list`;
  const input = h("input", { type: "text", id, autocomplete: "off", role: "combobox", "aria-autocomplete": "list",
    "aria-expanded": "false", "aria-controls": listId, placeholder: "Type to search" });
  const list = h("ul", { class: "suggestions", id: listId, role: "listbox", "aria-label": `${label} matching` });
  const chips = h("ul", { class: "chips", "aria-label": `Chosen ${label.toLowerCase()}` });
  let options = [];
  let active = -1;
  const draw = () => chips.replaceChildren(...chosen.map((item) => h("li", {}, item.name,
    h("button", { type: "button", "aria-label": `Remove ${item.name}`, text: "×",
      onclick: () => { chosen.splice(chosen.indexOf(item), 1); draw(); onChange(); } }))));
  const close = () => { options = []; active = -1; list.replaceChildren(); input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); };
  const pick = (found) => {
    chosen.push({ uuid: found.uuid, name: found.name });
    input.value = ""; close(); draw(); onChange(); input.focus();
  };
  const highlight = (index) => {
    active = index;
    [...list.children].forEach((li, n) => li.setAttribute("aria-selected", n === index ? "true" : "false"));
    if (index >= 0) input.setAttribute("aria-activedescendant", `${id}-option-${index}`);
  };
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const name = input.value.trim();
      if (!name) { close(); return; }
      try {
        const found = await api("GET", `/api/${kind}/?${new URLSearchParams({ name, page_size: 8 })}`);
        options = found.data.filter((f) => !chosen.some((c) => c.uuid === f.uuid));
        list.replaceChildren(...options.map((f, n) => h("li", { id: `${id}-option-${n}`, role: "option", "aria-selected": "false",
          text: f.name, onmousedown: (event) => event.preventDefault(), onclick: () => pick(f) })));
        if (!options.length) list.replaceChildren(h("li", { role: "option", "aria-disabled": "true", class: "muted", text: "Nothing matches" }));
        input.setAttribute("aria-expanded", "true");
        active = -1;
      } catch (err) { say(err.message); }
    }, 200);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && options.length) { event.preventDefault(); highlight((active + 1) % options.length); }
    else if (event.key === "ArrowUp" && options.length) { event.preventDefault(); highlight((active - 1 + options.length) % options.length); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); pick(options[active]); }
    else if (event.key === "Escape") close();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  draw();
  return h("div", {}, h("label", { for: id, text: label }), input, list, chips);
}

// ---- composing ------------------------------------------------------------

async function showCompose(uuid, fromUuid) {
  const token = loading("the broadcast");
  const facts = await serverStatus();
  const source = uuid || fromUuid;
  const loaded = source ? (await api("GET", `/api/broadcast-messages/${source}/?${onlyFields(MESSAGE_FIELDS)}`)).data : null;
  if (stale(token)) return;
  let message = uuid ? loaded : null; // the message being edited; null until first saved
  if (message && message.state === "SENT") { location.hash = `#/m/${uuid}`; return; }
  const query = loaded ? loaded.query : { all_users: false };
  const draft = {
    subject: loaded ? (fromUuid ? `Copy of ${loaded.subject}` : loaded.subject) : "",
    body: loaded ? loaded.body : "",
    send_at: message ? message.send_at : null,
    customers: [...(query.customers || [])],
    offerings: [...(query.offerings || [])],
    all_users: !!query.all_users,
    send_to_me: !!query.send_to_me,
    additional: (query.additional_recipients || []).join("\n"),
    excluded: (query.excluded_recipients || []).join("\n"),
    previewFor: "",
  };
  let clean = JSON.stringify(draft);
  unsaved = () => JSON.stringify(draft) !== clean;
  const title = message ? "Edit broadcast" : fromUuid ? "New broadcast (a copy)" : "New broadcast";
  const buildQuery = () => {
    const q = { all_users: draft.all_users, send_to_me: draft.send_to_me };
    if (draft.customers.length) q.customers = draft.customers.map((c) => c.uuid);
    if (draft.offerings.length) q.offerings = draft.offerings.map((o) => o.uuid);
    const additional = splitAddresses(draft.additional), excluded = splitAddresses(draft.excluded);
    if (additional.length) q.additional_recipients = additional;
    if (excluded.length) q.excluded_recipients = excluded;
    return q;
  };
  const save = async (sendAt) => {
    const payload = { subject: draft.subject, body: draft.body, query: buildQuery() };
    if (sendAt !== undefined) payload.send_at = sendAt;
    const result = message
      ? await api("PATCH", `/api/broadcast-messages/${message.uuid}/`, payload)
      : await api("POST", "/api/broadcast-messages/", payload, { key: newKey() });
    message = result.data;
    clean = JSON.stringify(draft);
    return message;
  };
  const testSend = (error, addresses) => async () => {
    const to = addresses();
    if (!to.length) { error.textContent = "Give 1 to 10 addresses for the test."; return; }
    const kept = await save();
    const result = await api("POST", `/api/broadcast-messages/${kept.uuid}/test-send/`, { emails: to }, { key: newKey() });
    const failed = result.data.results.filter((r) => r.status !== "sent");
    say(failed.length ? `Test not delivered to ${failed.map((f) => `${f.email} (${f.detail})`).join(", ")}.`
      : `Test sent to ${to.join(", ")}; the draft is saved.`);
  };

  const stepOne = () => {
    const subject = h("input", { type: "text", id: "subject", required: true, maxlength: 1000, value: draft.subject });
    const body = h("textarea", { id: "body", required: true, text: draft.body });
    const previewFor = h("input", { type: "email", id: "preview-for-email", value: draft.previewFor, placeholder: "the first recipient" });
    const preview = livePreview({
      subject: () => draft.subject, body: () => draft.body, query: buildQuery,
      forEmail: () => draft.previewFor.trim(),
    });
    body.addEventListener("input", () => { draft.body = body.value; preview.refresh(); });
    subject.addEventListener("input", () => { draft.subject = subject.value; preview.refresh(); });
    previewFor.addEventListener("input", () => { draft.previewFor = previewFor.value; preview.refresh(); });
    const error = h("p", { class: "error", role: "alert" });
    const templates = h("select", { id: "template" }, h("option", { value: "", text: "— none —" }));
    let known = [];
    api("GET", "/api/broadcast-message-templates/?page_size=300").then((found) => {
      known = found.data;
      for (const t of known) templates.append(h("option", { value: t.uuid, text: t.name }));
    }).catch(() => {});
    templates.addEventListener("change", () => {
      const chosen = known.find((t) => t.uuid === templates.value);
      if (!chosen) return;
      subject.value = draft.subject = chosen.subject;
      body.value = draft.body = chosen.body;
      preview.refresh();
      say(`Filled from the template “${chosen.name}”.`);
    });
    const templateName = h("input", { type: "text", id: "template-name", maxlength: 150 });
    const saveTemplate = action(h("button", { type: "button", class: "secondary", text: "Save as template" }), "Saving…", async () => {
      const name = templateName.value.trim();
      if (!name) { error.textContent = "Name the template first."; templateName.focus(); return; }
      const payload = { name, subject: draft.subject, body: draft.body };
      const found = (await api("GET", `/api/broadcast-message-templates/?${new URLSearchParams({ name, page_size: 300 })}`)).data;
      const same = found.find((t) => t.name === name);
      if (same) {
        if (!(await confirmDialog("Replace the template?", `A template named “${name}” exists. Replace its subject and message with these?`, "Replace", false))) return;
        await api("PUT", `/api/broadcast-message-templates/${same.uuid}/`, payload);
        say(`Replaced the template “${name}”.`);
      } else {
        const made = (await api("POST", "/api/broadcast-message-templates/", payload, { key: newKey() })).data;
        known.push(made);
        templates.append(h("option", { value: made.uuid, text: made.name }));
        say(`Saved as the template “${name}”.`);
      }
    }, error);
    const next = h("button", { type: "submit", text: "Next: recipients" });
    const form = h("form", { class: "card" },
      h("label", { for: "template", text: "Start from a template" }), templates,
      h("div", { class: "two" },
        h("div", {}, h("label", { for: "subject", text: "Subject" }), subject,
          h("label", { for: "body", text: "Message (plain text or HTML)" }), body,
          h("p", { class: "muted", id: "placeholder-help", text: "Placeholders: {{ recipient.full_name }}, {{ recipient.email }}, {{ recipient.customers }}, {{ recipient.offerings }}, {{ message.subject }}, {{ message.send_at }}. Also filters such as | default(\"colleague\", true) or | upper, {% if … %}…{% endif %}, and {% for name in recipient.customers %}…{% endfor %}; no functions, methods or arithmetic." }),
          preview.problems),
        h("div", {}, h("h2", { text: "How the mail will look" }),
          h("label", { for: "preview-for-email", text: "Preview for (address)" }), previewFor,
          preview.box)),
      error,
      h("div", { class: "actions" },
        next,
        h("div", {}, h("label", { for: "template-name", text: "Template name" }), templateName),
        saveTemplate));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!draft.subject.trim() || !draft.body.trim()) { error.textContent = "Write a subject and a message first."; return; }
      if (preview.hasProblems()) { error.textContent = "Fix the placeholders first (see above)."; return; }
      stepTwo();
    });
    show(title, h("h1", { text: title }), steps(1), form);
    preview.refresh();
    subject.focus();
  };

  const stepTwo = () => {
    const total = h("p", { id: "recipient-count", "aria-live": "polite" });
    const tbody = h("tbody");
    const table = h("table", { id: "recipients" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Name" }), h("th", { scope: "col", text: "E-mail" }),
        h("th", { scope: "col", text: "Organisations" }), h("th", { scope: "col", text: "Offerings" }))),
      tbody);
    let count = 0;
    let refreshTimer;
    let asked = 0;
    const refresh = () => {
      clearTimeout(refreshTimer);
      total.textContent = "Counting recipients…";
      table.classList.add("stale");
      table.setAttribute("aria-busy", "true");
      refreshTimer = setTimeout(async () => {
        const params = queryParams(buildQuery());
        params.set("page_size", 50);
        const mine = ++asked;
        try {
          const result = await api("GET", `/api/broadcast-messages/recipients/?${params}`);
          if (mine !== asked) return;
          count = result.count;
          const q = buildQuery();
          const targeted = (q.customers || []).length || (q.offerings || []).length || q.all_users;
          total.classList.toggle("error", count === 0 && Boolean(targeted));
          total.textContent = count === 0 && targeted
            ? "Nobody: no active user with an address is in these organisations, or holds a live resource of these offerings."
            : plural(count, "recipient") + (count > 50 ? " (first 50 shown)" : "");
          tbody.replaceChildren(...result.data.map((r) => h("tr", {},
            h("td", { text: r.full_name }), h("td", { text: r.email }),
            h("td", { text: r.customers.map((c) => c.name).join(", ") }),
            h("td", { text: r.offerings.map((o) => o.name).join(", ") }))));
          table.classList.remove("stale");
          table.removeAttribute("aria-busy");
        } catch (err) {
          if (mine !== asked) return;
          count = 0;
          total.classList.add("error");
          total.textContent = `These recipients cannot be counted: ${err.message}`;
          tbody.replaceChildren();
        }
      }, 150);
    };
    const allUsers = h("input", { type: "checkbox", id: "all-users", checked: draft.all_users,
      onchange: () => { draft.all_users = allUsers.checked; refresh(); } });
    const toMe = h("input", { type: "checkbox", id: "send-to-me", checked: draft.send_to_me,
      onchange: () => { draft.send_to_me = toMe.checked; refresh(); } });
    const additional = h("textarea", { id: "additional", rows: 3, text: draft.additional });
    additional.addEventListener("input", () => { draft.additional = additional.value; refresh(); });
    const excluded = h("textarea", { id: "excluded", rows: 3, text: draft.excluded });
    excluded.addEventListener("input", () => { draft.excluded = excluded.value; refresh(); });
    const firstDay = (facts && facts.today) || new Date().toISOString().slice(0, 10);
    const day = h("input", { type: "date", id: "send-at", min: firstDay, value: draft.send_at || "",
      "aria-describedby": "schedule-help" });
    const zone = facts ? facts.time_zone : "the server's time zone";
    const every = facts ? `${facts.scheduler_interval} seconds` : "a few seconds";
    const error = h("p", { class: "error", role: "alert" });
    const testTo = h("input", { type: "text", id: "test-to", placeholder: "up to 10 addresses" });

    const buttons = h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", text: "Back", onclick: stepOne }),
      action(h("button", { type: "button", class: "secondary", text: "Save as draft" }), "Saving…", async () => {
        const kept = await save(message && message.state === "SCHEDULED" ? null : undefined);
        say("Saved as a draft."); location.hash = `#/m/${kept.uuid}`;
      }, error),
      h("div", {}, h("label", { for: "send-at", text: "Send on" }), day),
      action(h("button", { type: "button", text: "Schedule" }), "Scheduling…", async () => {
        if (!day.value) { error.textContent = "Choose the day to send it on."; day.focus(); return; }
        const kept = await save(day.value);
        await api("POST", `/api/broadcast-messages/${kept.uuid}/schedule/`, undefined, { key: newKey() });
        say(`Scheduled for ${day.value}.`); location.hash = `#/m/${kept.uuid}`;
      }, error),
      action(h("button", { type: "button", text: "Send now" }), "Sending…", async () => {
        if (!(await confirmSend(draft.subject, count))) return;
        const kept = await save();
        await api("POST", `/api/broadcast-messages/${kept.uuid}/send/`, undefined, { key: newKey() });
        say("Sent; delivery is under way."); location.hash = `#/m/${kept.uuid}`;
      }, error));
    const tests = h("div", { class: "actions" },
      action(h("button", { type: "button", class: "secondary", text: "Send a test to me" }), "Sending the test…",
        testSend(error, () => (facts && facts.me.email ? [facts.me.email] : [])), error),
      h("div", { class: "grow" }, h("label", { for: "test-to", text: "Send a test to" }), testTo),
      action(h("button", { type: "button", class: "secondary", text: "Send test" }), "Sending the test…",
        testSend(error, () => splitAddresses(testTo.value).slice(0, 10)), error));
    const form = h("div", { class: "card" },
      h("label", { class: "check" }, allUsers, "All users of the portal"),
      h("div", { class: "two" },
        picker("customers", "Organisations", draft.customers, refresh),
        picker("offerings", "Offerings", draft.offerings, refresh)),
      h("div", { class: "two" },
        h("div", {}, h("label", { for: "additional", text: "Also send to (addresses)" }), additional),
        h("div", {}, h("label", { for: "excluded", text: "Never send to (addresses)" }), excluded)),
      h("label", { class: "check" }, toMe, "Send a copy to me"),
      h("p", { class: "muted", id: "schedule-help",
        text: `A scheduled broadcast leaves at the first scheduler run on that day in ${zone} (the scheduler looks every ${every}); today there is ${localDay(firstDay)}.` }),
      error, buttons, tests);
    show(title, h("h1", { text: title }), steps(2), form,
      h("h2", { text: "Recipients" }), total, scroller("Recipients", table));
    refresh();
  };
  stepOne();
}

function steps(current) {
  return h("ol", { class: "steps", "aria-label": "Steps" },
    h("li", { "aria-current": current === 1 ? "step" : null, text: "1. Message" }),
    h("li", { "aria-current": current === 2 ? "step" : null, text: "2. Recipients" }));
}

// ---- one broadcast ---------------------------------------------------------

let pollTimer;

async function showMessage(uuid) {
  const token = loading("the broadcast");
  const m = (await api("GET", `/api/broadcast-messages/${uuid}/?${onlyFields(MESSAGE_FIELDS)}`)).data;
  if (stale(token)) return;
  // Never the whole `emails` of a sent message (28 MB at a million): its first
  // addresses come from its deliveries, the count from `delivery.total`.
  const emails = m.state === "SENT"
    ? (await api("GET", `/api/broadcast-messages/${uuid}/deliveries/?page_size=${SHOWN_ADDRESSES}&field=email`)).data.map((d) => d.email)
    : (await api("GET", `/api/broadcast-messages/${uuid}/?field=emails`)).data.emails;
  if (stale(token)) return;
  const count = m.state === "SENT" ? m.delivery.total : emails.length;
  const q = m.query;
  const names = (items) => (items || []).map((i) => i.name).join(", ") || "—";
  const actions = h("div", { class: "actions" });
  if (m.state !== "SENT") {
    actions.append(h("a", { class: "button", href: `#/m/${uuid}/edit`, text: "Edit" }));
    if (m.state === "SCHEDULED") actions.append(action(h("button", { type: "button", class: "secondary", text: "Unschedule" }), "Unscheduling…", async () => {
      await api("PATCH", `/api/broadcast-messages/${uuid}/`, { send_at: null });
      say("Unscheduled; it is a draft again."); showMessage(uuid);
    }));
    actions.append(action(h("button", { type: "button", text: "Send now" }), "Sending…", async () => {
      if (!(await confirmSend(m.subject, count))) return;
      await api("POST", `/api/broadcast-messages/${uuid}/send/`, undefined, { key: newKey() });
      say("Sent; delivery is under way."); showMessage(uuid);
    }));
  }
  const status = m.delivery.status;
  const steer = async (verb, done) => {
    const result = await api("POST", `/api/broadcast-messages/${uuid}/${verb}/`, undefined, { key: newKey() });
    say(done(result.data.delivery)); showMessage(uuid);
  };
  if (status === "preparing" || status === "sending") {
    actions.append(action(h("button", { type: "button", class: "secondary", text: "Pause" }), "Pausing…", () =>
      steer("pause", (d) => `Paused: no more mail leaves until you resume (${d.sent} of ${d.total} sent).`)));
  }
  if (status === "paused") {
    actions.append(action(h("button", { type: "button", text: "Resume" }), "Resuming…", () =>
      steer("resume", () => "Resumed; delivery is under way again.")));
  }
  if (status === "preparing" || status === "sending" || status === "paused") {
    actions.append(action(h("button", { type: "button", class: "danger", text: "Stop sending" }), "Stopping…", async () => {
      const d = m.delivery;
      // While preparing, `total` counts what is queued so far; the audience is `emails` as resolved.
      const unsent = d.status === "preparing" ? Math.max(d.pending, count - d.sent - d.failed) : d.pending;
      if (!(await confirmStop(m.subject, unsent))) { say("Nothing was stopped."); return; }
      await steer("cancel", (d) => `Stopped: ${plural(d.cancelled, "recipient")} will not get it.`);
    }));
  }
  actions.append(h("a", { class: "button secondary", href: `#/new?from=${uuid}`, text: "Duplicate" }));
  actions.append(action(h("button", { type: "button", class: "danger", text: "Delete" }), "Deleting…", async () => {
    if (!(await confirmDelete(m))) { say("Nothing was deleted."); return; }
    await api("DELETE", `/api/broadcast-messages/${uuid}/`);
    say(`Deleted “${m.subject}”.`); location.hash = "#/";
  }));

  const delivery = h("section", { id: "delivery", "aria-labelledby": "delivery-title" });
  const header = h("h1", {}, m.subject, " ", badge(m));
  // The status changed (paused elsewhere, done): redraw the buttons with it.
  header.dataset.status = status;
  const testTo = h("input", { type: "text", id: "test-to", placeholder: "up to 10 addresses" });
  const testError = h("p", { class: "error", role: "alert" });
  show(m.subject,
    h("p", {}, h("a", { href: "#/", text: "← All broadcasts" })),
    header,
    actions,
    m.state === "SENT" ? delivery : null,
    h("section", { "aria-labelledby": "facts-title" },
      h("h2", { id: "facts-title", text: "Details" }),
      h("div", { class: "card" }, h("dl", { class: "facts" },
        h("dt", { text: "Author" }), h("dd", { text: m.author_full_name }),
        h("dt", { text: "Created" }), h("dd", { text: when(m.created) }),
        h("dt", { text: "Send day" }), h("dd", { text: m.send_at || "—" }),
        h("dt", { text: "Organisations" }), h("dd", { text: names(q.customers) }),
        h("dt", { text: "Offerings" }), h("dd", { text: names(q.offerings) }),
        h("dt", { text: "All users" }), h("dd", { text: q.all_users ? "yes" : "no" }),
        h("dt", { text: "Also to" }), h("dd", { text: (q.additional_recipients || []).join(", ") || "—" }),
        h("dt", { text: "Never to" }), h("dd", { text: (q.excluded_recipients || []).join(", ") || "—" }),
        h("dt", { text: "Recipients" }), h("dd", {}, h("details", {},
          h("summary", { text: plural(count, "address", "addresses") }),
          h("p", { text: emails.join(", ") + (count > emails.length ? ` … and ${count - emails.length} more (see Delivery)` : "") })))))),
    h("h2", { text: "Message" }), previewFrame(m.body, "The message as written"),
    recipientPreview(uuid, emails),
    h("section", { "aria-labelledby": "test-title" },
      h("h2", { id: "test-title", text: "Send a test" }),
      h("div", { class: "actions" },
        h("div", { class: "grow" }, h("label", { for: "test-to", text: "Send a test to" }), testTo),
        action(h("button", { type: "button", class: "secondary", text: "Send test" }), "Sending the test…", async () => {
          const to = splitAddresses(testTo.value).slice(0, 10);
          if (!to.length) { testError.textContent = "Give 1 to 10 addresses for the test."; return; }
          const result = await api("POST", `/api/broadcast-messages/${uuid}/test-send/`, { emails: to }, { key: newKey() });
          const failed = result.data.results.filter((r) => r.status !== "sent");
          say(failed.length ? `Test not delivered to ${failed.map((f) => `${f.email} (${f.detail})`).join(", ")}.` : `Test sent to ${to.join(", ")}.`);
        }, testError)),
      testError));
  if (m.state === "SENT") drawDelivery(uuid, delivery, header, "");
}

function recipientPreview(uuid, emails) {
  const choice = h("select", { id: "preview-for" }, ...emails.slice(0, SHOWN_ADDRESSES).map((e) => h("option", { value: e, text: e })));
  const result = h("div", { id: "recipient-preview", "aria-live": "polite" });
  const button = action(h("button", { type: "button", class: "secondary", text: "Preview" }), "Rendering…", async () => {
    try {
      const p = (await api("POST", `/api/broadcast-messages/${uuid}/preview/`, { email: choice.value })).data;
      result.replaceChildren(
        h("p", {}, h("strong", { text: "Subject: " }), p.subject),
        previewFrame(p.html || p.text, `The mail as ${p.email} gets it`));
    } catch (err) { result.replaceChildren(h("p", { class: "error", text: err.message })); }
  });
  // Shown at once for the first recipient: the box above holds the text as
  // written, placeholders and all; this is the mail as it arrives.
  if (emails.length) setTimeout(() => button.click(), 0);
  return h("section", { "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title", text: "Preview for one recipient" }),
    emails.length ? h("div", { class: "actions" },
      h("div", {}, h("label", { for: "preview-for", text: "Recipient" }), choice), button) :
      h("p", { class: "muted", text: "The message reaches nobody yet." }),
    result);
}

async function drawDelivery(uuid, section, header, status) {
  clearTimeout(pollTimer);
  const params = new URLSearchParams({ page_size: 100 });
  if (status) params.set("status", status);
  const [message, rows] = await Promise.all([
    api("GET", `/api/broadcast-messages/${uuid}/?field=delivery&field=state`),
    api("GET", `/api/broadcast-messages/${uuid}/deliveries/?${params}`),
  ]);
  const m = message.data;
  const d = m.delivery;
  header.querySelector(".badge").replaceWith(badge(m));
  if (header.dataset.status && header.dataset.status !== d.status && location.hash === `#/m/${uuid}`) {
    showMessage(uuid);
    return;
  }
  const percent = percentSent(d);
  const filter = h("select", { id: "delivery-status" },
    ...[["", "All"], ["pending", "Pending"], ["sent", "Sent"], ["failed", "Failed"], ["cancelled", "Not sent (stopped)"]].map(
      ([value, label]) => h("option", { value, selected: value === status, text: label })));
  filter.addEventListener("change", () => drawDelivery(uuid, section, header, filter.value));
  const retry = d.failed ? action(h("button", { type: "button", text: `Retry ${d.failed} failed` }), "Retrying…", async () => {
    const result = await api("POST", `/api/broadcast-messages/${uuid}/retry-failed/`, undefined, { key: newKey() });
    say(`${plural(result.data.retried, "delivery", "deliveries")} will be tried again.`);
    drawDelivery(uuid, section, header, status);
  }) : null;
  section.replaceChildren(
    h("h2", { id: "delivery-title", text: "Delivery" }),
    h("p", { id: "delivery-summary", class: d.failed ? "error" : null,
      text: `${d.sent}/${d.total} sent (${percent}%) · ${d.pending} pending · ${d.failed} failed` +
        (d.cancelled ? ` · ${d.cancelled} not sent (stopped)` : "") +
        (d.status === "paused" ? " · paused" : d.status === "preparing" ? " · still queueing recipients" : "") }),
    h("progress", { max: d.total || 1, value: d.sent, "aria-label": "Delivery progress" }),
    h("div", { class: "actions" },
      h("div", {}, h("label", { for: "delivery-status", text: "Show" }), filter), retry),
    // Cards below 700 px, like the list: every column stays in view, none scrolls off.
    scroller("Deliveries", h("table", { class: "cards", id: "deliveries" },
      h("caption", { class: "muted", text: rows.count > 100 ? `First 100 of ${rows.count}` : `${plural(rows.count, "delivery", "deliveries")}` }),
      h("thead", {}, h("tr", {}, ...["E-mail", "Status", "Attempts", "Last error", "Sent"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, ...rows.data.map((r) => h("tr", {},
        h("td", { "data-label": "E-mail", text: r.email }),
        h("td", { "data-label": "Status" }, h("span", { class: `badge ${r.status}`, text: r.status })),
        h("td", { "data-label": "Attempts", text: r.attempts }),
        h("td", { "data-label": "Last error", text: r.last_error || "—" }),
        h("td", { "data-label": "Sent", class: "nowrap", text: when(r.sent_at) })))))));
  const moving = d.status === "preparing" || d.status === "sending";
  if (moving && location.hash === `#/m/${uuid}`) pollTimer = setTimeout(() => drawDelivery(uuid, section, header, status), 1500);
}

// ---- templates ---------------------------------------------------------------

async function showTemplates() {
  const token = loading("templates");
  const result = await api("GET", "/api/broadcast-message-templates/?page_size=300&o=name");
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

async function showTemplate(uuid) {
  const token = loading("the template");
  const t = uuid ? (await api("GET", `/api/broadcast-message-templates/${uuid}/`)).data : { name: "", subject: "", body: "" };
  if (stale(token)) return;
  const draft = { name: t.name, subject: t.subject, body: t.body };
  let clean = JSON.stringify(draft);
  unsaved = () => JSON.stringify(draft) !== clean;
  const name = h("input", { type: "text", id: "template-name", maxlength: 150, value: draft.name, required: true });
  const subject = h("input", { type: "text", id: "subject", maxlength: 1000, value: draft.subject, required: true });
  const body = h("textarea", { id: "body", text: draft.body, required: true });
  const preview = livePreview({ subject: () => draft.subject, body: () => draft.body });
  name.addEventListener("input", () => (draft.name = name.value));
  subject.addEventListener("input", () => { draft.subject = subject.value; preview.refresh(); });
  body.addEventListener("input", () => { draft.body = body.value; preview.refresh(); });
  const error = h("p", { class: "error", role: "alert" });
  // The save error speaks of the text as it was at the save: any change makes it stale.
  for (const field of [name, subject, body]) field.addEventListener("input", () => { error.textContent = ""; });
  const saveButton = action(h("button", { type: "button", text: "Save template" }), "Saving…", async () => {
    const payload = { name: draft.name.trim(), subject: draft.subject, body: draft.body };
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
  show(title,
    h("p", {}, h("a", { href: "#/templates", text: "← All templates" })),
    h("h1", { text: title }),
    h("div", { class: "card" }, h("div", { class: "two" },
      h("div", {}, h("label", { for: "template-name", text: "Name" }), name,
        h("label", { for: "subject", text: "Subject" }), subject,
        h("label", { for: "body", text: "Message (plain text or HTML)" }), body, preview.problems),
      h("div", {}, h("h2", { text: "How the mail will look" }), preview.box)),
      error, buttons));
  preview.refresh();
}

// ---- routing ------------------------------------------------------------

let lastHash = location.hash;

// The navigation shows the screen you are on (aria-current, and a visible mark).
function markCurrent(hash) {
  const section = hash.startsWith("#/new") ? "#/new" : hash.startsWith("#/templates") ? "#/templates" : "#/";
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  clearTimeout(pollTimer);
  if (!sessionStorage.getItem(TOKEN_KEY)) return showSignIn();
  nav.hidden = false;
  showServerNotice();
  showDirectoryFooter();
  const hash = location.hash || "#/";
  lastHash = hash;
  unsaved = null;
  markCurrent(hash);
  try {
    let match;
    if (hash === "#/new") await showCompose(null);
    else if ((match = hash.match(/^#\/new\?from=([0-9a-f]{32})$/))) await showCompose(null, match[1]);
    else if ((match = hash.match(/^#\/m\/([0-9a-f]{32})\/edit$/))) await showCompose(match[1]);
    else if ((match = hash.match(/^#\/m\/([0-9a-f]{32})$/))) await showMessage(match[1]);
    else if (hash === "#/templates") await showTemplates();
    else if (hash === "#/templates/new") await showTemplate(null);
    else if ((match = hash.match(/^#\/templates\/([0-9a-f]{32})$/))) await showTemplate(match[1]);
    else await showList();
  } catch (err) {
    if (err.status !== 401) {
      const retry = h("button", { type: "button", class: "secondary", text: "Try again", onclick: route });
      show("Error", h("h1", { text: "Something went wrong" }), h("p", { class: "error", role: "alert", text: err.message }), retry);
    }
  }
}

window.addEventListener("hashchange", async () => {
  // Leaving a screen with unsaved work asks first, in the same dialog as every
  // other question; the address stays put until the answer is to leave.
  if (unsaved && unsaved() && location.hash !== lastHash) {
    const wanted = location.hash;
    history.replaceState(null, "", lastHash);
    if (!(await confirmDialog("Leave this page?", "Your changes are not saved. Leave without saving them?", "Leave", true))) return;
    unsaved = null;
    location.hash = wanted;
    return;
  }
  route();
});
document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
route();
