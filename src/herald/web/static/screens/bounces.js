// @ts-check
// Bounces and suppressions: who cannot be reached, why, and whom to ask for a new
// address; remove a suppression (after a question); read a bounce as it arrived.

import { api } from "../api.js";
import { confirmDialog } from "../dialogs.js";
import { action, h, headerRow, loading, plural, say, scroller, show, stale, when } from "../dom.js";
import { ago } from "../server.js";

const REASONS = [["", "Any reason"], ["hard", "Hard bounce"], ["soft", "Repeated soft bounces"], ["complaint", "Complaint"], ["manual", "Added by hand"]];
const KIND_WORDS = { hard: "hard bounce", soft: "soft bounce", complaint: "complaint", unrecognised: "unreadable" };

/** The search in the address: #/bounces?email=…&reason=… (a shared link keeps it). */
function searchOf(hash) {
  return new URLSearchParams(hash.split("?")[1] || "");
}

function people(users) {
  if (!users.length) return h("span", { class: "muted", text: "Not in the directory" });
  return h("ul", { class: "plain" }, ...users.map((u) => h("li", {},
    `${u.full_name || u.username}${u.is_active ? "" : " (inactive)"}`,
    h("span", { class: "muted", text: ` — ${u.customers.map((c) => c.name).join(", ") || "no organisation"}` }))));
}

function cause(s) {
  if (!s.bounce) {
    // The suppression itself says who added it (as they were named then).
    const who = s.added_by && s.added_by.full_name ? `Added by ${s.added_by.full_name}` : "Added by hand";
    return h("span", { text: s.note ? `${who}: ${s.note}` : who });
  }
  const b = s.bounce;
  const said = b.diagnostic.length > 120 ? `${b.diagnostic.slice(0, 119)}…` : b.diagnostic;
  return h("span", {}, `${KIND_WORDS[b.kind] || b.kind} ${b.code}`.trim() + " ",
    h("a", { href: `#/bounces/${b.uuid}`, text: "Read the bounce" }),
    said ? h("span", { class: "muted", text: ` — ${said}` }) : null,
    s.note ? h("span", { class: "muted", text: ` · ${s.note}` }) : null);
}

export async function showBounces(hash) {
  const token = loading("bounces and suppressions");
  const wanted = searchOf(hash);
  const email = wanted.get("email") || "";
  const reason = wanted.get("reason") || "";
  const query = new URLSearchParams({ page_size: "100" });
  if (email) query.set("email", email);
  if (reason) query.set("reason", reason);
  const bounceQuery = new URLSearchParams({ page_size: "50" });
  if (email) bounceQuery.set("email", email);
  const [suppressions, bounces, status] = await Promise.all([
    api("GET", `/api/suppressions/?${query}`),
    api("GET", `/api/bounces/?${bounceQuery}`),
    api("GET", "/api/status/"),
  ]);
  if (stale(token)) return;

  const search = h("input", { type: "search", id: "bounce-search", value: email, placeholder: "part of an address" });
  const reasons = h("select", { id: "bounce-reason" },
    ...REASONS.map(([value, label]) => h("option", { value, selected: value === reason, text: label })));
  const form = h("form", { class: "filters", role: "search" },
    h("div", {}, h("label", { for: "bounce-search", text: "Address" }), search),
    h("div", {}, h("label", { for: "bounce-reason", text: "Reason" }), reasons),
    h("button", { type: "submit", class: "secondary", text: "Search" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (search.value.trim()) next.set("email", search.value.trim());
    if (reasons.value) next.set("reason", reasons.value);
    location.hash = `#/bounces${next.toString() ? `?${next}` : ""}`;
  });

  const error = h("p", { class: "error", role: "alert" });
  const added = addForm(error);
  const rows = suppressions.data.map((s) => h("tr", {},
    h("td", { "data-label": "Address", text: s.email }),
    h("td", { "data-label": "Why" }, cause(s)),
    h("td", { "data-label": "Since", class: "nowrap", text: when(s.created) }),
    h("td", { "data-label": "Who to ask" }, people(s.users)),
    h("td", { "data-label": "" }, action(h("button", { type: "button", class: "secondary", text: "Mail again" }), "Removing…", async () => {
      if (!(await confirmDialog("Mail this address again?",
        `Remove the suppression of ${s.email}? Herald will mail it again from the next broadcast on; ` +
        "if the address is still dead it will bounce again.", "Mail again", true))) { say("Nothing was changed."); return; }
      await api("DELETE", `/api/suppressions/${encodeURIComponent(s.email)}/`);
      say(`${s.email} will be mailed again.`);
      showBounces(location.hash);
    }, error))));

  const bounceRows = bounces.data.map((b) => h("tr", {},
    h("td", { "data-label": "Received", class: "nowrap", text: when(b.received) }),
    h("td", { "data-label": "Address", text: b.email || "—" }),
    h("td", { "data-label": "Kind" }, h("span", { class: `badge ${b.kind === "soft" ? "pending" : "failed"}`, text: KIND_WORDS[b.kind] || b.kind })),
    h("td", { "data-label": "What the mail server said", text: [b.code, b.diagnostic].filter(Boolean).join(" ") || "—" }),
    h("td", { "data-label": "" }, h("a", { href: `#/bounces/${b.uuid}`, text: "Read" }))));

  show("Bounces",
    h("h1", { text: "Bounces and suppressions" }),
    mailboxState(status.data.bounces, status.data.jobs.bounces),
    h("p", { class: "muted", text: "Suppressed addresses stay in every audience but are never mailed. " +
      "Ask the people listed for a working address, then mail it again." }),
    form, error,
    h("h2", { id: "suppressions-title", text: `Suppressed (${suppressions.count})` }),
    added,
    scroller("Suppressed addresses", h("table", { class: "cards", id: "suppressions" },
      h("caption", { class: "muted", text: suppressions.count > 100 ? `First 100 of ${suppressions.count}` : plural(suppressions.count, "address", "addresses") }),
      h("thead", {}, headerRow("Address", "Why", "Since", "Who to ask", "")),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "muted", text: "No suppressed addresses." }))))),
    h("h2", { id: "bounces-title", text: `Recent bounces (${bounces.count})` }),
    scroller("Recent bounces", h("table", { class: "cards", id: "bounces" },
      h("caption", { class: "muted", text: bounces.count > 50 ? `Newest 50 of ${bounces.count}` : plural(bounces.count, "bounce") }),
      h("thead", {}, headerRow("Received", "Address", "Kind", "What the mail server said", "")),
      h("tbody", {}, bounceRows.length ? bounceRows : h("tr", {}, h("td", { colspan: 5, class: "muted", text: "No bounces." }))))));
}

