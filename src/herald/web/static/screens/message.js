// @ts-check
// One broadcast: its outcome, delivery, steering, details and previews.

import { MESSAGE_FIELDS, api, onlyFields } from "../api.js";
import { askNote, confirmDelete, confirmDialog, confirmSend, confirmStop } from "../dialogs.js";
import { action, day, h, loading, newKey, plural, say, scroller, show, splitAddresses, stale, when } from "../dom.js";
import { drawHistory } from "../history.js";
import { badge, percentSent } from "../outcome.js";
import { previewFrame } from "../preview.js";
import { languageName } from "../languages.js";
import { store } from "../store.js";
import { sendTest } from "../test-send.js";

export const SHOWN_ADDRESSES = 300;
// ---- one broadcast ---------------------------------------------------------


export async function showMessage(uuid) {
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
    const waiting = m.review && m.review.status === "waiting";
    if (waiting && !store.session.scopes) {
      // Staff decide a scoped sender's request here too (SPEC 9).
      actions.append(action(h("button", { type: "button", text: "Approve" }), "Approving…", async () => {
        if (!(await confirmDialog("Approve?", `Approve “${m.subject}” and ${m.review.action === "schedule" ? `schedule it for ${day(m.send_at)}` : `send it now to ${plural(count, "recipient")}`}?`, "Approve", false))) return;
        await api("POST", `/api/broadcast-messages/${uuid}/approve/`, undefined, { key: newKey() });
        say("Approved."); showMessage(uuid);
      }));
      actions.append(action(h("button", { type: "button", class: "danger", text: "Reject" }), "Rejecting…", async () => {
        const note = await askNote("Reject?", `Tell ${m.review.requested_by.full_name} why “${m.subject}” is not sent.`, "Reject");
        if (note === null) return;
        await api("POST", `/api/broadcast-messages/${uuid}/reject/`, { note }, { key: newKey() });
        say("Rejected."); showMessage(uuid);
      }));
    } else if (!waiting) {
      actions.append(action(h("button", { type: "button", text: "Send now" }), "Sending…", async () => {
        if (!(await confirmSend(m.subject, count))) return;
        const asked = await api("POST", `/api/broadcast-messages/${uuid}/send/`, undefined, { key: newKey() });
        say(asked.status === 202 ? "Sent to staff for review: it goes out once they approve it."
          : "Sent; delivery is under way.");
        showMessage(uuid);
      }));
    }
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
  const history = h("p", { id: "history", class: "muted" });
  drawHistory(uuid, history);
  // The status changed (paused elsewhere, done): redraw the buttons with it.
  header.dataset.status = status;
  const testTo = h("input", { type: "text", id: "test-to", placeholder: "up to 10 addresses" });
  const testError = h("p", { class: "error", role: "alert" });
  show(m.subject,
    h("p", {}, h("a", { href: "#/", text: "← All broadcasts" })),
    header,
    history,
    reviewNote(m),
    actions,
    m.state === "SENT" ? delivery : null,
    h("section", { "aria-labelledby": "facts-title" },
      h("h2", { id: "facts-title", text: "Details" }),
      h("div", { class: "card" }, h("dl", { class: "facts" },
        h("dt", { text: "Author" }), h("dd", { text: m.author_full_name }),
        h("dt", { text: "Created" }), h("dd", { text: when(m.created) }),
        h("dt", { text: "Send day" }), h("dd", { text: day(m.send_at) || "—" }),
        h("dt", { text: "Organisations" }), h("dd", { text: names(q.customers) }),
        h("dt", { text: "Offerings" }), h("dd", { text: names(q.offerings) }),
        h("dt", { text: "All users" }), h("dd", { text: q.all_users ? "yes" : "no" }),
        h("dt", { text: "Also to" }), h("dd", { text: (q.additional_recipients || []).join(", ") || "—" }),
        h("dt", { text: "Never to" }), h("dd", { text: (q.excluded_recipients || []).join(", ") || "—" }),
        h("dt", { text: "Recipients" }), h("dd", {}, h("details", {},
          h("summary", { text: plural(count, "address", "addresses") }),
          h("p", { text: emails.join(", ") + (count > emails.length ? ` … and ${count - emails.length} more (see Delivery)` : "") })))))),
    h("h2", { text: "Message" }), previewFrame(m.body, "The message as written"),
    translationsOf(m),
    recipientPreview(uuid, emails, count),
    h("section", { "aria-labelledby": "test-title" },
      h("h2", { id: "test-title", text: "Send a test" }),
      h("div", { class: "actions" },
        h("div", { class: "grow" }, h("label", { for: "test-to", text: "Send a test to" }), testTo),
        action(h("button", { type: "button", class: "secondary", text: "Send test" }), "Sending the test…",
          () => sendTest(splitAddresses(testTo.value), async () => uuid, testError), testError)),
      testError));
  if (m.state === "SENT") drawDelivery(uuid, delivery, header, "");
}

export function recipientPreview(uuid, emails, count) {
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
      h("div", {}, h("label", { for: "preview-for", text: "Recipient" }), choice), button,
      count > Math.min(emails.length, SHOWN_ADDRESSES)
        ? h("p", { class: "muted", id: "preview-choice-note", text: `The first ${Math.min(emails.length, SHOWN_ADDRESSES)} of ${count} recipients to choose from.` })
        : null) :
      h("p", { class: "muted", text: "The message reaches nobody yet." }),
    result);
}

