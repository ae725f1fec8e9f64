// @ts-check
// Signing in and out.

import { api, currentSession } from "../api.js";
import { byId, h, nav, redraw, show } from "../dom.js";
import { store } from "../store.js";

// ---- signing in and out -------------------------------------------------

export async function signOut(message, onServer = false) {
  const provider = store.session.logoutUrl;
  if (onServer) {
    try { await api("DELETE", "/api/session/"); } catch (err) { /* ended already */ }
  }
  store.session.csrf = ""; store.session.user = null; store.session.logoutUrl = null;
  if (onServer && provider) {
    // Out of the portal's sign-in too; the provider sends the browser back here.
    location.assign(provider);
    return;
  }
  store.server = null;
  store.unsaved = null;
  byId("notice").hidden = true;
  byId("footer").hidden = true;
  nav.hidden = true;
  showSignIn(message);
}

/** Where a sign-in through the provider lands afterwards: this very screen. */
function providerLink(option) {
  const next = `/${location.hash || ""}`;
  return h("a", { class: "button", id: "sign-in-provider", href: `${option.url}?${new URLSearchParams({ next })}`, text: option.label });
}

export async function showSignIn(message) {
  let options = { oidc: null, token: true };
  try {
    const answer = await fetch("/api/session/sign-in-options/", { credentials: "same-origin" });
    if (answer.ok) options = await answer.json();
  } catch (err) { /* the token form below still works */ }
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert", text: message || "" });
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const button = h("button", { type: "submit", text: "Sign in" });
  const form = h("form", { class: "card narrow", "aria-describedby": "sign-in-error" },
    options.oidc ? h("h2", { text: "Operators: sign in with an API token" }) : null,
    h("label", { for: "token", text: "API token" }),
    h("p", { class: "muted", text: "A staff or support token, made with herald create-staff." }),
    input, options.oidc ? null : error, h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api("POST", "/api/session/", { token: input.value.trim() }, { signingIn: true });
      await currentSession();
      nav.hidden = false;
      input.value = "";
      redraw(); // where the address pointed: a shared link lands where it led
    } catch (err) {
      error.textContent = err.status === 401 ? "That token is not valid." :
        err.status === 403 ? "This account is neither staff nor support, so it cannot use Herald." : err.message;
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  // The portal's own sign-in first, when there is one; the token below it.
  const provider = options.oidc ? h("div", { class: "card narrow" },
    h("p", { text: "Use the account you sign in to the portal with." }),
    error, h("div", { class: "actions" }, providerLink(options.oidc))) : null;
  show("Sign in", h("h1", { text: "Sign in to Herald" }), provider, form);
  if (!provider) input.focus();
}
