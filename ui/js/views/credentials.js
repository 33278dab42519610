// Credentials: name, version, age, policy, due state and rotator; add, rotate (pasted or
// through the rotator), roll back and remove. Values go in through password fields and never
// come back.

import * as api from "../api.js";
import { el, errorBox, submitting, table, when } from "../dom.js";

// The rule the vault applies to names, said where the name is typed.
const NAME_RULE = "1–64 characters: a-z 0-9 _ . - (starting with a letter or digit)";
const NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function createCredentialsView(root) {
  const errors = errorBox();
  errors.node.id = "cred-add-error";
  const listErrors = errorBox();
  const status = el("p", { id: "cred-status", class: "muted confirm", role: "status" });
  const list = el("div", { id: "cred-list" });
  const said = (text) => { status.textContent = text; listErrors.clear(); };
  const form = addForm(errors, (text) => { said(text); return refresh(); });
  const rotate = rotateDialog((text) => { said(text); return refresh(); });
  const remove = removeDialog((text) => { said(text); return refresh(); });
  root.append(
    el("h2", {}, "Credentials"),
    el("p", { class: "muted" }, "API keys live sealed in the vault. Agents never see them: Keygate adds them to each upstream call."),
    status, list, listErrors.node, el("h3", { id: "cred-add-title" }, "Add a credential"), form.node, errors.node, rotate.node, remove.node);

  // Rotate now and Roll back: one click each, said in the status line, errors under the list.
  async function act(work) {
    try {
      said(await work());
      await refresh();
    } catch (error) {
      listErrors.show(error);
    }
  }

  async function refresh() {
    try {
      const credentials = await api.listCredentials();
      listErrors.clear();
      list.replaceChildren(table(
        ["Name", "Version", "Age", "Rotate every", "State", "Rotator", ""],
        credentials.map((c) => row(c, rotate, remove, act)),
        "No credentials yet. Add the first one below."));
    } catch (error) {
      listErrors.show(error);
    }
  }
  // Another view's "Add" (a tool's missing key) or a reminder's "Rotate" lands here.
  function show(detail) {
    if (detail && typeof detail.add === "string") form.prefill(detail.add);
    if (detail && detail.rotate) rotate.open(detail.rotate);
  }
  return { refresh, show };
}

function row(c, rotate, remove, act) {
  const state = c.due ? el("span", { class: "badge due" }, "due")
    : c.due_soon ? el("span", { class: "badge soon" }, "due soon") : el("span", { class: "badge ok" }, "ok");
  const mints = c.rotator && c.rotator !== "manual";
  return el("tr", { dataset: { name: c.name } },
    el("td", {}, el("code", {}, c.name)),
    el("td", {}, `v${c.version}`),
    el("td", { title: `since ${when(c.rotated_at || c.created_at)}` }, `${c.version_age_days} d`),
    el("td", {}, `${c.max_age_days} d`),
    el("td", { title: `due ${when(c.due_at)}` }, state),
    el("td", { class: "rotator" }, rotatorCell(c)),
    el("td", { class: "actions" },
      mints ? el("button", { type: "button", class: "rotate-now primary",
        onclick: () => act(() => rotateNowSaid(c.name)) }, "Rotate now") : null,
      el("button", { type: "button", class: "rotate", onclick: () => rotate.open(c.name) }, mints ? "Paste" : "Rotate"),
      c.has_previous ? el("button", { type: "button", class: "rollback",
        onclick: () => act(() => rollbackSaid(c.name)) }, "Roll back") : null,
      el("button", { type: "button", class: "remove danger", onclick: () => remove.open(c.name) }, "Remove")));
}

// "openai, next 2026-12-01" / "manual" / "-", and an unfinished rotation if one waits.
function rotatorCell(c) {
  if (!c.rotator) return "-";
  const next = c.next_rotation ? `, next ${when(c.next_rotation)}` : c.rotator === "manual" ? "" : ", on demand";
  return el("span", { title: c.in_flight ? "a rotation did not finish: the next run finishes it" : null },
    `${c.rotator}${next}`, c.in_flight ? el("span", { class: "badge soon" }, " unfinished") : null);
}

