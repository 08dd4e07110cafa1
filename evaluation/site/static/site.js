"use strict";
document.querySelectorAll("button[data-details]").forEach(function (button) {
  button.addEventListener("click", function () {
    var open = button.getAttribute("data-details") === "open";
    document.querySelectorAll("details.private").forEach(function (d) { d.open = open; });
  });
});
