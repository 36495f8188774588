// The member app's home: a fresh member code every minute, and points that land live.
// Hand-written on purpose (no library): fetch the next code when this one expires, and keep a
// websocket to /ws/member/ that refreshes the points card, the tier chip and the tier card
// (growth, gap to the next tier) when a `loyalty.points_changed` event arrives. Everything degrades to the server-rendered page without JavaScript.
(function () {
  "use strict";

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      });
  }

  // --- the member code ---------------------------------------------------------------------
  var panel = document.getElementById("member-code");
  if (panel) {
    var countdown = panel.querySelector("[data-code-countdown]");
    var expiresAt = Date.now() + Number(panel.dataset.expiresIn || 60) * 1000;
    var timer = null;

    var tick = function () {
      var left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
      if (countdown) countdown.textContent = "00:" + String(left).padStart(2, "0");
    };

    var refresh = function () {
      getJson(panel.dataset.codeUrl).then(function (data) {
        panel.querySelector("[data-code-qr]").innerHTML = data.qr;
        panel.querySelector("[data-code-barcode]").innerHTML = data.barcode;
        panel.querySelector("[data-code-digits]").textContent = data.code;
        expiresAt = Date.now() + data.expires_in * 1000;
        schedule();
      }).catch(function () {
        expiresAt = Date.now() + 5000; // offline or signed out: try again shortly
        schedule();
      });
    };

    var schedule = function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, Math.max(500, expiresAt - Date.now() + 300));
      tick();
    };

    setInterval(tick, 1000);
    schedule();
    // A phone wakes with a stale code: fetch a fresh one as soon as the page is visible again.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && Date.now() >= expiresAt) refresh();
    });
  }

  // --- live points -------------------------------------------------------------------------
  var card = document.getElementById("points");
  if (!card || !("WebSocket" in window)) return;
  var live = card.querySelector("[data-live-state]");
  var flash = card.querySelector("[data-points-flash]");
  var token = card.dataset.token || "";
  var retryMs = 1000;
  var number = new Intl.NumberFormat(document.documentElement.lang || "zh-Hans");

  var setField = function (name, value) {
    var element = card.querySelector('[data-field="' + name + '"]');
    if (element && typeof value === "number") element.textContent = number.format(value);
  };

  var showDelta = function (points) {
    if (!flash || !points) return;
    flash.textContent = (points > 0 ? "+" : "") + number.format(points);
    flash.hidden = false;
    flash.classList.remove("show");
    void flash.offsetWidth; // restart the animation
    flash.classList.add("show");
  };

  var onPointsChanged = function (payload) {
    setField("balance", payload.balance);
    showDelta(payload.points);
    getJson(card.dataset.summaryUrl).then(function (summary) {
      ["balance", "spendable", "pending", "expiring_soon"].forEach(function (name) {
        setField(name, summary[name]);
      });
      var chip = document.querySelector("[data-tier-chip]");
      if (chip && summary.tier) {
        chip.textContent = summary.tier;
        chip.dataset.rank = String(summary.tier_rank);
      }
      var standing = document.getElementById("standing");
      if (standing && typeof summary.standing_html === "string") {
        standing.innerHTML = summary.standing_html; // our own template, rendered by the server
      }
    }).catch(function () {});
  };

  var connect = function () {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // Production: this host (nginx sends /ws/ to the ASGI server); the demo: the port after HTTP's.
    var host = card.dataset.wsPort ? location.hostname + ":" + card.dataset.wsPort : location.host;
    var socket = new WebSocket(scheme + host + card.dataset.wsPath);
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "auth", token: token }));
    };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "ready") {
        retryMs = 1000;
        if (live) live.dataset.state = "on";
      } else if (data.type === "event" && data.topic === "loyalty.points_changed") {
        onPointsChanged(data.payload || {});
      }
    };
    socket.onclose = function () {
      if (live) live.dataset.state = "off";
      token = ""; // access tokens live 15 minutes: take a fresh one for the next socket
      setTimeout(function () {
        getJson(card.dataset.tokenUrl).then(function (data) {
          token = data.access_token;
          connect();
        }).catch(function () {
          setTimeout(connect, retryMs);
        });
      }, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
    // Proxies close idle sockets: a ping every 25 s keeps this one open.
    var keepAlive = setInterval(function () {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      else if (socket.readyState === WebSocket.CLOSED) clearInterval(keepAlive);
    }, 25000);
  };

  if (token) connect();
  else getJson(card.dataset.tokenUrl).then(function (data) { token = data.access_token; connect(); })
    .catch(function () {});
})();
