"""Accessibility checks on the real pages: axe-core (pinned in tests/e2e/package.json and its
lockfile, installed from the npm registry with ``npm ci`` on first use, never fetched by the page)
is evaluated in the page through the DevTools protocol, so the pages' own CSP stays on, and run
for WCAG 2.1 A and AA at a desktop and a phone width. Live-region announcements are recorded by a
MutationObserver so tests can check that each state change is said exactly once.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.conftest import require
from tests.e2e.screens import shot

E2E_DIR = Path(__file__).resolve().parent
AXE_JS = E2E_DIR / "node_modules" / "axe-core" / "axe.min.js"
#: What "accessible" means here: every WCAG 2.0/2.1 level A and AA rule axe has.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: The widths every screen is checked at: a laptop and a small phone (CSS pixels).
WIDTHS = (1280, 360)
#: Seconds npm gets to install the pinned packages.
NPM_TIMEOUT_S = 180

_source: str | None = None


def _install() -> bool:
    if not AXE_JS.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=E2E_DIR, check=True,
                       capture_output=True, timeout=NPM_TIMEOUT_S)
    return AXE_JS.exists()


def axe_source() -> str:
    """axe-core's script, installed from the lockfile if missing (skips locally, fails on CI)."""
    global _source
    if _source is None:
        require("axe-core (npm ci in tests/e2e)", _install)
        _source = AXE_JS.read_text()
    return _source


def _inject(page) -> None:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # An expression evaluated by the DevTools protocol: not an inline <script>, so the page's
        # Content-Security-Policy (script-src 'self') does not have to be loosened for the test.
        page.evaluate(axe_source() + "\n;true")


def violations(page) -> list[dict]:
    """axe's WCAG 2.1 A/AA violations on the page as it is now."""
    _inject(page)
    result = page.evaluate("""tags => axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
        .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(" "), summary: n.failureSummary}))})))""", WCAG_TAGS)
    return result


#: Texts whose contrast axe could not work out: it reports them as "incomplete", never as a
#: violation. Text on a gradient (the header, the room's phases) is measured here against every
#: colour of the gradient, with any see-through layers in between blended on, and a chart's
#: labels (text inside an SVG image) against what is behind them. Text axe took as overlapped by
#: another element is returned unmeasured (inline SVG art once hid every text on the events list
#: that way). Axe's other doubts are left to it: a single character ("0": icon or digit?), text
#: near a decorative ::before, text partly scrolled out of a table on a phone (measured in full
#: at the desktop width).
UNDECIDED_CONTRAST = """() => axe.run(document, {runOnly: ["color-contrast"], resultTypes: ["incomplete"]}).then((r) => {
  const rgba = (c) => { const v = (c.match(/[\\d.]+/g) || []).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const over = (top, under) => top.slice(0, 3).map((t, i) => t * top[3] + under[i] * (1 - top[3])).concat(1);
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const out = [];
  for (const node of r.incomplete.flatMap((v) => v.nodes)) {
    const data = node.any.map((c) => c.data).find(Boolean) || {};
    const el = document.querySelector(node.target[0]);
    const where = node.target.join(" ");
    if (data.messageKey === "bgOverlap") { out.push(`${where}: overlapped by another element, contrast not measurable`); continue; }
    // On a gradient, or a chart's label (text inside an SVG image): measured here.
    if (!el || !["bgGradient", "imgNode"].includes(data.messageKey)) continue;
    const layers = [];
    let stops = null;
    for (let e = el; e && !stops; e = e.parentElement) {
      const cs = getComputedStyle(e);
      const bg = rgba(cs.backgroundColor);
      if (/gradient/.test(cs.backgroundImage)) stops = (cs.backgroundImage.match(/rgba?\\([^)]*\\)/g) || []).map(rgba);
      else if (bg[3] === 1) stops = [bg];
      else if (bg[3] > 0) layers.push(bg);
    }
    if (!stops || !stops.length) { out.push(`${where}: nothing opaque found behind it`); continue; }
    const fg = rgba(el instanceof SVGElement ? getComputedStyle(el).fill : getComputedStyle(el).color);
    const needed = parseFloat(data.expectedContrastRatio) || 4.5;
    const worst = Math.min(...stops.map((stop) => ratio(over(fg, layers.reduceRight((under, layer) => over(layer, under), stop)),
                                                       layers.reduceRight((under, layer) => over(layer, under), stop))));
    if (worst < needed) out.push(`${where}: ${worst.toFixed(2)}:1 on its background, needs ${needed}:1`);
  }
  return out;
})"""


