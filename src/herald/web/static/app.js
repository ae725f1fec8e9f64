// Herald's staff console: a small page over Herald's public API, nothing else.
// Every piece of user-supplied text reaches the page through textContent, never
// innerHTML; a message body is previewed in a sandboxed frame, sanitised first.
"use strict";

const TOKEN_KEY = "herald.token";
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const statusBox = document.getElementById("status");

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
  main.replaceChildren(...content);
  main.focus();
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function badge(state) {
  const label = { DRAFT: "Draft", SCHEDULED: "Scheduled", SENT: "Sent" }[state] || state;
  return h("span", { class: `badge ${state}`, text: label });
}

function splitAddresses(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
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
    const parts = [];
    const walk = (value, path) => {
      if (Array.isArray(value)) value.forEach((v) => (typeof v === "string" ? parts.push(`${path}: ${v}`) : walk(v, path)));
      else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
    };
    walk(body, "");
    return parts.join("; ");
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Token ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401 && path !== "/api/broadcast-messages/?page_size=1") {
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

// ---- signing in and out -------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  statusShown = false;
  document.getElementById("notice").hidden = true;
  nav.hidden = true;
  showSignIn(message);
}

function showSignIn(message) {
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert", text: message || "" });
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const form = h("form", { class: "card", "aria-describedby": "sign-in-error" },
    h("label", { for: "token", text: "API token" }),
    h("p", { class: "muted", text: "A staff or support token, made with herald create-staff." }),
    input, error,
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Sign in" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await api("GET", "/api/broadcast-messages/?page_size=1");
      nav.hidden = false;
      if (location.hash === "#/" || !location.hash) route(); else location.hash = "#/";
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      error.textContent = err.status === 401 ? "That token is not valid." :
        err.status === 403 ? "This account is neither staff nor support, so it cannot use Herald." : err.message;
      input.focus();
    }
  });
  show("Sign in", h("h1", { text: "Sign in to Herald" }), form);
  input.focus();
}

// ---- the list ------------------------------------------------------------

const listState = { page: 1, state: "", subject: "", o: "-created" };

