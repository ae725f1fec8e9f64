// @ts-check
// The broadcasts list: filters, sort and page live in the address.

import { api, onlyFields } from "../api.js";
import { day, h, loading, plural, redraw, show, stale, when } from "../dom.js";
import { badge, outcome } from "../outcome.js";

export const PAGE_SIZES = [10, 20, 50, 100];
export const LIST_FIELDS = ["uuid", "subject", "author_full_name", "state", "created", "send_at", "delivery", "review"];
// ---- the list ------------------------------------------------------------

export function listState() {
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

export function goList(state) {
  const params = new URLSearchParams();
  if (state.state) params.set("state", state.state);
  if (state.delivery) params.set("delivery", state.delivery);
  if (state.subject) params.set("subject", state.subject);
  if (state.o !== "-created") params.set("o", state.o);
  if (state.page > 1) params.set("page", state.page);
  if (state.page_size !== 20) params.set("page_size", state.page_size);
  const hash = `#/${params.toString() ? `?${params}` : ""}`;
  if (location.hash === hash) redraw(); else location.hash = hash;
}

export async function showList() {
  const state = listState();
  const token = loading("broadcasts");
  const params = new URLSearchParams({ page: String(state.page), page_size: String(state.page_size), o: state.o });
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
      h("td", { "data-label": "Send day", class: "nowrap", text: day(m.send_at) || "—" }),
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
