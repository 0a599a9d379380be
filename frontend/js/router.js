// Hash routing (#/events/<id>): the server serves one page per audience and needs no routes
// for screens. Each view gets a context whose `signal` aborts and whose `onLeave` callbacks run
// when the reader navigates away, so pollers and timers never outlive their screen.

/**
 * routes: [[/^\/events\/([^/]+)$/, view], ...]; view(root, ctx) may be async.
 * ctx = {params, signal, onLeave(fn), alive()}.
 */
export function startRouter(routes, outlet, { title = "TicketDrop", nav } = {}) {
  let current = null;

  async function render() {
    // Only "#/..." is a route. Another fragment (#main from the skip link with scripts slow to
    // load, or a bookmark) must not replace the screen with "Page not found".
    if (current && location.hash && !location.hash.startsWith("#/")) return;
    let path;
    try {
      path = location.hash.startsWith("#/") ? decodeURI(location.hash.slice(1)) : "/";
    } catch {
      path = "/not-found"; // a malformed %-escape
    }
    if (current) {
      current.controller.abort();
      current.leave.forEach((fn) => { try { fn(); } catch { /* a cleanup must not stop the others */ } });
    }
    const controller = new AbortController();
    const leave = [];
    current = { controller, leave };
    const ctx = {
      path,
      params: [],
      signal: controller.signal,
      onLeave: (fn) => leave.push(fn),
      alive: () => !controller.signal.aborted,
    };
    // Each screen renders into its own element: a slow view that finishes after the reader
    // has moved on writes into a detached node, never over the next screen.
    const root = document.createElement("div");
    root.className = "view";
    outlet.replaceChildren(root);
    const match = routes.find(([pattern]) => pattern.test(path));
    const [pattern, view] = match || routes[routes.length - 1];
    ctx.params = (path.match(pattern) || []).slice(1).map(decodeURIComponent);
    markNav(nav, path);
    try {
      await view(root, ctx);
    } catch (err) {
      if (err?.name !== "AbortError") console.error(err);
    }
    if (!ctx.alive()) return;
    // Move focus to the new screen's heading so keyboard and screen-reader users start there.
    const heading = root.querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      document.title = `${heading.textContent} · ${title}`;
      if (render.count++ > 0) heading.focus({ preventScroll: false });
    }
  }
  render.count = 0;

  window.addEventListener("hashchange", render);
  render();
  return { refresh: render };
}

function markNav(nav, path) {
  if (!nav) return;
  for (const a of nav.querySelectorAll("a[href^='#']")) {
    const target = a.getAttribute("href").slice(1);
    const active = target === "/" ? path === "/" || path.startsWith("/events") : path.startsWith(target);
    if (active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

/** Navigate to a hash route. */
export function go(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = path;
}
