// Moving between views from anywhere: a checklist step, a reminder or a view's button asks
// for another view by name, with what to do there once it shows, without importing it.

let selectView = () => {};

export function setNavigator(select) {
  selectView = select;
}

// Show the view `name`; `detail` is handed to that view's `show(detail)` if it has one.
export function go(name, detail) {
  selectView(name, detail);
}
