// A handful of line icons drawn for TicketDrop (24x24, stroke = currentColor). Decorative:
// every icon sits next to words that say the same thing, so they are hidden from screen readers.
import { svg } from "./dom.js";

const PATHS = {
  clock: ["M12 7v5l3 2", "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z"],
  queue: ["M5 19v-1a4 4 0 0 1 8 0v1", "M9 7a3 3 0 1 0 0 6a3 3 0 1 0 0-6z", "M15 11a2.5 2.5 0 1 0 0-5", "M16 14a4 4 0 0 1 4 4v1"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  pause: ["M9 6v12", "M15 6v12"],
  cross: ["M7 7l10 10", "M17 7L7 17"],
  ticket: ["M4 8a2 2 0 0 0 2-2h12a2 2 0 0 0 2 2v2a2 2 0 0 0 0 4v2a2 2 0 0 0-2 2H6a2 2 0 0 0-2-2v-2a2 2 0 0 0 0-4z", "M14 7v10"],
  hourglass: ["M7 4h10", "M7 20h10", "M8 4c0 5 8 5 8 8s-8 3-8 8", "M16 4c0 5-8 5-8 8s8 3 8 8"],
};

export function icon(name, size = 24) {
  return svg("svg", { viewBox: "0 0 24 24", width: size, height: size, fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false" },
    (PATHS[name] || PATHS.clock).map((d) => svg("path", { d })));
}
