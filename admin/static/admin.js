// Light progressive enhancement: every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // Ask before a change that is hard to undo: <button data-confirm="Точно закрыть?">.
  document.querySelectorAll("[data-confirm]").forEach((el) => {
    el.addEventListener("click", (event) => {
      if (!window.confirm(el.dataset.confirm)) event.preventDefault();
    });
  });
  // Filters apply as soon as a select changes: <form data-autosubmit>.
  document.querySelectorAll("form[data-autosubmit] select").forEach((el) => {
    el.addEventListener("change", () => el.form.requestSubmit());
  });
});
