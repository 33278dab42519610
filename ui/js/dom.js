// Small DOM and formatting helpers shared by the views. Text always goes in as text nodes,
// never as HTML, so nothing from the vault can inject markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "empty" }, empty);
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

// A view that is a heading, a line of explanation and a table reloaded by `refresh()`:
// `load` fetches the rows' data, `row` turns one into a <tr>.
export function tableView(root, { id, title, intro, headers, empty, load, row }) {
  const errors = errorBox();
  const list = el("div", { id });
  root.append(el("h2", {}, title), el("p", { class: "muted" }, intro), list, errors.node);
  async function refresh() {
    try {
      const items = await load();
      errors.clear();
      list.replaceChildren(table(headers, items.map(row), empty));
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// "in 3 h", "5 min ago": how far `iso` is from now.
export function relative(iso) {
  if (!iso) return "—";
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const past = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min`
    : s < 172800 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(s / 86400)} days`;
  return past ? `${text} ago` : `in ${text}`;
}

export function errorBox() {
  const box = el("p", { class: "error", role: "alert", hidden: true });
  return {
    node: box,
    show(error) { box.textContent = error.message; box.dataset.code = error.code || ""; box.hidden = false; },
    clear() { box.textContent = ""; box.hidden = true; },
  };
}

// Run `action` with the form's button disabled, showing any error in `errors`.
export async function submitting(form, errors, action) {
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  errors.clear();
  try {
    await action();
  } catch (error) {
    errors.show(error);
  } finally {
    if (button) button.disabled = false;
  }
}

// A row button's action, as the Servers and Agents views run them: the button disabled while
// it runs, its message in `status` or its error in `errors`, then the view refreshed.
export function buttonAction(status, errors, refresh) {
  return async (button, action) => {
    button.disabled = true;
    errors.clear();
    try {
      status.textContent = await action();
    } catch (error) {
      errors.show(error);
    } finally {
      button.disabled = false;
    }
    await refresh();
  };
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied;
  }
}