export async function drawDelivery(uuid, section, header, status) {
  clearTimeout(store.pollTimer);
  const params = new URLSearchParams({ page_size: "100" });
  if (status) params.set("status", status);
  const [message, rows] = await Promise.all([
    api("GET", `/api/broadcast-messages/${uuid}/?field=delivery&field=state&field=translations`),
    api("GET", `/api/broadcast-messages/${uuid}/deliveries/?${params}`),
  ]);
  // Deliveries per variant (SPEC 2.3): a count of each translation and the default.
  const tags = Object.keys(message.data.translations || {}).sort();
  const perVariant = tags.length ? await Promise.all(["", ...tags].map(async (tag) => {
    const counted = await api("HEAD", `/api/broadcast-messages/${uuid}/deliveries/?language=${tag}`);
    return `${tag ? languageName(tag) : "Default"}: ${counted.count.toLocaleString()}`;
  })) : [];
  const m = message.data;
  const d = m.delivery;
  header.querySelector(".badge").replaceWith(badge(m));
  if (header.dataset.status && header.dataset.status !== d.status && location.hash === `#/m/${uuid}`) {
    showMessage(uuid);
    return;
  }
  const percent = percentSent(d);
  const filter = h("select", { id: "delivery-status" },
    ...[["", "All"], ["pending", "Pending"], ["sent", "Sent"], ["failed", "Failed"], ["cancelled", "Not sent (stopped)"], ["bounced", "Bounced"], ["suppressed", "Suppressed (not mailed)"]].map(
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
        (d.bounced ? ` · ${d.bounced} bounced` : "") +
        (d.suppressed ? ` · ${d.suppressed} suppressed (not mailed)` : "") +
        (d.status === "paused" ? " · paused" : d.status === "preparing" ? " · still queueing recipients" : "") }),
    h("progress", { max: d.total || 1, value: d.sent, "aria-label": "Delivery progress" }),
    perVariant.length ? h("p", { id: "delivery-languages", class: "muted", text: `In each language: ${perVariant.join(" · ")}` }) : null,
    h("div", { class: "actions" },
      h("div", {}, h("label", { for: "delivery-status", text: "Show" }), filter), retry),
    // Cards below 700 px, like the list: every column stays in view, none scrolls off.
    scroller("Deliveries", h("table", { class: "cards", id: "deliveries" },
      h("caption", { class: "muted", text: rows.count > 100 ? `First 100 of ${rows.count}` : `${plural(rows.count, "delivery", "deliveries")}` }),
      h("thead", {}, h("tr", {}, ...["E-mail", "Language", "Status", "Attempts", "Last error", "Sent"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, ...rows.data.map((r) => h("tr", {},
        h("td", { "data-label": "E-mail", text: r.email }),
        h("td", { "data-label": "Language", text: r.language ? languageName(r.language) : "Default" }),
        h("td", { "data-label": "Status" }, h("span", { class: `badge ${r.status}`, text: r.status })),
        h("td", { "data-label": "Attempts", text: r.attempts }),
        h("td", { "data-label": "Last error" }, r.bounce
          ? h("span", {}, `${r.bounce.kind} bounce: ${[r.bounce.code, r.bounce.diagnostic].filter(Boolean).join(" ")} `,
            h("a", { href: `#/bounces/${r.bounce.uuid}`, text: "Read the bounce" }))
          : r.status === "suppressed" ? "Suppressed: never mailed" : r.last_error || "—"),
        h("td", { "data-label": "Sent", class: "nowrap", text: when(r.sent_at) })))))));
  const moving = d.status === "preparing" || d.status === "sending";
  if (moving && location.hash === `#/m/${uuid}`) store.pollTimer = setTimeout(() => drawDelivery(uuid, section, header, status), 1500);
}

/** Where a scoped sender's request for review stands, in words (SPEC 9). */
function reviewNote(m) {
  const r = m.review;
  if (!r) return m.scope ? h("p", { class: "muted", id: "review-state", text: `For ${m.scope.name}.` }) : null;
  const asked = r.action === "schedule" ? `to schedule it for ${day(m.send_at)}` : "to send it";
  const text = {
    waiting: `Waiting for review: ${r.requested_by.full_name} asked staff ${asked} (${when(r.requested)}).`,
    approved: `Approved by ${r.decided_by ? r.decided_by.full_name : "staff"} (${when(r.decided)}).`,
    rejected: `Rejected: ${r.note} (${r.decided_by ? r.decided_by.full_name : "staff"}, ${when(r.decided)}). Edit it and ask again.`,
    withdrawn: "The request for review was withdrawn by an edit; send or schedule to ask again.",
  }[r.status];
  return h("p", { id: "review-state", class: r.status === "rejected" ? "error" : "notice", role: "status", text });
}

/** Each translation as written (SPEC 2.3), after the default. */
function translationsOf(m) {
  const tags = Object.keys(m.translations || {}).sort();
  if (!tags.length) return null;
  return h("section", { "aria-labelledby": "translations-title" },
    h("h2", { id: "translations-title", text: `Translations (${tags.length})` }),
    ...tags.map((tag) => h("details", { class: "translation" },
      h("summary", {}, h("strong", { text: languageName(tag) }), ` — ${m.translations[tag].subject}`),
      previewFrame(m.translations[tag].body, `The ${languageName(tag)} message as written`))));
}
