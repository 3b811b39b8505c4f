// hardmatch report: status filter and search over rows that are already in the page.
// Plain DOM, no library, nothing fetched. Rows are only shown or hidden, never built here,
// and each section shows a bounded number of matches at once ("show more" for the next),
// so a tenant of a hundred thousand users stays a page that answers each keystroke.
(() => {
  "use strict";
  const rowsAtOnce = Number(document.body.dataset.rowsAtOnce) || 500;
  const search = document.getElementById("search");
  const boxes = Array.from(document.querySelectorAll("#status-filter input[type=checkbox]"));
  const items = Array.from(document.querySelectorAll("[data-filter]"));
  // Lowercased once, so that a keystroke costs one substring test per row.
  const texts = items.map((item) => item.textContent.toLowerCase());
  const counters = Array.from(document.querySelectorAll("[data-shown-of]"));
  const moreButtons = Array.from(document.querySelectorAll("button[data-more-of]"));
  // How many matches each section shows; a new filter or search starts over.
  const limits = new Map();

  const add = (map, key) => map.set(key, (map.get(key) || 0) + 1);

  const apply = () => {
    const wanted = new Set(boxes.filter((box) => box.checked).map((box) => box.value));
    const terms = search.value.toLowerCase().split(/\s+/).filter((term) => term !== "");
    const matching = new Map();
    const shown = new Map();
    const total = new Map();
    items.forEach((item, position) => {
      const section = item.dataset.filter;
      const status = item.dataset.status;
      add(total, section);
      const matches =
        (status === undefined || wanted.has(status)) &&
        terms.every((term) => texts[position].includes(term));
      let visible = false;
      if (matches) {
        add(matching, section);
        visible = matching.get(section) <= (limits.get(section) || rowsAtOnce);
      }
      if (visible) {
        add(shown, section);
      }
      if (item.hidden === visible) {
        item.hidden = !visible;
      }
    });
    counters.forEach((counter) => {
      const section = counter.dataset.shownOf;
      counter.textContent = `${shown.get(section) || 0} of ${total.get(section) || 0} shown`;
    });
    moreButtons.forEach((button) => {
      const section = button.dataset.moreOf;
      const rest = (matching.get(section) || 0) - (shown.get(section) || 0);
      button.hidden = rest <= 0;
      button.textContent = `Show ${Math.min(rest, rowsAtOnce)} more of ${rest}`;
    });
  };

  const restart = () => {
    limits.clear();
    apply();
  };
  search.addEventListener("input", restart);
  boxes.forEach((box) => box.addEventListener("change", restart));
  moreButtons.forEach((button) => {
    button.addEventListener("click", () => {
      const section = button.dataset.moreOf;
      limits.set(section, (limits.get(section) || rowsAtOnce) + rowsAtOnce);
      apply();
    });
  });
  // A bar of the chart shows that status alone.
  document.querySelectorAll("#status-chart [data-status]").forEach((bar) => {
    bar.addEventListener("click", () => {
      boxes.forEach((box) => {
        box.checked = box.value === bar.dataset.status;
      });
      restart();
    });
  });
  apply();
})();
