// rehome console: the one script. Every page works without it; it adds confirmations, live
// refresh and the computer type-ahead, in the manner of htmx (requests carry HX-Request and the
// server answers with the fragment alone).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

function fragment(url) {
  return fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" }).then(function (r) {
    if (!r.ok) { throw new Error(r.status); }
    return r.text();
  });
}

// <div data-refresh="/url" data-every="10">: replaced by the server's fragment every N seconds.
function refresh(element) {
  var every = parseInt(element.dataset.every || "10", 10) * 1000;
  window.setTimeout(function () {
    fragment(element.dataset.refresh).then(function (html) {
      var box = document.createElement("div");
      box.innerHTML = html;
      var next = box.firstElementChild;
      if (next && next.id === element.id) {
        element.replaceWith(next);
        refresh(next);
      } else {
        refresh(element);
      }
    }).catch(function () { refresh(element); });
  }, every);
}

// <input data-suggest="/url" list="id">: the datalist is filled from /url?q=typed.
function suggest(input) {
  var list = document.getElementById(input.getAttribute("list"));
  var timer = null;
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      fragment(input.dataset.suggest + "?q=" + encodeURIComponent(input.value)).then(function (html) {
        list.innerHTML = html;
      }).catch(function () {});
    }, 150);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-refresh]").forEach(refresh);
  document.querySelectorAll("input[data-suggest]").forEach(suggest);
});