async function showList() {
  const params = new URLSearchParams({ page: listState.page, page_size: 20, o: listState.o });
  if (listState.state) params.set("state", listState.state);
  if (listState.subject) params.set("subject", listState.subject);
  let result;
  try {
    result = await api("GET", `/api/broadcast-messages/?${params}`);
  } catch (err) {
    if (err.status === 404 && listState.page > 1) { listState.page = 1; return showList(); }
    throw err;
  }
  const stateSelect = h("select", { id: "filter-state", name: "state" },
    ...[["", "All states"], ["DRAFT", "Draft"], ["SCHEDULED", "Scheduled"], ["SENT", "Sent"]].map(
      ([value, label]) => h("option", { value, selected: value === listState.state, text: label })));
  const search = h("input", { type: "search", id: "filter-subject", name: "subject", value: listState.subject });
  const filters = h("form", { class: "filters card", role: "search" },
    h("div", {}, h("label", { for: "filter-state", text: "State" }), stateSelect),
    h("div", {}, h("label", { for: "filter-subject", text: "Subject contains" }), search),
    h("button", { type: "submit", text: "Filter" }));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(listState, { state: stateSelect.value, subject: search.value.trim(), page: 1 });
    showList();
  });
  const sortable = (name, label, cls) => {
    const active = listState.o.replace("-", "") === name;
    const descending = listState.o.startsWith("-");
    const sort = active ? (descending ? "descending" : "ascending") : "none";
    return h("th", { scope: "col", "aria-sort": sort, class: cls }, h("button", {
      type: "button", text: label + (active ? (descending ? " ▼" : " ▲") : ""),
      onclick: () => { listState.o = active && !descending ? `-${name}` : name; listState.page = 1; showList(); },
    }));
  };
  const rows = result.data.map((m) => h("tr", {},
    h("td", {}, h("a", { href: `#/m/${m.uuid}`, text: m.subject })),
    h("td", { class: "hide-narrow", text: m.author_full_name }),
    h("td", {}, badge(m.state)),
    h("td", { class: "hide-narrow", text: when(m.created) }),
    h("td", { text: m.send_at || "" }),
    h("td", {}, m.state === "SENT" ? `${m.delivery.sent}/${m.delivery.total}` : "",
      m.delivery.failed ? h("span", { class: "error", text: ` · ${m.delivery.failed} failed` }) : null)));
  const pages = Math.max(1, Math.ceil(result.count / 20));
  const pager = h("div", { class: "pager" },
    h("button", { type: "button", class: "secondary", disabled: !result.links.prev, text: "Previous",
      onclick: () => { listState.page -= 1; showList(); } }),
    h("span", { text: `Page ${listState.page} of ${pages} · ${result.count} broadcasts` }),
    h("button", { type: "button", class: "secondary", disabled: !result.links.next, text: "Next",
      onclick: () => { listState.page += 1; showList(); } }));
  show("Broadcasts",
    h("h1", { text: "Broadcasts" }), filters,
    h("div", { class: "scroll" }, h("table", {},
      h("caption", { class: "muted", text: "Messages to the portal's users, newest first unless sorted." }),
      h("thead", {}, h("tr", {}, sortable("subject", "Subject"),
        sortable("author_full_name", "Author", "hide-narrow"),
        h("th", { scope: "col", text: "State" }),
        sortable("created", "Created", "hide-narrow"),
        h("th", { scope: "col", text: "Send day" }), h("th", { scope: "col", text: "Delivery" }))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No broadcasts." }))))),
    pager);
}

// ---- previewing a body safely -------------------------------------------

const BLOCKED = ["script", "iframe", "object", "embed", "link", "meta", "base", "form", "frame", "frameset", "style"];

function sanitise(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll(BLOCKED.join(",")).forEach((node) => node.remove());
  for (const node of doc.body.querySelectorAll("*")) {
    for (const attr of [...node.attributes]) {
      const value = attr.value.trim().toLowerCase();
      const remote = /^(https?:)?\/\//.test(value) && attr.name !== "href";
      if (attr.name.startsWith("on") || value.startsWith("javascript:") || remote || attr.name === "srcset") {
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

// ---- composing ------------------------------------------------------------

function picker(kind, label, chosen, onChange) {
  const id = `pick-${kind}`;
  const input = h("input", { type: "text", id, autocomplete: "off", "aria-controls": `${id}-list`, placeholder: "Type to search" });
  const list = h("ul", { class: "suggestions", id: `${id}-list`, "aria-label": `${label} matching` });
  const chips = h("ul", { class: "chips", "aria-label": `Chosen ${label.toLowerCase()}` });
  const draw = () => chips.replaceChildren(...chosen.map((item) => h("li", {}, item.name,
    h("button", { type: "button", "aria-label": `Remove ${item.name}`, text: "×",
      onclick: () => { chosen.splice(chosen.indexOf(item), 1); draw(); onChange(); } }))));
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const name = input.value.trim();
      if (!name) { list.replaceChildren(); return; }
      const found = await api("GET", `/api/${kind}/?${new URLSearchParams({ name, page_size: 8 })}`);
      list.replaceChildren(...found.data.filter((f) => !chosen.some((c) => c.uuid === f.uuid)).map((f) =>
        h("li", {}, h("button", { type: "button", text: f.name, onclick: () => {
          chosen.push({ uuid: f.uuid, name: f.name });
          input.value = ""; list.replaceChildren(); draw(); onChange(); input.focus();
        } }))));
    }, 200);
  });
  draw();
  return h("div", {}, h("label", { for: id, text: label }), input, list, chips);
}

async function showCompose(uuid) {
  const message = uuid ? (await api("GET", `/api/broadcast-messages/${uuid}/`)).data : null;
  if (message && message.state === "SENT") { location.hash = `#/m/${uuid}`; return; }
  const query = message ? message.query : { all_users: false };
  const draft = {
    subject: message ? message.subject : "",
    body: message ? message.body : "",
    send_at: message ? message.send_at : null,
    customers: [...(query.customers || [])],
    offerings: [...(query.offerings || [])],
    all_users: !!query.all_users,
    send_to_me: !!query.send_to_me,
    additional: (query.additional_recipients || []).join("\n"),
    excluded: (query.excluded_recipients || []).join("\n"),
  };
  const title = message ? "Edit broadcast" : "New broadcast";
  const buildQuery = () => {
    const q = { all_users: draft.all_users, send_to_me: draft.send_to_me };
    if (draft.customers.length) q.customers = draft.customers.map((c) => c.uuid);
    if (draft.offerings.length) q.offerings = draft.offerings.map((o) => o.uuid);
    const additional = splitAddresses(draft.additional), excluded = splitAddresses(draft.excluded);
    if (additional.length) q.additional_recipients = additional;
    if (excluded.length) q.excluded_recipients = excluded;
    return q;
  };

  const stepOne = () => {
    const subject = h("input", { type: "text", id: "subject", required: true, maxlength: 1000, value: draft.subject });
    const body = h("textarea", { id: "body", required: true, text: draft.body });
    const preview = h("div", { id: "preview" }, previewFrame(draft.body, "Preview of the mail"));
    body.addEventListener("input", () => { draft.body = body.value; preview.replaceChildren(previewFrame(draft.body, "Preview of the mail")); });
    subject.addEventListener("input", () => (draft.subject = subject.value));
    const error = h("p", { class: "error", role: "alert" });
    const templates = h("select", { id: "template" }, h("option", { value: "", text: "— none —" }));
    api("GET", "/api/broadcast-message-templates/?page_size=300").then((found) => {
      for (const t of found.data) templates.append(h("option", { value: t.uuid, text: t.name }));
      templates._byId = Object.fromEntries(found.data.map((t) => [t.uuid, t]));
    });
    templates.addEventListener("change", () => {
      const chosen = (templates._byId || {})[templates.value];
      if (!chosen) return;
      subject.value = draft.subject = chosen.subject;
      body.value = draft.body = chosen.body;
      preview.replaceChildren(previewFrame(draft.body, "Preview of the mail"));
      say(`Filled from the template “${chosen.name}”.`);
    });
    const templateName = h("input", { type: "text", id: "template-name", maxlength: 150 });
    const saveTemplate = h("button", { type: "button", class: "secondary", text: "Save as template", onclick: async () => {
      error.textContent = "";
      try {
        const name = templateName.value.trim();
        if (!name) { error.textContent = "Name the template first."; templateName.focus(); return; }
        await api("POST", "/api/broadcast-message-templates/", { name, subject: draft.subject, body: draft.body });
        say(`Saved as the template “${name}”.`);
      } catch (err) { error.textContent = err.message; }
    } });
    const form = h("form", { class: "card" },
      h("label", { for: "template", text: "Start from a template" }), templates,
      h("div", { class: "two" },
        h("div", {}, h("label", { for: "subject", text: "Subject" }), subject,
          h("label", { for: "body", text: "Message (plain text or HTML)" }), body,
          h("p", { class: "muted", text: "Placeholders: {{ recipient.full_name }}, {{ recipient.email }}, {{ recipient.customers }}, {{ recipient.offerings }}, {{ message.subject }}, {{ message.send_at }}." })),
        h("div", {}, h("h2", { text: "How the mail will look" }), preview)),
      error,
      h("div", { class: "actions" },
        h("button", { type: "submit", text: "Next: recipients" }),
        h("div", {}, h("label", { for: "template-name", text: "Template name" }), templateName),
        saveTemplate));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!draft.subject.trim() || !draft.body.trim()) { error.textContent = "Write a subject and a message first."; return; }
      stepTwo();
    });
    show(title, h("h1", { text: title }), steps(1), form);
    subject.focus();
  };

  const stepTwo = () => {
    const total = h("p", { id: "recipient-count", "aria-live": "polite" });
    const tbody = h("tbody");
    let count = 0;
    let refreshTimer;
    const refresh = () => {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(async () => {
        const params = queryParams(buildQuery());
        params.set("page_size", 50);
        try {
          const result = await api("GET", `/api/broadcast-messages/recipients/?${params}`);
          count = result.count;
          total.textContent = `${count} recipient${count === 1 ? "" : "s"}` + (count > 50 ? " (first 50 shown)" : "");
          tbody.replaceChildren(...result.data.map((r) => h("tr", {},
            h("td", { text: r.full_name }), h("td", { text: r.email }),
            h("td", { text: r.customers.map((c) => c.name).join(", ") }),
            h("td", { class: "hide-narrow", text: r.offerings.map((o) => o.name).join(", ") }))));
        } catch (err) { total.textContent = err.message; }
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
    const day = h("input", { type: "date", id: "send-at", min: today(), value: draft.send_at || "" });
    const error = h("p", { class: "error", role: "alert" });

    const save = async (sendAt) => {
      const payload = { subject: draft.subject, body: draft.body, query: buildQuery() };
      if (sendAt !== undefined) payload.send_at = sendAt;
      const saved = message
        ? await api("PATCH", `/api/broadcast-messages/${message.uuid}/`, payload)
        : await api("POST", "/api/broadcast-messages/", payload);
      return saved.data;
    };
    const act = (fn) => async () => {
      error.textContent = "";
      try { await fn(); } catch (err) { error.textContent = err.message; }
    };
    const buttons = h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", text: "Back", onclick: stepOne }),
      h("button", { type: "button", class: "secondary", text: "Save as draft", onclick: act(async () => {
        const saved = await save(message && message.state === "SCHEDULED" ? null : undefined);
        say("Saved as a draft."); location.hash = `#/m/${saved.uuid}`;
      }) }),
      h("div", {}, h("label", { for: "send-at", text: "Send on" }), day),
      h("button", { type: "button", text: "Schedule", onclick: act(async () => {
        if (!day.value) { error.textContent = "Choose the day to send it on."; day.focus(); return; }
        const saved = await save(day.value);
        await api("POST", `/api/broadcast-messages/${saved.uuid}/schedule/`);
        say(`Scheduled for ${day.value}.`); location.hash = `#/m/${saved.uuid}`;
      }) }),
      h("button", { type: "button", text: "Send now", onclick: act(async () => {
        if (!(await confirmSend(draft.subject, count))) return;
        const saved = await save();
        await api("POST", `/api/broadcast-messages/${saved.uuid}/send/`);
        say("Sent; delivery is under way."); location.hash = `#/m/${saved.uuid}`;
      }) }));
    const form = h("div", { class: "card" },
      h("label", { class: "check" }, allUsers, "All users of the portal"),
      h("div", { class: "two" },
        picker("customers", "Organisations", draft.customers, refresh),
        picker("offerings", "Offerings", draft.offerings, refresh)),
      h("div", { class: "two" },
        h("div", {}, h("label", { for: "additional", text: "Also send to (addresses)" }), additional),
        h("div", {}, h("label", { for: "excluded", text: "Never send to (addresses)" }), excluded)),
      h("label", { class: "check" }, toMe, "Send a copy to me"),
      error, buttons);
    show(title, h("h1", { text: title }), steps(2), form,
      h("h2", { text: "Recipients" }), total,
      h("div", { class: "scroll" }, h("table", { id: "recipients" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Name" }), h("th", { scope: "col", text: "E-mail" }),
          h("th", { scope: "col", text: "Organisations" }), h("th", { scope: "col", class: "hide-narrow", text: "Offerings" }))),
        tbody)));
    refresh();
  };
  stepOne();
}