def undecided_contrast(page) -> list[str]:
    """Texts whose contrast fails on their gradient, or which axe could not measure at all."""
    _inject(page)
    return page.evaluate(UNDECIDED_CONTRAST)


def _settle(page) -> None:
    # Two animation frames: layout, ResizeObservers and their attribute changes have run.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def check_screen(page, name: str, *, screenshot: bool = True) -> None:
    """Fail on any WCAG 2.1 A/AA violation at each of WIDTHS; then save the screenshot ``name``
    at the page's own size."""
    size = page.viewport_size
    found = {}
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": size["height"]})
            _settle(page)
            problems = violations(page)
            undecided = undecided_contrast(page)
            if problems or undecided:
                found[width] = problems + ([{"id": "color-contrast (undecided by axe)", "nodes": undecided}] if undecided else [])
    finally:
        page.set_viewport_size(size)
        _settle(page)
    assert not found, f"axe found WCAG 2.1 A/AA violations on the {name!r} screen ({page.url}):\n" + json.dumps(found, indent=1)
    if screenshot:
        shot(page, name)


# -- announcements --------------------------------------------------------------------------

#: Records what screen readers would be told: text added inside a live region that was already
#: in the page (aria-live, role=status/alert/log, <output>), and role=alert boxes inserted anew.
RECORDER = """() => {
  if (window.__said) return;
  window.__said = [];
  const LIVE = '[aria-live]:not([aria-live="off"]), [role="status"], [role="alert"], [role="log"], output';
  // What a screen reader reads of a node: its text, less anything aria-hidden, blocks apart.
  const spoken = (n) => {
    if (n.nodeType === 3) return n.data;
    if (n.nodeType !== 1 || n.getAttribute("aria-hidden") === "true") return "";
    const text = [...n.childNodes].map(spoken).join("");
    return getComputedStyle(n).display.startsWith("inline") ? text : ` ${text} `;
  };
  const say = (region, node) => {
    const text = spoken(node).replace(/\\s+/g, " ").trim();
    if (text) window.__said.push({text, region: region.id || region.getAttribute("role") || region.tagName.toLowerCase(), t: performance.now()});
  };
  new MutationObserver((records) => {
    for (const m of records) {
      const target = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      const region = target && target.closest(LIVE);
      if (region && region.isConnected) {
        if (m.type === "characterData") say(region, region);
        else for (const n of m.addedNodes) say(region, n);
        continue;
      }
      for (const n of m.addedNodes) {
        if (n.nodeType !== 1) continue;
        const alerts = n.matches('[role="alert"]') ? [n] : [...n.querySelectorAll('[role="alert"]')];
        alerts.forEach((a) => say(a, a));
      }
    }
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true});
}"""


def record_announcements(page) -> None:
    """Start recording (again after each full page load: the recorder lives in the document)."""
    page.evaluate(RECORDER)


def announcements(page) -> list[str]:
    return [entry["text"] for entry in page.evaluate("() => window.__said || []")]


# -- what axe does not measure ----------------------------------------------------------------

#: The lowest contrast between a form field's edge and the colours on either side of it (WCAG
#: 1.4.11 asks 3:1 for the visual boundary of a control; axe checks text only).
FIELD_EDGE_CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const behind = (el) => { for (let e = el.parentElement; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor; if (!/rgba\\(.*, 0\\)|transparent/.test(bg)) return bg; } return "rgb(255, 255, 255)"; };
  const fields = [...document.querySelectorAll('input:not([type=radio]):not([type=checkbox]):not([type=hidden]), select, textarea')];
  return fields.map((f) => { const s = getComputedStyle(f);
    return Math.min(ratio(s.borderTopColor, s.backgroundColor), ratio(s.borderTopColor, behind(f))); });
}"""


def lowest_field_edge_contrast(page) -> float:
    ratios = page.evaluate(FIELD_EDGE_CONTRAST)
    assert ratios, f"no form fields on {page.url}"
    return min(ratios)
