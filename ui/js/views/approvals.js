// Approvals: the calls waiting for you right now (a [[tool]] with approve = true, a server's
// tools in its approve list, or a grant created with --approve), with what they would send.
// The agent's call waits until you answer here, in the notification, or with `keygate approve`.
// Everything shown comes from the agent's call, so it goes in as text.

import * as api from "../api.js";
import { el, errorBox, table } from "../dom.js";

export function createApprovalsView(root) {
  const errors = errorBox();
  const list = el("div", { id: "approvals-list" });
  root.append(
    el("h2", {}, "Approvals"),
    el("p", { class: "muted" }, "Calls waiting for you. Nothing is sent until you allow it; no answer within the timeout "
      + "(60 s unless [approvals] timeout_secs says otherwise) is a deny."),
    list, errors.node);

  async function refresh() {
    try {
      const waiting = await api.listApprovals();
      errors.clear();
      list.replaceChildren(table(["Tool", "Agent", "Arguments", "Waiting since", ""], waiting.map((call) => row(call, answer)),
        "No call is waiting for approval."));
    } catch (error) {
      errors.show(error);
    }
  }

  async function answer(id, allow, forTenMinutes) {
    try {
      await api.answerApproval(id, allow, forTenMinutes);
      errors.clear();
    } catch (error) {
      errors.show(error);
    }
    await refresh();
  }

  // A waiting call lasts seconds: look again each second while this view is open.
  setInterval(() => { if (!root.hidden) refresh(); }, 1000);
  return { refresh };
}

function row(call, answer) {
  return el("tr", { dataset: { approval: call.id, tool: call.tool } },
    el("td", {}, el("code", {}, call.tool)),
    el("td", {}, call.grant),
    el("td", {}, el("pre", { class: "arguments" }, call.arguments)),
    el("td", {}, call.waiting_since),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "allow primary", onclick: () => answer(call.id, true, false) }, "Allow"),
      el("button", { type: "button", class: "allow-10m", onclick: () => answer(call.id, true, true) }, "Allow for 10 minutes"),
      el("button", { type: "button", class: "deny danger", onclick: () => answer(call.id, false, false) }, "Deny")));
}
