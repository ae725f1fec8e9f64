// @ts-check
// To review (SPEC 9): what service providers and organisation owners asked to send or
// schedule, with whom it reaches, for staff to approve or reject (with why).

import { api, onlyFields } from "../api.js";
import { confirmDialog, askNote } from "../dialogs.js";
import { action, day, h, headerRow, loading, newKey, plural, say, scroller, show, stale, when } from "../dom.js";

const FIELDS = ["uuid", "subject", "state", "send_at", "scope", "review", "emails"];

export async function showReview() {
  const token = loading("the requests for review");
  const result = await api("GET", `/api/broadcast-messages/?review=waiting&page_size=100&o=created&${onlyFields(FIELDS)}`);
  if (stale(token)) return;
  const error = h("p", { class: "error", role: "alert" });
  const rows = result.data.map((m) => {
    const asked = m.review.action === "schedule" ? `Schedule for ${day(m.send_at)}` : "Send now";
    const approve = action(h("button", { type: "button", text: "Approve" }), "Approving…", async () => {
      const words = m.review.action === "schedule" ? `schedule it for ${day(m.send_at)}` : `send it now to ${plural(m.emails.length, "recipient")}`;
      if (!(await confirmDialog("Approve?", `Approve “${m.subject}” and ${words}?`, "Approve", false))) { say("Nothing was approved."); return; }
      await api("POST", `/api/broadcast-messages/${m.uuid}/approve/`, undefined, { key: newKey() });
      say(`Approved “${m.subject}”.`);
      showReview();
    }, error);
    const reject = action(h("button", { type: "button", class: "danger", text: "Reject" }), "Rejecting…", async () => {
      const note = await askNote("Reject?", `Tell ${m.review.requested_by.full_name} why “${m.subject}” is not sent.`, "Reject");
      if (note === null) { say("Nothing was rejected."); return; }
      await api("POST", `/api/broadcast-messages/${m.uuid}/reject/`, { note }, { key: newKey() });
      say(`Rejected “${m.subject}”.`);
      showReview();
    }, error);
    return h("tr", {},
      h("td", { "data-label": "Subject" }, h("a", { href: `#/m/${m.uuid}`, text: m.subject })),
      h("td", { "data-label": "For", text: m.scope ? m.scope.name : "—" }),
      h("td", { "data-label": "Asked by", text: `${m.review.requested_by.full_name}, ${when(m.review.requested)}` }),
      h("td", { "data-label": "Asks to", text: asked }),
      h("td", { "data-label": "Reaches", class: "nowrap", text: plural(m.emails.length, "recipient") }),
      h("td", { "data-label": "" }, h("div", { class: "actions" }, approve, reject)));
  });
  show("To review",
    h("h1", { text: "To review" }),
    h("p", { class: "muted", text: "Service providers and organisation owners tell their own people; nothing of theirs goes out until staff approve it." }),
    error,
    scroller("Requests for review", h("table", { class: "cards", id: "review" },
      h("caption", { class: "muted", text: result.count > 100 ? `Oldest 100 of ${result.count}` : plural(result.count, "request") }),
      h("thead", {}, headerRow("Subject", "For", "Asked by", "Asks to", "Reaches", "")),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted", text: "Nothing waits for review." }))))));
}
