// @ts-check
// Composing and editing a broadcast, in two steps.

import { MESSAGE_FIELDS, api, listAll, onlyFields, queryParams } from "../api.js";
import { confirmDialog, confirmSend } from "../dialogs.js";
import { action, day as dayOf, h, loading, newKey, plural, say, scroller, show, splitAddresses, stale } from "../dom.js";
import { picker } from "../picker.js";
import { livePreview } from "../preview.js";
import { serverStatus } from "../server.js";
import { languageName, languageTabs, variantLine } from "../languages.js";
import { store } from "../store.js";
import { sendTest } from "../test-send.js";

// ---- composing ------------------------------------------------------------

export async function showCompose(uuid, fromUuid) {
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
    scope: "",
    /** Its translations (SPEC 2.3): tag -> { subject, body }. @type {Record<string, {subject: string, body: string}>} */
    translations: loaded ? { ...(loaded.translations || {}) } : {},
  };
  // Which text the subject and message fields edit: "" the default, else a tag.
  let editing = "";
  const textOf = () => (editing ? draft.translations[editing] : draft);
  let clean = JSON.stringify(draft);
  store.unsaved = () => JSON.stringify(draft) !== clean;
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
  const scopes = store.session.scopes || [];
  const save = async (sendAt) => {
    const payload = { subject: draft.subject, body: draft.body, query: buildQuery(), translations: draft.translations };
    if (sendAt !== undefined) payload.send_at = sendAt;
    // A sender for several providers or organisations says which this one is for.
    if (!message && scopes.length > 1 && draft.scope) payload.scope = JSON.parse(draft.scope);
    const result = message
      ? await api("PATCH", `/api/broadcast-messages/${message.uuid}/`, payload)
      : await api("POST", "/api/broadcast-messages/", payload, { key: newKey() });
    const first = !message;
    message = result.data;
    clean = JSON.stringify(draft);
    if (first) {
      // Saved for the first time (a test, a template): the address names it now, so a
      // reload or a shared link opens this draft rather than a blank one.
      store.lastHash = `#/m/${message.uuid}/edit`;
      history.replaceState(null, "", store.lastHash);
    }
    return message;
  };
  const testSend = (error, addresses) => () =>
    sendTest(addresses(), async () => (await save()).uuid, error, "; the draft is saved");

  const stepOne = () => {
    const subject = h("input", { type: "text", id: "subject", required: true, maxlength: 1000, value: textOf().subject });
    const body = h("textarea", { id: "body", required: true, text: textOf().body });
    const previewFor = h("input", { type: "email", id: "preview-for-email", value: draft.previewFor, placeholder: "the first recipient" });
    // The preview shows the tab being edited: each language's mail as its readers get it.
    const preview = livePreview({
      subject: () => textOf().subject, body: () => textOf().body, query: buildQuery,
      forEmail: () => draft.previewFor.trim(),
    });
    body.addEventListener("input", () => { textOf().body = body.value; preview.refresh(); });
    subject.addEventListener("input", () => { textOf().subject = subject.value; preview.refresh(); });
    const tabs = languageTabs(draft, () => editing, (tag) => {
      editing = tag;
      subject.value = textOf().subject;
      body.value = textOf().body;
      preview.refresh();
      subject.focus();
    });
    previewFor.addEventListener("input", () => { draft.previewFor = previewFor.value; preview.refresh(); });
    const error = h("p", { class: "error", role: "alert" });
    const templates = h("select", { id: "template" }, h("option", { value: "", text: "— none —" }));
    let known = [];
    listAll("/api/broadcast-message-templates/?o=name").then((found) => {
      known = found.data;
      for (const t of known) templates.append(h("option", { value: t.uuid, text: t.name }));
    }).catch(() => {});
    templates.addEventListener("change", () => {
      const chosen = known.find((t) => t.uuid === templates.value);
      if (!chosen) return;
      draft.subject = chosen.subject;
      draft.body = chosen.body;
      draft.translations = { ...(chosen.translations || {}) };
      editing = "";
      tabs.redraw();
      subject.value = draft.subject;
      body.value = draft.body;
      preview.refresh();
      say(`Filled from the template “${chosen.name}”.`);
    });
    const templateName = h("input", { type: "text", id: "template-name", maxlength: 150 });
    const saveTemplate = action(h("button", { type: "button", class: "secondary", text: "Save as template" }), "Saving…", async () => {
      const name = templateName.value.trim();
      if (!name) { error.textContent = "Name the template first."; templateName.focus(); return; }
      const payload = { name, subject: draft.subject, body: draft.body, translations: draft.translations };
      const found = (await listAll(`/api/broadcast-message-templates/?${new URLSearchParams({ name })}`)).data;
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
        h("div", {}, tabs.element, h("label", { for: "subject", text: "Subject" }), subject,
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
      const unwritten = Object.entries(draft.translations).find(([, t]) => !t.subject.trim() || !t.body.trim());
      if (unwritten) { error.textContent = `Write the ${languageName(unwritten[0])} subject and message, or remove that translation.`; return; }
      // The problem is said once, under the message: take the reader there.
      if (preview.hasProblems()) { error.textContent = ""; preview.problems.tabIndex = -1; preview.problems.focus(); return; }
      stepTwo();
    });
    show(title, h("h1", { text: title }), steps(1), form);
    preview.refresh();
    subject.focus();
  };

  const stepTwo = () => {
    const total = h("p", { id: "recipient-count", "aria-live": "polite" });
    const variants = h("p", { id: "variant-counts", class: "muted", "aria-live": "polite" });
    const tbody = h("tbody");
    const table = h("table", { id: "recipients", class: "cards" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Name" }), h("th", { scope: "col", text: "E-mail" }),
        h("th", { scope: "col", text: "Language" }),
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
        params.set("page_size", "50");
        const tags = Object.keys(draft.translations);
        if (tags.length) params.set("variants", tags.join(","));
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
          // Who reads which translation, counted by the server as the send will queue it.
          variants.textContent = tags.length && count ? `Who reads which: ${variantLine(result.headers.get("X-Variant-Counts"))}` : "";
          tbody.replaceChildren(...result.data.map((r) => h("tr", {},
            h("td", { "data-label": "Name", text: r.full_name }), h("td", { "data-label": "E-mail", text: r.email }),
            h("td", { "data-label": "Language", text: r.language ? languageName(r.language) : "" }),
            h("td", { "data-label": "Organisations", text: r.customers.map((c) => c.name).join(", ") }),
            h("td", { "data-label": "Offerings", text: r.offerings.map((o) => o.name).join(", ") }))));
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
        const asked = await api("POST", `/api/broadcast-messages/${kept.uuid}/schedule/`, undefined, { key: newKey() });
        say(asked.status === 202 ? `Sent to staff for review: once approved it is scheduled for ${dayOf(day.value)}.`
          : `Scheduled for ${dayOf(day.value)}.`);
        location.hash = `#/m/${kept.uuid}`;
      }, error),
      action(h("button", { type: "button", text: "Send now" }), "Sending…", async () => {
        if (!(await confirmSend(draft.subject, count))) return;
        const kept = await save();
        const asked = await api("POST", `/api/broadcast-messages/${kept.uuid}/send/`, undefined, { key: newKey() });
        say(asked.status === 202 ? "Sent to staff for review: it goes out once they approve it."
          : "Sent; delivery is under way.");
        location.hash = `#/m/${kept.uuid}`;
      }, error));
    const tests = h("div", { class: "actions" },
      action(h("button", { type: "button", class: "secondary", text: "Send a test to me" }), "Sending the test…",
        testSend(error, () => (facts && facts.me.email ? [facts.me.email] : [])), error),
      h("div", { class: "grow" }, h("label", { for: "test-to", text: "Send a test to" }), testTo),
      action(h("button", { type: "button", class: "secondary", text: "Send test" }), "Sending the test…",
        // All of them: more than the server takes is its 400, said, never cut silently.
        testSend(error, () => splitAddresses(testTo.value)), error));
    // A scoped sender (SPEC 9) names only their own offerings or organisations.
    const scopeChoice = !message && scopes.length > 1 ? h("div", {},
      h("label", { for: "scope", text: "For" }),
      h("select", { id: "scope", onchange: (event) => { draft.scope = event.target.value; refresh(); } },
        h("option", { value: "", text: "— choose —" }),
        ...scopes.map((sc) => h("option", { value: JSON.stringify({ type: sc.type, uuid: sc.uuid }), selected: draft.scope === JSON.stringify({ type: sc.type, uuid: sc.uuid }),
          text: `${sc.name} (${sc.type === "provider" ? "its offerings' users" : "its people"})` })))) : null;
    const form = h("div", { class: "card" },
      scopeChoice,
      scopes.length ? null : h("label", { class: "check" }, allUsers, "All users of the portal"),
      h("div", { class: "two" },
        picker("customers", "Organisations", draft.customers, refresh),
        picker("offerings", "Offerings", draft.offerings, refresh)),
      h("div", { class: "two" },
        scopes.length ? h("div", {}) : h("div", {}, h("label", { for: "additional", text: "Also send to (addresses)" }), additional),
        h("div", {}, h("label", { for: "excluded", text: "Never send to (addresses)" }), excluded)),
      h("label", { class: "check" }, toMe, "Send a copy to me"),
      h("p", { class: "muted", id: "schedule-help",
        text: `A scheduled broadcast leaves at the first scheduler run on that day in ${zone} (the scheduler looks every ${every}); today is ${dayOf(firstDay)}.` }),
      error, buttons, tests);
    show(title, h("h1", { text: title }), steps(2), form,
      h("h2", { text: "Recipients" }), total, variants, scroller("Recipients", table));
    refresh();
  };
  stepOne();
}

export function steps(current) {
  return h("ol", { class: "steps", "aria-label": "Steps" },
    h("li", { "aria-current": current === 1 ? "step" : null, text: "1. Message" }),
    h("li", { "aria-current": current === 2 ? "step" : null, text: "2. Recipients" }));
}

