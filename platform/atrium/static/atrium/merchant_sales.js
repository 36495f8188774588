// The merchant portal's sales screen: a websocket to /ws/merchant/ (which only hears this
// merchant's events) inserts each new sale's row, split lines included, at the top of the list
// when `sales.sale_recorded` arrives, and redraws a sale's row on `sales.sale_refunded`. The row
// is rendered by the server (`row/`), so the live row is the same as after a reload.
(function () {
  "use strict";
  var list = document.getElementById("sales");
  if (!list || !("WebSocket" in window)) return;
  var live = document.querySelector("[data-live-state]");
  var token = "";
  var retryMs = 1000;
  var blank = "00000000-0000-0000-0000-000000000000";

  var getToken = function () {
    return fetch(list.dataset.tokenUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) { token = data.access_token; });
  };

  var showSale = function (saleId) {
    fetch(list.dataset.rowUrl.replace(blank, saleId), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("ul");
        holder.innerHTML = html.trim(); // our own template, rendered by the server
        var row = holder.firstElementChild;
        if (!row) return;
        var old = list.querySelector('[data-sale-id="' + saleId + '"]');
        if (old) { old.replaceWith(row); return; }
        var empty = list.querySelector("[data-empty]");
        if (empty) empty.remove();
        list.insertBefore(row, list.firstElementChild);
      })
      .catch(function () {});
  };

  var connect = function () {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var host = list.dataset.wsPort ? location.hostname + ":" + list.dataset.wsPort : location.host;
    var socket = new WebSocket(scheme + host + list.dataset.wsPath);
    socket.onopen = function () { socket.send(JSON.stringify({ type: "auth", token: token })); };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "ready") {
        retryMs = 1000;
        if (live) live.dataset.state = "on";
      } else if (data.type === "event" && data.payload && data.payload.sale_id &&
                 (data.topic === "sales.sale_recorded" || data.topic === "sales.sale_refunded")) {
        showSale(data.payload.sale_id);
      }
    };
    socket.onclose = function () {
      if (live) live.dataset.state = "off";
      setTimeout(function () { getToken().then(connect).catch(function () { setTimeout(connect, retryMs); }); }, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
    var keepAlive = setInterval(function () {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      else if (socket.readyState === WebSocket.CLOSED) clearInterval(keepAlive);
    }, 25000);
  };

  getToken().then(connect).catch(function () {});
})();
