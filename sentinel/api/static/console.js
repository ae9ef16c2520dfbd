// Sentinel console: small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll("input.sel")) box.checked = all.checked;
    });
  }
  // Closing alerts in bulk needs a disposition and a reason; say so before the round trip.
  const bulk = document.getElementById("bulk");
  if (bulk) {
    bulk.addEventListener("submit", (event) => {
      const action = bulk.querySelector("[name=action]").value;
      const reason = bulk.querySelector("[name=reason]").value.trim();
      const disposition = bulk.querySelector("[name=disposition]").value;
      if (action === "close" && (!reason || !disposition)) {
        event.preventDefault();
        bulk.querySelector("[name=reason]").focus();
        bulk.querySelector("[name=reason]").setCustomValidity("disposition + reason");
        bulk.reportValidity();
      }
    });
    bulk.querySelector("[name=reason]").addEventListener("input", (e) => e.target.setCustomValidity(""));
  }
});