async function rotateNowSaid(name) {
  const done = await api.rotateNow(name);
  const notes = done.notes.length ? ` Note: ${done.notes.join(" ")}` : "";
  return `Rotated ${done.name} through its rotator: now v${done.version}; the next call uses it.${notes}`;
}

async function rollbackSaid(name) {
  const back = await api.rollbackCredential(name);
  return `Rolled ${back.name} back to v${back.version}; the version it replaced is kept for its grace.`;
}

function addForm(errors, done) {
  const name = el("input", { id: "cred-name", name: "name", autocomplete: "off", spellcheck: "false",
    placeholder: "scavio_api_key", "aria-describedby": "cred-name-rule", title: NAME_RULE });
  const value = el("input", { id: "cred-value", name: "value", type: "password", required: true, autocomplete: "off" });
  const maxAge = el("input", { id: "cred-max-age", name: "max_age_days", type: "number", min: 1, max: 3650, value: 30 });
  const form = el("form", { id: "cred-add-form", class: "grid", novalidate: true },
    el("label", { for: "cred-name" }, "Name"), name,
    el("span"), el("span", { id: "cred-name-rule", class: "muted small" }, NAME_RULE),
    el("label", { for: "cred-value" }, "Value"), value,
    el("label", { for: "cred-max-age" }, "Rotate every (days)"), maxAge,
    el("span"), el("button", { type: "submit", id: "cred-add-submit", class: "primary" }, "Add credential"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, errors, async () => {
      const chosen = name.value.trim();
      if (!NAME_PATTERN.test(chosen)) {
        name.focus();
        throw Object.assign(new Error(`Name ${chosen ? `"${chosen}" ` : ""}does not fit the rule: ${NAME_RULE}.`), { code: "invalid_name" });
      }
      if (!value.value) {
        value.focus();
        throw Object.assign(new Error("Value is empty: paste the API key into Value."), { code: "invalid_value" });
      }
      const added = await api.addCredential(chosen, value.value, Number(maxAge.value) || null);
      form.reset();
      await done(`Added ${added.name} (v${added.version}); agents' calls use it from now on.`);
    });
  });
  return {
    node: form,
    prefill(text) {
      name.value = text;
      errors.clear();
      form.scrollIntoView({ block: "center" });
      (text ? value : name).focus();
    },
  };
}

function rotateDialog(done) {
  const errors = errorBox();
  const title = el("h3", {});
  const value = el("input", { id: "rotate-value", type: "password", required: true, autocomplete: "off" });
  let target = "";
  const form = el("form", { method: "dialog" },
    title, el("label", { for: "rotate-value" }, "New value"), value, errors.node,
    el("div", { class: "buttons" },
      el("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
      el("button", { type: "submit", id: "rotate-submit", class: "primary" }, "Rotate")));
  const dialog = el("dialog", { id: "rotate-dialog" }, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, errors, async () => {
      const rotated = await api.rotateCredential(target, value.value);
      dialog.close();
      await done(`Rotated ${rotated.name}: now v${rotated.version}; the next call uses it.`);
    });
  });
  dialog.addEventListener("close", () => { value.value = ""; errors.clear(); });
  return {
    node: dialog,
    open(name) { target = name; title.textContent = `Rotate ${name}`; dialog.showModal(); value.focus(); },
  };
}

function removeDialog(done) {
  const errors = errorBox();
  const text = el("p", {});
  let target = "";
  const confirm = el("button", { type: "button", id: "remove-confirm", class: "danger" }, "Remove");
  const dialog = el("dialog", { id: "remove-dialog" },
    el("h3", {}, "Remove credential"), text, errors.node,
    el("div", { class: "buttons" }, el("button", { type: "button", onclick: () => dialog.close() }, "Cancel"), confirm));
  confirm.addEventListener("click", async () => {
    try {
      await api.removeCredential(target);
      dialog.close();
      await done(`Removed ${target} and erased its stored versions.`);
    } catch (error) {
      errors.show(error);
    }
  });
  dialog.addEventListener("close", () => errors.clear());
  return {
    node: dialog,
    open(name) {
      target = name;
      text.textContent = `Remove ${name} and erase every stored version? Tools that use it will fail until it is added again.`;
      dialog.showModal();
    },
  };
}
