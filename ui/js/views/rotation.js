// The rotation log, newest first.

import * as api from "../api.js";
import { el, errorBox, table, when } from "../dom.js";

export function createRotationView(root) {
  const errors = errorBox();
  const list = el("div", { id: "rotation-table" });
  root.append(el("h2", {}, "Rotation log"), el("p", { class: "muted" }, "Every credential change, by the app, the CLI or anyone else."), list, errors.node);

  async function refresh() {
    try {
      const log = await api.rotationLog();
      errors.clear();
      const version = (v) => (v === null || v === undefined ? "—" : `v${v}`);
      list.replaceChildren(table(["When", "Credential", "Action", "From", "To", "By"],
        log.map((e) => el("tr", {}, el("td", {}, when(e.at)), el("td", {}, el("code", {}, e.credential)),
          el("td", {}, e.action), el("td", {}, version(e.from_version)), el("td", {}, version(e.to_version)), el("td", {}, e.actor))),
        "Nothing yet: adding a credential starts the log."));
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}
