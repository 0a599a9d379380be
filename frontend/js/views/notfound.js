// Any hash route we do not know.
import { h } from "../dom.js";

export function notFoundView(root) {
  root.append(
    h("h1", {}, "Page not found"),
    h("p", {}, "That address does not lead anywhere. ", h("a", { href: "#/" }, "See all events"), "."),
  );
}
