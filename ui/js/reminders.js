// Reminders, stacked in one place under the header: the server stopped, credentials due for
// rotation, tools held back, plaintext keys in agent configs, notifications unavailable. Each
// points at the button that deals with it; the ones that can wait can be dismissed.

import * as api from "./api.js";
import { el } from "./dom.js";
import { go } from "./nav.js";

// Dismissed for as long as this window is open (they come back if still true next time).
const dismissed = new Set();

export function remindersOf(status) {
  const list = [];
  if (status.server.state === "stopped") {
    list.push({ id: "server", kind: "warn", text: `MCP server stopped: ${status.server.reason}` });
  }
  for (const r of status.reminders) {
    list.push({ id: `rotate:${r.credential}`, kind: r.overdue ? "warn" : "info", text: r.message, reminder: r.credential,
      action: ["Rotate", () => go("credentials", { rotate: r.credential })] });
  }
  if (status.held_back) {
    const n = status.held_back;
    list.push({ id: "held-back", kind: "warn", text: `${n} tool${n === 1 ? " is" : "s are"} held back from agents until you approve ${n === 1 ? "it" : "them"}.`,
      action: ["Review in Servers", () => go("servers")] });
  }
  if (status.plaintext_keys) {
    const n = status.plaintext_keys;
    list.push({ id: "import", kind: "info", text: `${n} plaintext key${n === 1 ? "" : "s"} in agent configs.`,
      action: ["Secure them in Import", () => go("import")],
      dismiss: () => api.dismissImport() });
  }
  if (status.notifications_unavailable && status.reminders.length) {
    list.push({ id: "notifications", kind: "info", dismiss: async () => {},
      text: "Desktop notifications are not available here, so rotation reminders show only in this window and the tray." });
  }
  return list.filter((r) => !dismissed.has(r.id));
}

export function showNotices(notices, refresh = () => {}) {
  document.getElementById("notices").replaceChildren(...notices.map((n) => {
    const close = n.dismiss ? el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", title: "Dismiss" }, "Dismiss") : null;
    close?.addEventListener("click", async () => {
      dismissed.add(n.id);
      await n.dismiss().catch(() => {});
      refresh();
    });
    return el("div", { class: `notice ${n.kind}`, dataset: { notice: n.id || "", ...(n.reminder ? { reminder: n.reminder } : {}) } },
      el("span", { class: "notice-text" }, n.text),
      n.action ? el("button", { type: "button", class: "notice-action", onclick: n.action[1] }, n.action[0]) : null,
      close);
  }));
}
