(function () {
  "use strict";
  // Filtering and sorting of the update tables, the copy buttons, the warning that the
  // report is stale, and opening the update a link points to. The page reads fully
  // without this script; the controls and copy buttons stay hidden then.
  var doc = document;
  var root = doc.documentElement;
  var form = doc.getElementById("controls");
  var name = doc.getElementById("f-name");
  var series = doc.getElementById("f-series");
  var state = doc.getElementById("f-state");
  var sort = doc.getElementById("f-sort");
  var changed = doc.getElementById("f-changed");
  var summary = doc.getElementById("f-summary");
  var tables = [].slice.call(doc.querySelectorAll("table.updates"));
  var total = 0;
  var sorted = "";  // the order the rows are in now: re-appended only when it changes

  tables.forEach(function (table) {
    [].slice.call(table.tBodies).forEach(function (body, index) {
      body.setAttribute("data-order", String(index));
      total += 1;
    });
  });

  function compare(key) {
    return function (a, b) {
      var x = a.dataset, y = b.dataset;
      if (key === "name") {
        return x.source.localeCompare(y.source) || x.series.localeCompare(y.series);
      }
      if (key === "percentage") {
        return Number(y.percentage) - Number(x.percentage) || Number(x.order) - Number(y.order);
      }
      if (key === "since") {
        return x.since.localeCompare(y.since) || Number(x.order) - Number(y.order);
      }
      return Number(x.order) - Number(y.order);
    };
  }

  function reorder() {
    if (sort.value === sorted) {
      return;
    }
    sorted = sort.value;
    tables.forEach(function (table) {
      var bodies = [].slice.call(table.tBodies).sort(compare(sorted));
      var fragment = doc.createDocumentFragment();
      bodies.forEach(function (body) { fragment.appendChild(body); });
      table.appendChild(fragment);
    });
  }

  function apply() {
    var text = name.value.trim().toLowerCase();
    var shown = 0;
    reorder();
    tables.forEach(function (table) {
      var visible = 0;
      [].forEach.call(table.tBodies, function (body) {
        var data = body.dataset;
        var match = (!text || data.search.indexOf(text) !== -1) &&
          (!series.value || data.series === series.value) &&
          (!state.value || data.state === state.value) &&
          (!changed.checked || data.changed === "1");
        if (body.hidden === match) {
          body.hidden = !match;  // only rows whose visibility changes are touched
        }
        visible += match ? 1 : 0;
      });
      var section = table.closest(".section");
      section.querySelector(".count").textContent = String(visible);
      section.querySelector(".empty").hidden = visible > 0;
      table.hidden = visible === 0;
      // A folded section (long stops, completed) opens when a search finds rows in it.
      if ((text || changed.checked) && visible > 0 && section.tagName === "DETAILS") {
        section.open = true;
      }
      shown += visible;
    });
    var filtered = text || series.value || state.value || changed.checked;
    summary.textContent = filtered ? shown + " of " + total + " updates" : "";
    if (state.value === "complete") {
      doc.getElementById("complete").open = true;
    }
    var query = new URLSearchParams();
    if (text) { query.set("q", text); }
    if (series.value) { query.set("series", series.value); }
    if (state.value) { query.set("state", state.value); }
    if (sort.value) { query.set("sort", sort.value); }
    if (changed.checked) { query.set("changed", "1"); }
    var search = query.toString();
    if (window.history && window.history.replaceState) {
      try {
        window.history.replaceState(null, "", (search ? "?" + search : location.pathname) + location.hash);
      } catch (ignored) {
        // Some browsers refuse replaceState on file: URLs; the filter still works.
      }
    }
  }

  // One pass per pause in typing, not one per key: a page of 2,000 rows stays responsive.
  var pending = 0;
  function soon() {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(function () { pending = 0; apply(); }, 120);
  }

  function choose(select, value) {
    if ([].some.call(select.options, function (option) { return option.value === value; })) {
      select.value = value;
    }
  }

  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id && doc.getElementById(id);
    if (!target || !target.classList.contains("update")) {
      return;
    }
    if (target.hidden) {
      name.value = ""; series.value = ""; state.value = ""; changed.checked = false;
      apply();
    }
    var outer = target.closest("details.section");
    if (outer) { outer.open = true; }
    target.querySelector("details.log").open = true;
    target.scrollIntoView();
  }

  // Copy buttons: the clipboard API where the page may use it, else a selection.
  function copied(button, text) {
    button.textContent = "Copied";
    button.setAttribute("data-copied", text);
  }
  function copyBySelection(button, text) {
    var area = doc.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    doc.body.appendChild(area);
    area.select();
    var done = false;
    try { done = doc.execCommand("copy"); } catch (ignored) { done = false; }
    doc.body.removeChild(area);
    if (done) { copied(button, text); } else { button.textContent = "Select and copy"; }
  }
  [].forEach.call(doc.querySelectorAll("button.copy"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, text); },
          function () { copyBySelection(button, text); }
        );
      } else {
        copyBySelection(button, text);
      }
    });
  });

  // A page is written every run: one more than two runs old means runs have stopped,
  // and what it says is due "in 3h" may be long past. Measured with the reader's clock.
  function hours(ms) {
    var h = Math.round(ms / 3600000);
    if (h >= 48) { return Math.round(h / 24) + " days"; }
    return h + " h";
  }
  var generated = Date.parse(root.getAttribute("data-generated") || "");
  var interval = Number(root.getAttribute("data-interval") || "0") * 1000;
  var stale = doc.getElementById("stale");
  if (!isNaN(generated) && interval > 0) {
    var age = Date.now() - generated;
    if (age > 2 * interval) {
      stale.textContent = "This report is " + hours(age - interval) +
        " older than it should be: the timer may have stopped. Its times and forecasts " +
        "are as of " + new Date(generated).toISOString().slice(0, 16).replace("T", " ") + " UTC.";
      stale.hidden = false;
    }
  }

  doc.getElementById("changed-chip").addEventListener("click", function (event) {
    event.preventDefault();
    changed.checked = true;
    apply();
    form.scrollIntoView();
  });

  var params = new URLSearchParams(location.search);
  name.value = params.get("q") || "";
  choose(series, params.get("series") || "");
  choose(state, params.get("state") || "");
  choose(sort, params.get("sort") || "");
  changed.checked = params.get("changed") === "1";
  name.addEventListener("input", soon);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  window.addEventListener("hashchange", reveal);
  form.hidden = false;
  apply();
  reveal();
  // A marker for the browser test: the script ran to its end without an error.
  root.setAttribute("data-ready", "1");
}());
