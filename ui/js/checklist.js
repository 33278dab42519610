// The first-run checklist: Import keys (or add one) -> Connect an agent -> See its first call.
// Each step ticks itself from the vault's state and links to the view that does it; the list
// stays until the person hides it.

import * as api from "./api.js";
import { el } from "./dom.js";
import { go } from "./nav.js";

const STEPS = [
  { id: "keys", done: (c) => c.keys, title: "Import your keys, or add one",
    text: "Keys in agent configs move into the vault; or add a key by hand.",
    actions: [["Import", () => go("import")], ["Add a key", () => go("credentials", { add: "" })]] },
  { id: "agent", done: (c) => c.agent, title: "Connect an agent",
    text: "Its config gets a keygate entry that holds no secret.",
    actions: [["Agents", () => go("agents")]] },
  { id: "call", done: (c) => c.first_call, title: "See its first call",
    text: "Ask the agent to use a tool; the call shows in Activity.",
    actions: [["Activity", () => go("activity")]] },
];

export function renderChecklist(checklist, createdNotice, refresh) {
  const root = document.getElementById("checklist");
  root.hidden = !checklist;
  if (!checklist) {
    root.replaceChildren();
    return;
  }
  const complete = STEPS.every((step) => step.done(checklist));
  const hide = el("button", { type: "button", id: "checklist-dismiss" }, complete ? "Done: hide this" : "Hide this");
  hide.addEventListener("click", async () => {
    hide.disabled = true;
    await api.dismissChecklist().catch(() => { hide.disabled = false; });
    refresh();
  });
  root.replaceChildren(
    el("div", { class: "checklist-head" }, el("h2", {}, complete ? "You are set up" : "Get started"), hide),
    createdNotice ? el("p", { class: "muted", id: "checklist-vault" }, createdNotice) : null,
    el("ol", { class: "steps" }, STEPS.map((step) => {
      const done = step.done(checklist);
      return el("li", { dataset: { step: step.id, done: String(done) } },
        el("span", { class: "tick", "aria-label": done ? "done" : "to do" }, done ? "✓" : ""),
        el("div", {}, el("strong", {}, step.title), el("span", { class: "muted" }, ` ${step.text}`)),
        el("span", { class: "step-actions" }, step.actions.map(([label, action]) =>
          el("button", { type: "button", class: done ? "" : "primary", onclick: action }, label))));
    })));
}
