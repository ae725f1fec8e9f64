// @ts-check
// What happened to an object, from the audit trail, in one line of words.

import { api } from "./api.js";
import { when } from "./dom.js";

const DONE = {
  "message.create": "created", "message.update": "edited", "message.schedule": "scheduled",
  "message.send": "sent", "message.pause": "paused", "message.resume": "resumed",
  "message.cancel": "stopped", "message.retry-failed": "retried", "message.test-send": "test sent",
  "template.create": "created", "template.update": "edited",
};

/** "Created by Ada Ng at 10:02 · sent by Bo Olsen at 10:03" into `line`; nothing for
 * support staff, who do not read the audit trail. */
export async function drawHistory(uuid, line) {
  let entries;
  let total;
  try {
    const found = await api("GET", `/api/audit/?object=${uuid}&o=created&page_size=100`);
    entries = found.data;
    total = found.count;
  } catch (err) {
    return;
  }
  const said = entries.filter((e) => DONE[e.action]).map((e) =>
    `${DONE[e.action]} by ${e.user.full_name || e.user.email || "the operator"} at ${when(e.created)}`);
  if (!said.length) return;
  said[0] = said[0][0].toUpperCase() + said[0].slice(1);
  // The first 100 changes; past that, say how many more the audit trail holds.
  if (total > entries.length) said.push(`${total - entries.length} later changes in the audit trail`);
  line.textContent = said.join(" · ");
}
