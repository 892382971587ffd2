(function () {
  "use strict";
  // Filtering and sorting of the update tables, the copy buttons, the warning that the
  // report is stale, opening the update a link points to, and showing a large
  // report's update pages in place. The page reads fully
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

  // What the filter and the sort go by, read once from each row's own cells (the page
  // does not repeat them in attributes: at 2,000 rows that is some 400 KB).
  function cellText(body, selector) {
    var found = body.querySelector(selector);
    return found ? found.textContent.trim() : "";
  }
  function describe(body, order) {
    var since = body.querySelector("td.when time");
    var source = cellText(body, ".name");
    var version = cellText(body, ".version");
    return {
      order: order,
      source: source,
      series: cellText(body, "td.series"),
      state: body.classList[1] || "",
      percentage: parseInt(cellText(body, ".pct b"), 10) || 0,
      since: since ? since.getAttribute("datetime") : "",
      search: [source, version, body.getAttribute("data-binaries") || ""].join(" ").toLowerCase(),
      changed: body.querySelector(".badge.changed") !== null
    };
  }
  tables.forEach(function (table) {
    [].slice.call(table.tBodies).forEach(function (body, index) {
      body.phasing = describe(body, index);
      total += 1;
    });
  });

  function compare(key) {
    return function (a, b) {
      var x = a.phasing, y = b.phasing;
      if (key === "name") {
        return x.source.localeCompare(y.source) || x.series.localeCompare(y.series);
      }
      if (key === "percentage") {
        return y.percentage - x.percentage || x.order - y.order;
      }
      if (key === "since") {
        return x.since.localeCompare(y.since) || x.order - y.order;
      }
      return x.order - y.order;
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
    var words = name.value.trim().toLowerCase();
    var shown = 0;
    reorder();
    tables.forEach(function (table) {
      var visible = 0;
      [].forEach.call(table.tBodies, function (body) {
        var row = body.phasing;
        var match = (!words || row.search.indexOf(words) !== -1) &&
          (!series.value || row.series === series.value) &&
          (!state.value || row.state === state.value) &&
          (!changed.checked || row.changed);
        if (body.hidden === match) {
          body.hidden = !match;  // only rows whose visibility changes are touched
        }
        visible += match ? 1 : 0;
      });
      var section = table.closest(".section");
      var count = section.querySelector(".count");
      if (count.textContent !== String(visible)) { count.textContent = String(visible); }
      section.querySelector(".empty").hidden = visible > 0;
      table.hidden = visible === 0;
      // A folded section (long stops, completed) opens when a search finds rows in it.
      if ((words || changed.checked) && visible > 0 && section.tagName === "DETAILS") {
        section.open = true;
      }
      shown += visible;
    });
    var filtered = words || series.value || state.value || changed.checked;
    summary.textContent = filtered ? shown + " of " + total + " updates" : "";
    if (state.value === "complete") {
      doc.getElementById("complete").open = true;
    }
    var query = new URLSearchParams();
    if (words) { query.set("q", words); }
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

  // A key typed after a pause is followed at once; keys typed faster than a pass takes
  // (a slow phone, a long page) wait for a pause as long as the last pass took (at
  // most 150 ms), and cost one pass together rather than one each.
  var pending = 0;
  var cost = 0;
  var finished = -Infinity;
  function timed() {
    var started = window.performance.now();
    apply();
    finished = window.performance.now();
    cost = finished - started;
  }
  function soon() {
    if (pending) { window.clearTimeout(pending); pending = 0; }
    if (window.performance.now() - finished > 2 * cost) {
      timed();
      return;
    }
    pending = window.setTimeout(function () { pending = 0; timed(); }, Math.min(150, cost));
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
    target.scrollIntoView();
    if (!expand(target, true)) {
      var log = target.querySelector("details.log");
      if (log) { log.open = true; }
    }
  }

  // A large report's short rows (the package name links to the update's own page):
  // the page is fetched and its whole row, timeline and log shown in place of the
  // short one. From disk the browser fetches nothing, so the link opens the page.
  var served = location.protocol === "http:" || location.protocol === "https:";
  function expand(body, focus) {
    var link = body.querySelector("a.more");
    if (!served || !link || !body.classList.contains("compact")) {
      return false;
    }
    if (body.classList.contains("loading")) {
      return true;
    }
    body.classList.add("loading");
    window.fetch(link.getAttribute("href"), {credentials: "same-origin"}).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    }).then(function (text) {
      var full = new DOMParser().parseFromString(text, "text/html").querySelector("tbody.update");
      if (!full || full.id !== body.id) { throw new Error("not this update's page"); }
      var rows = [].map.call(full.rows, function (row) { return doc.importNode(row, true); });
      body.textContent = "";
      rows.forEach(function (row) { body.appendChild(row); });
      body.classList.remove("loading", "compact");
      body.classList.add("expanded");
      wireCopies(body);
      if (focus) { body.scrollIntoView(); }
    }).catch(function (error) {
      body.classList.remove("loading");
      var cell = link.parentNode;
      var note = cell.querySelector(".error") || cell.appendChild(doc.createElement("p"));
      note.className = "error";
      note.textContent = "Could not show it here (" + error.message + "); the link opens it, " +
        "or reload the report if it is older than this one.";
    });
    return true;
  }
  doc.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.more");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return;
    }
    if (expand(link.closest("tbody.update"), false)) { event.preventDefault(); }
  });

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
  function wireCopies(within) {
    [].forEach.call(within.querySelectorAll("button.copy"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        // What is copied is what the page shows, in the block beside the button.
        var text = button.parentNode.querySelector("pre.lines").textContent;
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
  }
  wireCopies(doc);

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
