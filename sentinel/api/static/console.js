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
  // Saved queue filters: named query strings kept in this browser (nothing leaves it).
  const saved = document.getElementById("saved-filters");
  if (saved) {
    const key = "sentinel.savedFilters";
    const read = () => {
      try {
        const value = JSON.parse(localStorage.getItem(key) || "[]");
        return Array.isArray(value) ? value : [];
      } catch {
        return [];
      }
    };
    const list = document.getElementById("saved-list");
    const draw = () => {
      list.replaceChildren();
      for (const [i, item] of read().entries()) {
        const link = document.createElement("a");
        link.className = "saved-filter";
        link.href = "/console/alerts?" + new URLSearchParams(item.query).toString();
        link.textContent = item.name;
        const drop = document.createElement("button");
        drop.type = "button";
        drop.className = "link";
        drop.title = saved.dataset.labelRemove;
        drop.textContent = "✕";
        drop.addEventListener("click", () => {
          const items = read();
          items.splice(i, 1);
          localStorage.setItem(key, JSON.stringify(items));
          draw();
        });
        list.append(link, drop, " ");
      }
    };
    const nameInput = document.getElementById("saved-name");
    document.getElementById("save-filter").addEventListener("click", () => {
      const name = nameInput.value.trim();
      if (!name) {
        nameInput.focus();
        return;
      }
      nameInput.value = "";
      const query = new URLSearchParams(window.location.search);
      for (const drop of ["done", "page", "lang"]) query.delete(drop);
      const items = read().filter((item) => item.name !== name);
      items.push({ name: name.slice(0, 60), query: query.toString() });
      localStorage.setItem(key, JSON.stringify(items));
      draw();
    });
    // Auto-refresh every minute, remembered in this browser; skipped while alerts are selected or a field is in use.
    const auto = document.getElementById("auto-refresh");
    auto.checked = localStorage.getItem("sentinel.autoRefresh") === "1";
    auto.addEventListener("change", () => localStorage.setItem("sentinel.autoRefresh", auto.checked ? "1" : "0"));
    window.setInterval(() => {
      const active = document.activeElement;
      const typing = active && active !== auto && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName);
      const busy = typing || document.querySelector("input.sel:checked");
      if (auto.checked && !busy) window.location.reload();
    }, 60000);
    saved.hidden = false; // the feature needs this script: without it the row stays hidden
    draw();
  }
});
