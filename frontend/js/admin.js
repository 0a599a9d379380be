// The operator console: events and tiers, the live dashboard, the ticket scanner.
import { setAdminToken } from "./identity.js";
import { startRouter } from "./router.js";
import { mountConnectionIndicator, mountSkipLink } from "./ui.js";
import { guard } from "./admin/session.js";
import { eventsListView } from "./admin/events.js";
import { newEventView, editEventView } from "./admin/event-edit.js";
import { dashboardView } from "./admin/dashboard.js";
import { scannerView } from "./admin/scanner.js";
import { notFoundView } from "./views/notfound.js";

const ID = "([^/]+)";
const routes = [
  [/^\/?$/, guard(eventsListView)],
  [/^\/new$/, guard(newEventView)],
  [new RegExp(`^/events/${ID}$`), guard(editEventView)],
  [new RegExp(`^/events/${ID}/dashboard$`), guard(dashboardView)],
  [/^\/scanner$/, guard(scannerView)],
  [/.*/, notFoundView],
];

mountConnectionIndicator(document.getElementById("connection"));
mountSkipLink(document.querySelector(".skip-link"), document.getElementById("main"));
const router = startRouter(routes, document.getElementById("app"), { title: "TicketDrop operators", nav: document.getElementById("nav") });
document.getElementById("sign-out").addEventListener("click", () => {
  setAdminToken(null);
  router.refresh();
});
