// Operator sign-in: the admin token lives in sessionStorage (gone when the tab closes) and is
// checked against the API before it is kept. A 401/403 later signs the operator out.
import { ApiError, request } from "../api.js";
import { h } from "../dom.js";
import { adminToken, setAdminToken } from "../identity.js";
import { busyAction, field } from "../ui.js";

/** Admin API call: Authorization header, no X-User-Id. Returns {status, data, location}. */
export async function admin(path, opts = {}) {
  try {
    return await request(path, { ...opts, admin: true, user: false });
  } catch (err) {
    // Only a refused token signs out: a 403 about something else (a forged ticket) does not.
    const tokenRefused = err instanceof ApiError && (err.status === 401
      || (err.status === 403 && err.fieldErrors.some((e) => e.field === "header.Authorization")));
    if (tokenRefused) {
      setAdminToken(null);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    }
    throw err;
  }
}

export const aget = async (path, opts) => (await admin(path, opts)).data;

/** Wrap a view so it shows the sign-in form until a token is kept. */
export function guard(view) {
  return (root, ctx) => {
    const signedIn = Boolean(adminToken());
    document.getElementById("nav").hidden = !signedIn;
    return signedIn ? view(root, ctx) : signInView(root, ctx);
  };
}

function signInView(root) {
  const input = h("input", { type: "password", name: "token", autocomplete: "current-password", required: true, id: "admin-token" });
  const errors = h("div");
  const submit = h("button", { class: "button button-block", type: "submit" }, "Sign in");
  const form = h("form", { class: "card signin" },
    h("h1", {}, "Operator sign-in"),
    h("p", { class: "muted" }, "Paste the admin token (ADMIN_TOKEN). It is kept in this tab only."),
    field("Admin token", input),
    errors,
    submit);
  form.addEventListener("submit", busyAction(submit, async () => {
    const token = input.value.trim();
    if (!token) throw new Error("Enter the admin token.");
    setAdminToken(token);
    try {
      await request("/admin/events", { admin: true, user: false });
    } catch (err) {
      setAdminToken(null);
      throw err.status === 403 ? new Error("That admin token is not right.") : err;
    }
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  }, { errorSlot: errors, busyLabel: "Checking…", errorTitle: "Could not sign in" }));
  root.append(form);
  setTimeout(() => input.focus(), 0);
}
