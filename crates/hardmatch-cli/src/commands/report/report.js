// hardmatch report: status filter and search over rows that are already in the page.
// Plain DOM, no library, nothing fetched. Rows are only shown or hidden, never built here,
// so a tenant of a hundred thousand users stays a static page with one pass per keystroke.
(() => {
  "use strict";
  const search = document.getElementById("search");
  const boxes = Array.from(document.querySelectorAll("#status-filter input[type=checkbox]"));
  const items = Array.from(document.querySelectorAll("[data-filter]"));
  // Lowercased once, so that a keystroke costs one substring test per row.
  const texts = items.map((item) => item.textContent.toLowerCase());
  const counters = Array.from(document.querySelectorAll("[data-shown-of]"));

  const apply = () => {
    const wanted = new Set(boxes.filter((box) => box.checked).map((box) => box.value));
    const terms = search.value.toLowerCase().split(/\s+/).filter((term) => term !== "");
    const shown = new Map();
    const total = new Map();
    items.forEach((item, position) => {
      const status = item.dataset.status;
      const visible =
        (status === undefined || wanted.has(status)) &&
        terms.every((term) => texts[position].includes(term));
      if (item.hidden === visible) {
        item.hidden = !visible;
      }
      const section = item.dataset.filter;
      total.set(section, (total.get(section) || 0) + 1);
      if (visible) {
        shown.set(section, (shown.get(section) || 0) + 1);
      }
    });
    counters.forEach((counter) => {
      const section = counter.dataset.shownOf;
      counter.textContent = `${shown.get(section) || 0} of ${total.get(section) || 0} shown`;
    });
  };

  search.addEventListener("input", apply);
  boxes.forEach((box) => box.addEventListener("change", apply));
  // A bar of the chart shows that status alone.
  document.querySelectorAll("#status-chart [data-status]").forEach((bar) => {
    bar.addEventListener("click", () => {
      boxes.forEach((box) => {
        box.checked = box.value === bar.dataset.status;
      });
      apply();
    });
  });
  apply();
})();