function steps(current) {
  return h("ol", { class: "steps", "aria-label": "Steps" },
    h("li", { "aria-current": current === 1 ? "step" : null, text: "1. Message" }),
    h("li", { "aria-current": current === 2 ? "step" : null, text: "2. Recipients" }));
}

function confirmSend(subject, count) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent =
    `Send “${subject}” to ${count} recipient${count === 1 ? "" : "s"} now? This cannot be undone.`;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

// ---- one broadcast ---------------------------------------------------------

let pollTimer;

async function showMessage(uuid) {
  const m = (await api("GET", `/api/broadcast-messages/${uuid}/`)).data;
  const q = m.query;
  const names = (items) => (items || []).map((i) => i.name).join(", ") || "—";
  const act = (label, fn, cls) => h("button", { type: "button", class: cls || "secondary", text: label, onclick: async () => {
    try { await fn(); } catch (err) { say(err.message); }
  } });
  const actions = h("div", { class: "actions" });
  if (m.state !== "SENT") {
    actions.append(h("a", { class: "button", href: `#/m/${uuid}/edit`, text: "Edit" }));
    if (m.state === "SCHEDULED") actions.append(act("Unschedule", async () => {
      await api("PATCH", `/api/broadcast-messages/${uuid}/`, { send_at: null });
      say("Unscheduled; it is a draft again."); showMessage(uuid);
    }));
    actions.append(act("Send now", async () => {
      if (!(await confirmSend(m.subject, m.emails.length))) return;
      await api("POST", `/api/broadcast-messages/${uuid}/send/`);
      say("Sent; delivery is under way."); showMessage(uuid);
    }, "primary"));
  }
  actions.append(act("Delete", async () => {
    await api("DELETE", `/api/broadcast-messages/${uuid}/`);
    say("Deleted."); location.hash = "#/";
  }, "danger"));

  const delivery = h("section", { id: "delivery", "aria-labelledby": "delivery-title" });
  show(m.subject,
    h("p", {}, h("a", { href: "#/", text: "← All broadcasts" })),
    h("h1", {}, m.subject, " ", badge(m.state)),
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
        h("summary", { text: `${m.emails.length} address${m.emails.length === 1 ? "" : "es"}` }),
        h("p", { text: m.emails.join(", ") }))))),
    actions,
    h("h2", { text: "Message" }), previewFrame(m.body, "The message as written"),
    recipientPreview(uuid, m.emails),
    delivery);
  if (m.state === "SENT") drawDelivery(uuid, delivery);
}

