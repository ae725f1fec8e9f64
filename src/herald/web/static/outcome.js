// @ts-check
// What a message's state and delivery mean to staff: the outcome first.

import { h } from "./dom.js";

// ---- what a message's state means to staff ---------------------------------

// The outcome first: "Sending — 40%", "Sent", "Sent — 2 failed", in a matching colour.
export function outcome(m) {
  // A scoped sender's request for staff review says where it stands (SPEC 9).
  if (m.state !== "SENT" && m.review && m.review.status === "waiting") {
    return { label: "Waiting for review", tone: "SCHEDULED" };
  }
  if (m.state !== "SENT" && m.review && m.review.status === "rejected") {
    return { label: "Rejected", tone: "FAILED" };
  }
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
export function percentSent(d) {
  return d.total ? Math.floor((100 * d.sent) / d.total) : 0;
}

export function badge(m) {
  const { label, tone } = outcome(m);
  return h("span", { class: `badge ${tone}`, text: label });
}