/** Suppress an address by hand (a user asked to be left out, a known dead address). */
function addForm(error) {
  const address = h("input", { type: "email", id: "suppress-email", required: true, placeholder: "name@example.org" });
  const note = h("input", { type: "text", id: "suppress-note", maxlength: 2000, placeholder: "why, for whoever reads this later" });
  const button = h("button", { type: "submit", class: "secondary", text: "Suppress" });
  // The server says what is wrong with an address, in the words of every other screen.
  const form = h("form", { class: "filters", id: "suppress-form", novalidate: true },
    h("div", {}, h("label", { for: "suppress-email", text: "Suppress an address" }), address),
    h("div", {}, h("label", { for: "suppress-note", text: "Note" }), note),
    button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const result = await api("POST", "/api/suppressions/", { email: address.value.trim(), note: note.value.trim() });
      say(result.status === 201 ? `${result.data.email} will not be mailed.` : `${result.data.email} was suppressed already; unchanged.`);
      showBounces(location.hash);
    } catch (err) {
      const fields = err.body && typeof err.body === "object" ? err.body : {};
      error.textContent = [...(fields.email || []), ...(fields.note || [])].join(" ") || err.message;
      address.focus();
    }
  });
  return form;
}

/** Whether bounces are heard of at all, and whether the mailbox is being read: a
 * failure says so, in words, up front. */
function mailboxState(how, run) {
  if (!run) {
    const text = how.mailbox ? "The bounce mailbox has not been read yet; the delivery process reads it every interval."
      : how.webhook ? "Bounces are reported to Herald by the mail service (webhook)."
        : "Bounces are not read on this Herald: no bounce mailbox (HERALD_BOUNCE_ADDRESS with " +
          "HERALD_BOUNCE_IMAP_URL) and no bounce webhook is set up, so addresses are suppressed only by hand. " +
          "Ask the operator to set one up (see the operations guide).";
    return h("p", { id: "mailbox-state", class: "muted", text });
  }
  if (run.last_success !== run.last_run) {
    return h("p", { id: "mailbox-state", class: "error", role: "alert",
      text: `The bounce mailbox could not be read ${ago(run.last_run)}: ${run.detail.error || "see the server log"}. ` +
        "Bounces that arrived since are not counted yet; Herald tries again every interval." });
  }
  return h("p", { id: "mailbox-state", class: "muted", text: `Bounce mailbox read ${ago(run.last_run)}.` });
}

export async function showBounce(uuid) {
  const token = loading("the bounce");
  const b = (await api("GET", `/api/bounces/${uuid}/`)).data;
  if (stale(token)) return;
  show("Bounce",
    h("p", {}, h("a", { href: "#/bounces", text: "← Bounces and suppressions" })),
    h("h1", { text: `${KIND_WORDS[b.kind] || b.kind}: ${b.email || "address unknown"}` }),
    h("dl", { class: "facts" },
      h("dt", { text: "Received" }), h("dd", { text: when(b.received) }),
      h("dt", { text: "Status code" }), h("dd", { text: b.code || "—" }),
      h("dt", { text: "What the mail server said" }), h("dd", { text: b.diagnostic || "—" }),
      h("dt", { text: "Broadcast" }), h("dd", {}, b.message_uuid ? h("a", { href: `#/m/${b.message_uuid}`, text: "Open the broadcast" }) : "—"),
      h("dt", { text: "Reported by" }), h("dd", { text: b.source === "webhook" ? "the mail service (webhook)" : "the bounce mailbox" })),
    h("h2", { text: "The notification as it arrived" }),
    b.raw === undefined
      ? h("p", { class: "muted", text: "Only staff can read the notification itself." })
      : scroller("The notification", h("pre", { id: "bounce-raw", text: b.raw })));
}
