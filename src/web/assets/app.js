// Progressive enhancement of the issues page: new issues and rising counts arrive live from
// the project's event stream (Server-Sent Events; `event: issue` carries an issue as the API
// shows it). Without JavaScript, or without the stream, the page is a plain list.
(function () {
  "use strict";
  var table = document.getElementById("issues");
  if (!table || !window.EventSource || !table.dataset.stream) return;
  var body = table.querySelector("tbody");
  var status = document.getElementById("live-status");
  var source = new EventSource(table.dataset.stream);

  function say(text) { if (status) status.textContent = text; }

  function cell(row, cls) { return row.querySelector("td." + cls); }

  function timeText(iso) {
    var t = document.createElement("time");
    t.dateTime = iso;
    t.title = iso;
    t.textContent = "just now";
    return t;
  }

  function newRow(issue) {
    var tr = document.createElement("tr");
    tr.dataset.id = issue.id;
    tr.className = "fresh";
    var check = document.createElement("input");
    check.type = "checkbox"; check.name = "issue"; check.value = issue.id;
    check.setAttribute("aria-label", "Select " + issue.title);
    var level = document.createElement("span");
    level.className = "level level-" + issue.level; level.textContent = issue.level;
    var link = document.createElement("a");
    link.href = table.dataset.base + "/" + issue.id; link.textContent = issue.title;
    var cells = [check, level, link, null, null, null, null];
    var classes = ["", "", "title", "num count", "", "first", "last"];
    cells.forEach(function (content, i) {
      var td = document.createElement("td");
      if (classes[i]) td.className = classes[i];
      if (content) td.appendChild(content);
      if (i === 2 && issue.culprit) {
        var c = document.createElement("span");
        c.className = "culprit"; c.textContent = issue.culprit;
        td.appendChild(document.createElement("br")); td.appendChild(c);
      }
      tr.appendChild(td);
    });
    cell(tr, "first").appendChild(timeText(issue.first_seen));
    return tr;
  }

  source.addEventListener("issue", function (msg) {
    var issue;
    try { issue = JSON.parse(msg.data); } catch (e) { return; }
    var row = body.querySelector('tr[data-id="' + issue.id + '"]');
    if (issue.status !== table.dataset.status) {
      if (row) row.remove();
      return;
    }
    if (!row) {
      // Only the unfiltered first page, sorted by last seen, takes new rows.
      if (!table.dataset.live) return;
      row = newRow(issue);
      var empty = document.getElementById("no-issues");
      if (empty) empty.remove();
      say("New issue: " + issue.title);
    }
    cell(row, "count").textContent = Number(issue.times_seen).toLocaleString("en-US");
    var last = cell(row, "last");
    last.textContent = "";
    last.appendChild(timeText(issue.last_seen));
    row.classList.add("fresh");
    if (table.dataset.live) body.insertBefore(row, body.firstChild);
  });
  source.onerror = function () { say("Live updates paused; reload to catch up."); };
  source.onopen = function () { say("Live: new issues appear here as they arrive."); };
})();

// Copy buttons (hidden without JavaScript): copy the text of the element they name.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent).then(function () {
        button.textContent = "Copied";
      });
    });
  });
})();
