"use strict";
/* The live view: poll this server's JSON and update the page in place. Every text from a log
   is written with textContent (never as markup). */
(function () {
  var POLL_MS = Number(document.body.getAttribute("data-poll-ms")) || 1000;
  var DEAL_TAG = /(<DEAL>[\s\S]*?<\/DEAL>)/;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function getJSON(url) {
    return fetch(url, { cache: "no-cache", credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function statusClass(status) {
    return "pill " + (status === "complete" ? "ok" : status === "failed" ? "bad" : "");
  }

  function poll(step) {
    var live = document.getElementById("live-status");
    var updated = document.getElementById("live-updated");
    step().then(function () {
      live.textContent = "live";
      live.className = "pill ok";
      updated.textContent = "updated " + new Date().toLocaleTimeString();
    }, function (err) {
      live.textContent = err.message === "HTTP 404" ? "not in the run (yet)"
        : "no connection (" + err.message + ")";
      live.className = "pill bad";
    }).then(function () { setTimeout(function () { poll(step); }, POLL_MS); });
  }

  function showProblems(problems) {
    var list = document.getElementById("problems");
    clear(list);
    (problems || []).forEach(function (p) { list.appendChild(el("li", "", p)); });
    list.hidden = !problems || problems.length === 0;
  }

  function scoreSpan(p) {
    var text = p.name + " " + (p.score === null ? "-" : p.score) + " (" + p.minimum + ")";
    return el("span", p.clears === null ? "pill" : p.clears ? "pill ok" : "pill bad", text);
  }

  function dealCell(s) {
    var cell = el("td");
    if (s.deal === null) { cell.textContent = "-"; return cell; }
    cell.appendChild(el("mark", "deal", s.deal));
    cell.appendChild(el("span", "muted small", " by " + s.deal_by + ", turn " + s.deal_turn));
    return cell;
  }

  function fillRow(row, s) {
    clear(row);
    var link = el("a", "", s.id);
    link.href = "session.html?id=" + encodeURIComponent(s.id);
    row.appendChild(el("td")).appendChild(link);
    row.appendChild(el("td", "num", s.index));
    row.appendChild(el("td")).appendChild(el("span", statusClass(s.status), s.status));
    var turns = row.appendChild(el("td", "num", s.turns + " / " + s.total + " "));
    var bar = turns.appendChild(el("progress"));
    bar.max = s.total;
    bar.value = Math.min(s.turns, s.total);
    row.appendChild(dealCell(s));
    var scores = row.appendChild(el("td", "small"));
    s.parties.forEach(function (p) { scores.appendChild(scoreSpan(p)); scores.append(" "); });
  }

  function renderIndex(state) {
    var body = document.querySelector("#sessions tbody");
    var rows = {};
    Array.prototype.forEach.call(body.rows, function (r) { rows[r.getAttribute("data-id")] = r; });
    var counts = { running: 0, complete: 0, failed: 0 };
    state.sessions.forEach(function (s) {
      counts[s.status] = (counts[s.status] || 0) + 1;
      var row = rows[s.id] || el("tr", "session-row");
      row.setAttribute("data-id", s.id);
      var key = JSON.stringify(s);
      if (row.getAttribute("data-key") !== key) { fillRow(row, s); row.setAttribute("data-key", key); }
      row.setAttribute("data-status", s.status);
      body.appendChild(row);   // keeps the rows in the state's order
      delete rows[s.id];
    });
    Object.keys(rows).forEach(function (id) { body.removeChild(rows[id]); });
    document.getElementById("counts").textContent = state.sessions.length + " session(s): " +
      counts.running + " running, " + counts.complete + " complete, " + counts.failed + " failed";
    showProblems(state.problems);
  }

  function messageNode(text) {
    var pre = el("pre", "msg");
    text.split(DEAL_TAG).forEach(function (part, i) {
      pre.appendChild(i % 2 ? el("mark", "deal", part) : document.createTextNode(part));
    });
    return pre;
  }

  function oracleTable(scores) {
    var table = el("table", "oracle");
    var head = table.appendChild(el("tr"));
    ["party", "score", "minimum", "clears"].forEach(function (h) { head.appendChild(el("th", "", h)); });
    scores.forEach(function (p) {
      var row = table.appendChild(el("tr"));
      row.appendChild(el("td", "", p.name));
      row.appendChild(el("td", "num " + (p.clears ? "ok" : "bad"), p.score));
      row.appendChild(el("td", "num", p.minimum));
      row.appendChild(el("td", p.clears ? "ok" : "bad", p.clears ? "yes" : "no"));
    });
    return table;
  }

  function privateNotes(t, who) {
    var details = el("details", "private");
    details.appendChild(el("summary", "", "Private: scratchpad and plan of " + who));
    if (t.scratchpad) { details.appendChild(el("pre", "private scratchpad", t.scratchpad)); }
    if (t.plan) { details.appendChild(el("pre", "private plan", t.plan)); }
    return details;
  }

  function turnNode(t, colors) {
    var who = t.speaker ? t.party + " (" + t.speaker + ")" : t.party;
    var node = el("article", "turn " + (colors[t.party] || "") + (t.deal ? " has-deal" : ""));
    node.id = "turn-" + t.index;
    var head = node.appendChild(el("header"));
    head.appendChild(el("span", "who", who));
    head.appendChild(el("span", "pill phase", t.phase));
    head.appendChild(el("span", "muted small", "turn " + t.index));
    if (t.vote) { head.appendChild(el("span", t.vote === "ACCEPT" ? "pill ok" : "pill bad", t.vote)); }
    if (t.deal) { head.appendChild(el("span", "pill", "deal " + t.deal)); }
    if (t.format_bad) { head.appendChild(el("span", "pill bad", "format")); }
    node.appendChild(messageNode(t.public));
    if (t.scores.length) { node.appendChild(oracleTable(t.scores)); }
    if (t.scratchpad || t.plan) { node.appendChild(privateNotes(t, who)); }
    return node;
  }

  function renderSummary(s) {
    document.getElementById("session-title").textContent = "Session " + s.id + " (live)";
    var status = document.getElementById("session-status");
    status.textContent = s.status;
    status.className = statusClass(s.status);
    document.getElementById("session-error").textContent = s.error || "";
    document.getElementById("session-turns").textContent = s.turns + " of " + s.total;
    var deal = document.getElementById("session-deal");
    clear(deal);
    deal.appendChild(s.deal === null ? document.createTextNode("none yet") : el("mark", "deal", s.deal));
    if (s.deal !== null) { deal.append(" (" + s.deal_by + ", turn " + s.deal_turn + ")"); }
    var body = document.querySelector("#parties tbody");
    clear(body);
    s.parties.forEach(function (p) {
      var row = body.appendChild(el("tr"));
      row.appendChild(el("td", "", p.name));
      row.appendChild(el("td", "", p.role));
      row.appendChild(el("td", "num", p.minimum));
      var mark = p.clears === null ? "" : p.clears ? "ok" : "bad";
      row.appendChild(el("td", "num " + mark, p.score === null ? "-" : p.score));
      row.appendChild(el("td", mark, p.clears === null ? "-" : p.clears ? "yes" : "no"));
    });
  }

  function sessionPage() {
    var id = new URLSearchParams(window.location.search).get("id") || "";
    var box = document.getElementById("turns");
    var shown = 0;
    return function () {
      var url = "/live/session/" + encodeURIComponent(id) + ".json?since=" + shown;
      return getJSON(url).then(function (data) {
        if (data.count < shown || data.since !== shown) { clear(box); shown = 0; return; }
        var colors = {};
        data.session.parties.forEach(function (p, i) { colors[p.name] = "p" + (i % 10); });
        renderSummary(data.session);
        data.turns.forEach(function (t) { box.appendChild(turnNode(t, colors)); });
        shown = data.count;
        document.getElementById("turn-count").textContent = shown;
      });
    };
  }

  if (document.body.getAttribute("data-page") === "session") {
    poll(sessionPage());
  } else {
    poll(function () { return getJSON("/live/state.json").then(renderIndex); });
  }
}());