function recipientPreview(uuid, emails) {
  const choice = h("select", { id: "preview-for" }, ...emails.slice(0, 300).map((e) => h("option", { value: e, text: e })));
  const result = h("div", { id: "recipient-preview", "aria-live": "polite" });
  const show = async () => {
    try {
      const p = (await api("POST", `/api/broadcast-messages/${uuid}/preview/`, { email: choice.value })).data;
      result.replaceChildren(
        h("p", {}, h("strong", { text: "Subject: " }), p.subject),
        previewFrame(p.html || p.text, `The mail as ${p.email} gets it`));
    } catch (err) { result.replaceChildren(h("p", { class: "error", text: err.message })); }
  };
  return h("section", { "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title", text: "Preview for one recipient" }),
    emails.length ? h("div", { class: "actions" },
      h("div", {}, h("label", { for: "preview-for", text: "Recipient" }), choice),
      h("button", { type: "button", class: "secondary", text: "Preview", onclick: show })) :
      h("p", { class: "muted", text: "The message reaches nobody yet." }),
    result);
}

async function drawDelivery(uuid, section) {
  clearTimeout(pollTimer);
  const [message, rows] = await Promise.all([
    api("GET", `/api/broadcast-messages/${uuid}/?field=delivery`),
    api("GET", `/api/broadcast-messages/${uuid}/deliveries/?page_size=100`),
  ]);
  const d = message.data.delivery;
  const percent = d.total ? Math.round((100 * d.sent) / d.total) : 0;
  const retry = d.failed ? h("button", { type: "button", text: `Retry ${d.failed} failed`, onclick: async () => {
    const result = await api("POST", `/api/broadcast-messages/${uuid}/retry-failed/`);
    say(`${result.data.retried} deliveries will be tried again.`); drawDelivery(uuid, section);
  } }) : null;
  section.replaceChildren(
    h("h2", { id: "delivery-title", text: "Delivery" }),
    h("p", { id: "delivery-summary", text: `${d.sent}/${d.total} sent (${percent}%) · ${d.pending} pending · ${d.failed} failed` }),
    h("progress", { max: d.total || 1, value: d.sent, "aria-label": "Delivery progress" }),
    ...(retry ? [retry] : []),
    h("div", { class: "scroll" }, h("table", {},
      h("caption", { class: "muted", text: rows.count > 100 ? `First 100 of ${rows.count}` : "" }),
      h("thead", {}, h("tr", {}, ...["E-mail", "Status", "Attempts", "Last error", "Sent"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, ...rows.data.map((r) => h("tr", {},
        h("td", { text: r.email }), h("td", {}, h("span", { class: `badge ${r.status}`, text: r.status })),
        h("td", { text: r.attempts }), h("td", { text: r.last_error || "" }), h("td", { text: when(r.sent_at) })))))));
  if (d.pending && location.hash === `#/m/${uuid}`) pollTimer = setTimeout(() => drawDelivery(uuid, section), 1500);
}

// ---- what the server says about itself ------------------------------------

let statusShown = false;

async function showServerNotice() {
  // Once a session: a server that writes mail to files instead of sending it says so.
  if (statusShown) return;
  statusShown = true;
  const notice = document.getElementById("notice");
  try {
    const { data } = await api("GET", "/api/status/");
    notice.hidden = data.mail.delivered;
    notice.textContent = data.mail.delivered ? "" :
      "Mail is not being sent: this Herald writes each mail as a file on the server " +
      "(its operator has not set HERALD_SMTP_URL). Recipients receive nothing.";
  } catch (err) {
    statusShown = false;
  }
}

// ---- routing ------------------------------------------------------------

async function route() {
  clearTimeout(pollTimer);
  if (!sessionStorage.getItem(TOKEN_KEY)) return showSignIn();
  nav.hidden = false;
  showServerNotice();
  const hash = location.hash || "#/";
  try {
    let match;
    if (hash === "#/new") await showCompose(null);
    else if ((match = hash.match(/^#\/m\/([0-9a-f]{32})\/edit$/))) await showCompose(match[1]);
    else if ((match = hash.match(/^#\/m\/([0-9a-f]{32})$/))) await showMessage(match[1]);
    else await showList();
  } catch (err) {
    if (err.status !== 401) show("Error", h("h1", { text: "Something went wrong" }), h("p", { class: "error", text: err.message }));
  }
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
route();
