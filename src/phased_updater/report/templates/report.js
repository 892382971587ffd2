(function () {
  "use strict";
  // Filtering and sorting of the update tables, and opening the update a link points
  // to. The page reads fully without this script; the controls stay hidden then.
  var doc = document;
  var form = doc.getElementById("controls");
  var name = doc.getElementById("f-name");
  var series = doc.getElementById("f-series");
  var state = doc.getElementById("f-state");
  var sort = doc.getElementById("f-sort");
  var summary = doc.getElementById("f-summary");
  var tables = [].slice.call(doc.querySelectorAll("table.updates"));
  var total = 0;

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

  function apply() {
    var text = name.value.trim().toLowerCase();
    var shown = 0;
    tables.forEach(function (table) {
      var bodies = [].slice.call(table.tBodies);
      var visible = 0;
      bodies.sort(compare(sort.value)).forEach(function (body) {
        var match = (!text || body.dataset.source.indexOf(text) !== -1) &&
          (!series.value || body.dataset.series === series.value) &&
          (!state.value || body.dataset.state === state.value);
        body.hidden = !match;
        visible += match ? 1 : 0;
        table.appendChild(body);
      });
      var section = table.closest(".section");
      section.querySelector(".count").textContent = String(visible);
      section.querySelector(".empty").hidden = visible > 0;
      table.hidden = visible === 0;
      shown += visible;
    });
    var filtered = text || series.value || state.value;
    summary.textContent = filtered ? shown + " of " + total + " updates" : "";
    if (state.value === "complete") {
      doc.getElementById("complete").open = true;
    }
    var query = new URLSearchParams();
    if (text) { query.set("q", text); }
    if (series.value) { query.set("series", series.value); }
    if (state.value) { query.set("state", state.value); }
    if (sort.value) { query.set("sort", sort.value); }
    var search = query.toString();
    if (window.history && window.history.replaceState) {
      try {
        window.history.replaceState(null, "", (search ? "?" + search : location.pathname) + location.hash);
      } catch (ignored) {
        // Some browsers refuse replaceState on file: URLs; the filter still works.
      }
    }
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
      name.value = ""; series.value = ""; state.value = "";
      apply();
    }
    var outer = target.closest("details.section");
    if (outer) { outer.open = true; }
    target.querySelector("details.log").open = true;
    target.scrollIntoView();
  }

  var params = new URLSearchParams(location.search);
  name.value = params.get("q") || "";
  choose(series, params.get("series") || "");
  choose(state, params.get("state") || "");
  choose(sort, params.get("sort") || "");
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  window.addEventListener("hashchange", reveal);
  form.hidden = false;
  apply();
  reveal();
  // A marker for the browser test: the script ran to its end without an error.
  doc.documentElement.setAttribute("data-ready", "1");
}());
