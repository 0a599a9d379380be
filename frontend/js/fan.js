// The fan page: events, the waiting room, reserving, paying, tickets.
import { usesBearerToken } from "./api.js";
import { userId } from "./identity.js";
import { startRouter } from "./router.js";
import { mountConnectionIndicator, mountSkipLink } from "./ui.js";
import { eventsView } from "./views/events.js";
import { eventView } from "./views/event.js";
import { roomView } from "./views/room.js";
import { fairnessView } from "./views/fairness.js";
import { reservationView } from "./views/reservation.js";
import { checkoutView } from "./views/checkout.js";
import { ticketsView } from "./views/tickets.js";
import { waitlistView } from "./views/waitlist.js";
import { notFoundView } from "./views/notfound.js";

const ID = "([^/]+)";
const routes = [
  [/^\/?$/, eventsView],
  [/^\/events\/?$/, eventsView],
  [new RegExp(`^/events/${ID}$`), eventView],
  [new RegExp(`^/events/${ID}/room$`), roomView],
  [new RegExp(`^/events/${ID}/fairness$`), fairnessView],
  [new RegExp(`^/reservations/${ID}$`), reservationView],
  [new RegExp(`^/checkout/${ID}$`), checkoutView],
  [/^\/tickets$/, ticketsView],
  [/^\/waitlist$/, waitlistView],
  [/.*/, notFoundView],
];

document.getElementById("who").textContent = usesBearerToken() ? "your signed-in account" : userId();
mountConnectionIndicator(document.getElementById("connection"));
mountSkipLink(document.querySelector(".skip-link"), document.getElementById("main"));
startRouter(routes, document.getElementById("app"), { title: "TicketDrop", nav: document.getElementById("nav") });
