// @ts-check
// The console's only mutable state, in one place: every screen reads and
// writes it here, never through variables of its own module.

export const store = {
  /** The newest screen's number: a screen that lost the race to a newer one does not draw. */
  screenToken: 0,
  /** What GET /api/status/ said, once per sign-in. @type {any} */
  server: null,
  /** Whether the screen holds unsaved work; null on screens without a form. @type {(() => boolean) | null} */
  unsaved: null,
  /** The delivery table's next refresh. @type {ReturnType<typeof setTimeout> | undefined} */
  pollTimer: undefined,
  /** When the status message clears. @type {ReturnType<typeof setTimeout> | undefined} */
  sayTimer: undefined,
  /** The address last routed to, to put back when leaving is cancelled. */
  lastHash: location.hash,
  /** The signed-in session (its cookie is HttpOnly: the page never holds a key).
   * @type {{ csrf: string, user: any, logoutUrl: string | null, scopes: any[] | null }} */
  session: { csrf: "", user: null, logoutUrl: null, scopes: null },
};
