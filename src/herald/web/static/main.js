// @ts-check
// Herald's staff console: a small page over Herald's public API, nothing else.
// This module routes between the screens (one module each, in screens/).
// Every piece of user-supplied text reaches the page through textContent, never
// innerHTML; a message body is previewed in a sandboxed frame, sanitised first.
// Every action that creates or sends carries an Idempotency-Key and disables its
// button while it runs, so a double click or a retried request never acts twice.

import { SESSION_ENDED, currentSession } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { byId, h, nav, REDRAW, show } from "./dom.js";
import { showBounce, showBounces } from "./screens/bounces.js";
import { showCompose } from "./screens/compose.js";
import { showList } from "./screens/list.js";
import { showMessage } from "./screens/message.js";
import { showReview } from "./screens/review.js";
import { showSignIn, signOut } from "./screens/sign-in.js";
import { showTemplate, showTemplates } from "./screens/templates.js";
import { showDirectoryFooter, showServerNotice } from "./server.js";
import { store } from "./store.js";

// ---- unsaved work ------------------------------------------------------------

window.addEventListener("beforeunload", (event) => {
  if (store.unsaved && store.unsaved()) { event.preventDefault(); event.returnValue = ""; }
});

// ---- routing ------------------------------------------------------------

// The navigation shows the screen you are on (aria-current, and a visible mark).
function markCurrent(hash) {
  const section = hash.startsWith("#/new") ? "#/new" : hash.startsWith("#/templates") ? "#/templates"
    : hash.startsWith("#/bounces") ? "#/bounces" : hash.startsWith("#/review") ? "#/review" : "#/";
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  clearTimeout(store.pollTimer);
  // A new tab or a shared link: the cookie says who is signed in; the address stays.
  if (!store.session.user && !(await currentSession())) return showSignIn();
  nav.hidden = false;
  // A scoped sender (SPEC 9) has no Bounces and reviews nothing; staff review them.
  const scoped = Boolean(store.session.scopes);
  byId("nav-bounces").hidden = scoped;
  byId("nav-review").hidden = scoped;
  showServerNotice();
  showDirectoryFooter();
  const hash = location.hash || "#/";
  store.lastHash = hash;
  store.unsaved = null;
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
    else if ((match = hash.match(/^#\/bounces\/([0-9a-f]{32})$/))) await showBounce(match[1]);
    else if (hash === "#/bounces" || hash.startsWith("#/bounces?")) await showBounces(hash);
    else if (hash === "#/review") await showReview();
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
  if (store.unsaved && store.unsaved() && location.hash !== store.lastHash) {
    const wanted = location.hash;
    history.replaceState(null, "", store.lastHash);
    if (!(await confirmDialog("Leave this page?", "Your changes are not saved. Leave without saving them?", "Leave", true))) return;
    store.unsaved = null;
    location.hash = wanted;
    return;
  }
  route();
});
// Other modules ask for these by event, so that none of them imports this one.
window.addEventListener(REDRAW, () => route());
window.addEventListener(SESSION_ENDED, (event) => signOut(/** @type {CustomEvent<string>} */ (event).detail));
byId("sign-out").addEventListener("click", () => signOut("Signed out.", true));
route();
