// Light progressive enhancement: every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // Ask before a change that is hard to undo: <button data-confirm="Точно закрыть?">.
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
  // On a phone the filters start folded, so that the list is on the first screen.
  if (window.matchMedia("(max-width: 640px)").matches) {
    document.querySelectorAll("details.filters-fold").forEach((el) => { el.open = false; });
  }
  // Filters apply as soon as a select changes: <form data-autosubmit>.
  document.querySelectorAll("form[data-autosubmit] select").forEach((el) => {
    el.addEventListener("change", () => el.form.requestSubmit());
  });
});
