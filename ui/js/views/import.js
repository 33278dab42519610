// Import: the plaintext keys found in each agent client's config (names only: where a key is,
// never its value), one "Secure these keys" that moves them into the vault and points the
// clients at Keygate, then what happened to each file. Paths, server names and reasons come
// from files on disk, so they go in as text, cut to size.

import * as api from "../api.js";
import { el, errorBox } from "../dom.js";

const RESULT = { rewritten: "secured", unchanged: "nothing to change", failed: "left as it was", not_attempted: "not attempted" };

function cut(text, max) {
  const chars = [...(text || "")];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

export function createImportView(root) {
  const errors = errorBox();
  const status = el("p", { id: "import-status", class: "muted", role: "status" });
  const found = el("div", { id: "import-found" });
  const plan = el("div", { id: "import-plan" });
  const result = el("div", { id: "import-result" });
  const secure = el("button", { type: "button", id: "import-secure", class: "primary" }, "Secure these keys");
  const later = el("button", { type: "button", id: "import-dismiss" }, "Not now");
  const actions = el("p", { class: "actions" }, secure, " ", later);
  root.append(
    el("h2", {}, "Import"),
    el("p", { class: "muted" },
      "Agent configs that hold API keys in plaintext: Secure moves each key into the vault, puts its server behind "
      + "Keygate and rewrites the config to reach it through Keygate with no secret in it. Each file's original is "
      + "sealed in the vault (`keygate import --undo` gives it back). No value is ever shown."),
    status, errors.node, found, plan, actions, result);

  secure.addEventListener("click", async () => {
    secure.disabled = true;
    errors.clear();
    status.textContent = "Securing…";
    try {
      const done = await api.importKeys();
      status.textContent = done.message;
      result.replaceChildren(...resultList(done));
    } catch (error) {
      status.textContent = "";
      errors.show(error);
    } finally {
      secure.disabled = false;
    }
    await refresh();
  });
  later.addEventListener("click", async () => {
    errors.clear();
    try {
      await api.dismissImport();
      status.textContent = "Keygate will not open on Import by itself again; the tray keeps a reminder while keys are in plaintext.";
    } catch (error) {
      errors.show(error);
    }
  });

  async function refresh() {
    try {
      const overview = await api.importOverview();
      errors.clear();
      found.replaceChildren(...clientList(overview.clients, overview.plaintext_keys));
      plan.replaceChildren(...planList(overview));
      actions.hidden = overview.plaintext_keys === 0;
      secure.disabled = Boolean(overview.blocked);
      later.hidden = overview.dismissed;
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}

function clientList(clients, count) {
  const present = clients.filter((c) => c.state !== "absent");
  const summary = count
    ? el("p", { id: "import-count" }, `${count} plaintext key${count === 1 ? "" : "s"} found in agent configs.`)
    : el("p", { id: "import-count", class: "empty" }, "No plaintext key found in the agent configs on this computer.");
  const blocks = present.map((c) => el("div", { class: "import-client", dataset: { client: c.client, state: c.state } },
    el("h3", {}, c.name, " ", el("code", { class: "path", title: c.config }, cut(c.config, 70))),
    c.problem ? el("p", { class: "error" }, cut(c.problem, 300)) : null,
    c.servers.length ? el("ul", {}, c.servers.map((s) => el("li", { dataset: { server: s.name, verdict: s.verdict } },
      el("strong", {}, cut(s.name, 60)), " ",
      el("span", { class: `badge ${s.verdict === "import" ? "due" : s.verdict === "left" ? "soon" : "ok"}` },
        s.verdict === "import" ? "plaintext key" : s.verdict === "left" ? "left as is" : "no key"),
      s.keys.length ? [" in ", el("code", {}, cut(s.keys.join(", "), 120))] : null,
      el("div", { class: "muted" }, cut(s.action, 300)))))
      : el("p", { class: "muted" }, "No MCP servers.")));
  return [summary, ...blocks];
}

function planList(overview) {
  if (overview.blocked) {
    return [el("p", { class: "error", role: "alert", dataset: { code: overview.blocked.code } }, overview.blocked.message)];
  }
  const p = overview.plan;
  if (!p || !overview.plaintext_keys) return [];
  const line = (label, names) => names.length ? el("li", {}, `${label}: `, el("code", {}, cut(names.join(", "), 300))) : null;
  return [el("div", { class: "once" }, el("h3", {}, "Secure will add"),
    el("ul", {}, line("Credentials", p.credentials), line("Servers", p.servers), line("Grants", p.grants),
      p.skipped.map((s) => el("li", { class: "muted" }, `Left out: ${cut(s, 300)}`))))];
}

function resultList(done) {
  const files = done.files.map((f) => el("li", { dataset: { client: f.client, result: f.result } },
    el("strong", {}, f.name), " ", el("code", { class: "path" }, cut(f.config, 70)), ": ",
    el("span", { class: `badge ${f.result === "rewritten" ? "ok" : f.result === "failed" ? "due" : ""}` }, RESULT[f.result] || cut(f.result, 20)),
    f.detail ? el("div", { class: "error" }, cut(f.detail, 300)) : null));
  const leftovers = done.leftovers.map((l) => el("li", { class: "error" },
    `${cut(l.config, 70)} line ${l.line} still holds the value now in credential ${cut(l.credential, 60)}`));
  return [el("h3", {}, "Result"), el("ul", { id: "import-files" }, files),
    leftovers.length ? el("ul", { id: "import-leftovers" }, leftovers) : null].filter(Boolean);
}
