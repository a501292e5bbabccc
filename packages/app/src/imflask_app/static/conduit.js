// Niceties only: every page works without this script.
// Favoriting without a reload: the favorite forms are posted with fetch and every
// favorite button of that article on the page (the article page has two) is updated
// from the JSON answer; on anything unexpected, a normal submit.
"use strict";

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-favorite")) return;
  if (!document.body.hasAttribute("data-signed-in")) return; // the server sends you to sign in
  event.preventDefault();
  // One request at a time per form. Not `disabled`: disabling the focused button would
  // drop the keyboard's focus to the page's start.
  if (form.dataset.busy) return;
  form.dataset.busy = "1";
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch", Accept: "application/json" },
      credentials: "same-origin",
    });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || !type.includes("application/json")) throw new Error(String(response.status));
    const answer = await response.json();
    for (const other of document.querySelectorAll("form[data-favorite]")) {
      if (other.dataset.favoriteUrl === form.dataset.favoriteUrl) showFavorite(other, answer);
    }
  } catch {
    form.submit();
  } finally {
    delete form.dataset.busy;
  }
});

function showFavorite(form, { favorited, favoritesCount }) {
  const button = form.querySelector("button");
  form.action = favorited ? form.dataset.unfavoriteUrl : form.dataset.favoriteUrl;
  button.classList.toggle("btn-primary", favorited);
  button.classList.toggle("btn-outline-primary", !favorited);
  if (button.hasAttribute("aria-pressed")) button.setAttribute("aria-pressed", String(favorited));
  button.title = `${favorited ? "Unfavorite" : "Favorite"} this article`;
  const label = button.querySelector(".favorite-label");
  if (label) label.textContent = `${favorited ? "Unfavorite" : "Favorite"} Article`;
  const counter = button.querySelector(".counter");
  counter.textContent = label ? `(${favoritesCount})` : String(favoritesCount);
}
