// The fleet console page: polls the gateway and redraws what changed, so staff see a state
// change or a new alert within seconds without reloading. Every text is from the labels the
// page was served with (Chinese or English); data is put in with textContent only.
"use strict";

const POLL_MS = 2000;
const SLOW_POLL_MS = 10000;
const L = JSON.parse(document.getElementById("labels").textContent);
const CSRF = document.querySelector('meta[name="csrf"]').content;
const ROLE = document.body.dataset.role;
const RANK = { viewer: 0, operator: 1, admin: 2 };
const may = (role) => RANK[ROLE] >= RANK[role];

function say(key, values) {
  let text = L[key] || key;
  for (const [k, v] of Object.entries(values || {})) text = text.replace(`{${k}}`, v);
  return text;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function ago(at, now) {
  if (!at) return L.never;
  const s = Math.max(0, Math.round(now - at));
  if (s < 60) return say("ago_s", { n: s });
  if (s < 3600) return say("ago_m", { n: Math.round(s / 60) });
  if (s < 172800) return say("ago_h", { n: Math.round(s / 3600) });
  return say("ago_d", { n: Math.round(s / 86400) });
}

function clock(at) {
  const d = new Date(at * 1000);
  return d.toLocaleString(document.documentElement.lang === "zh" ? "zh-CN" : "en-GB", {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

function duration(hours) {
  if (hours < 1) return say("minutes", { n: Math.max(1, Math.round(hours * 60)) });
  if (hours < 48) return say("hours", { n: Math.round(hours) });
  return say("days", { n: Math.round(hours / 24) });
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) window.location = "/console/login";
  if (!response.ok) throw new Error(`${response.status}`);
  return response.json();
}

// ---------------------------------------------------------------- machines
function consumable(machine, c) {
  const level = c.consumable === "paper" ? say("lines_left", { n: c.left })
    : c.consumable === "bin" ? say("places_left", { n: c.left })
    : say("docs_left", { n: c.left });
  let outlook;
  if (c.left === 0) outlook = L[`${c.consumable}_gone`];
  else if (c.per_hour === null) outlook = L.no_history;
  else if (c.hours_left === null) outlook = L.not_used;
  else {
    const key = c.consumable === "paper" ? "runs_out_in"
      : c.consumable === "bin" ? "fills_in" : "empties_in";
    outlook = say(key, { t: duration(c.hours_left) });
  }
  const item = el("div", { class: `consumable ${c.warn ? "warn" : ""}`, "data-consumable": c.consumable },
    el("strong", {}, L[c.consumable]), " ", level, el("br"), el("small", {}, outlook));
  if (may("operator") && (c.consumable === "paper" || c.consumable === "bin")) {
    const button = el("button", { type: "button", class: "small" }, L[`act_${c.consumable}`]);
    button.addEventListener("click", () =>
      call("POST", `/console/api/kiosks/${machine.id}/replenished`, { consumable: c.consumable })
        .then(refresh));
    item.append(" ", button);
  }
  return item;
}

function actions(machine) {
  const cell = el("td", { class: "actions" });
  if (may("operator")) {
    for (const action of ["out_of_service", "in_service", "send_now", "test_print"]) {
      const button = el("button", { type: "button", "data-action": action }, L[`act_${action}`]);
      button.addEventListener("click", () => {
        if (action === "out_of_service"
          && !window.confirm(say("confirm", { k: machine.id, a: L.act_out_of_service }))) return;
        call("POST", `/console/api/kiosks/${machine.id}/commands`, { action }).then(refresh);
      });
      cell.append(button);
    }
  }
  for (const c of machine.commands) {
    cell.append(el("div", { class: `command command-${c.state}`, "data-command": c.id },
      `${L[`act_${c.action}`]}: ${L[`cmd_${c.state}`] || c.state}`,
      c.result && c.state !== "expired" ? ` (${c.result})` : "", " · ", c.by));
  }
  return cell;
}

function machineRow(m, now) {
  const state = el("td", {},
    el("span", { class: `state state-${m.state}` }, L[m.state]),
    m.state === "offline" ? el("div", {}, `${L.since} ${clock(m.last_contact)}`) : null,
    ...m.causes.map((c) => el("div", { class: "cause" }, c)));
  const devices = el("td", {}, ...m.devices.map((d) =>
    el("div", { class: d.ok ? "device" : "device bad" }, `${d.name}: ${d.ok ? L.device_ok : d.detail}`)));
  const today = el("td", {}, ...["photos", "renewals", "pickups"]
    .filter((k) => m.terminal === "unknown" || m.today[k] > 0
      || (k === "photos" && m.terminal === "photo") || (k === "renewals" && m.terminal === "renewal")
      || (k === "pickups" && m.terminal === "pickup"))
    .map((k) => el("div", {}, `${L[k]} ${m.today[k]}`)));
  const slots = Object.entries(m.slots).map(([s, n]) => `${s}:${n}`).join(" ");
  const consumables = el("td", {}, ...m.consumables.map((c) => consumable(m, c)),
    slots ? el("small", { class: "slots" }, slots) : null);
  const backlog = el("td", {}, m.backlog === null ? "-" : String(m.backlog),
    m.failed ? el("div", { class: "bad" }, `${L.failed} ${m.failed}`) : null);
  return el("tr", { id: `machine-${m.id}`, "data-state": m.state },
    el("td", {}, el("strong", {}, m.id), el("div", {}, L[`terminal_${m.terminal}`]),
      el("small", {}, m.hall)),
    state, el("td", {}, ago(m.last_contact, now)), backlog, devices, today, consumables,
    actions(m));
}

const drawn = new Map(); // machine id -> what its row shows, to redraw only what changed

function drawFleet(data) {
  const body = document.querySelector("#fleet tbody");
  const seen = new Set();
  data.machines.forEach((m, i) => {
    seen.add(m.id);
    const key = JSON.stringify([m, ago(m.last_contact, data.now)]);
    const old = document.getElementById(`machine-${m.id}`);
    if (old && drawn.get(m.id) === key) return;
    const row = machineRow(m, data.now);
    if (old) old.replaceWith(row);
    else body.insertBefore(row, body.children[i] || null);
    drawn.set(m.id, key);
  });
  for (const row of [...body.children]) {
    if (!seen.has(row.id.replace("machine-", ""))) row.remove();
  }
}

// ------------------------------------------------------------------ alerts
function alertItem(a, withAck) {
  const item = el("li", { id: `${withAck ? "alert" : "history"}-${a.id}`, class: a.acked_by ? "acked" : "open" },
    el("span", { class: "when" }, clock(a.received_at)), " ",
    el("strong", {}, a.kiosk_id), " ", el("span", { class: "words" }, a.words),
    el("div", {}, el("small", {}, a.message)));
  if (a.acked_by) item.append(el("div", { class: "ack" }, say("acked_by", { u: a.acked_by, n: a.note })));
  if (withAck && may("operator")) {
    const note = el("input", { type: "text", maxLength: 500, placeholder: L.ack_note, class: "note" });
    const button = el("button", { type: "button", class: "ack-button" }, L.ack);
    button.addEventListener("click", () => {
      if (!note.value.trim()) { note.focus(); return; }
      call("POST", `/console/api/alerts/${a.id}/ack`, { note: note.value.trim() })
        .then(() => { item.remove(); refreshSlow(); });
    });
    item.append(el("div", { class: "ack-form" }, note, button));
  }
  return item;
}

function drawAlerts(list) {
  const box = document.getElementById("alerts");
  const ids = new Set(list.map((a) => `alert-${a.id}`));
  for (const item of [...box.children]) if (!ids.has(item.id)) item.remove();
  list.forEach((a, i) => {
    if (!document.getElementById(`alert-${a.id}`)) {
      box.insertBefore(alertItem(a, true), box.children[i] || null);
    }
  });
  document.getElementById("alerts-section").classList.toggle("quiet", list.length === 0);
  if (!list.length && !box.dataset.empty) box.dataset.empty = L.no_alerts;
}

function drawRound(round) {
  const box = document.getElementById("round");
  box.replaceChildren();
  const halls = Object.entries(round);
  if (!halls.length) { box.append(el("p", {}, L.nothing_to_bring)); return; }
  for (const [hall, r] of halls) {
    const parts = [];
    if (r.paper_rolls) parts.push(say("bring_paper", { n: r.paper_rolls }));
    if (r.bins) parts.push(say("bring_bins", { n: r.bins }));
    if (r.stock) parts.push(say("bring_stock", { n: r.stock }));
    const items = el("ul", {}, ...r.items.map((i) => el("li", {},
      `${i.kiosk_id}: ${L[i.consumable]}`,
      i.left === 0 ? ` (${L[`${i.consumable}_gone`]})`
        : i.hours_left === null ? "" : ` (${duration(i.hours_left)})`)));
    box.append(el("div", { class: "hall" }, el("h3", {}, hall), el("p", {}, parts.join("；")), items));
  }
}

async function refresh() {
  try {
    const response = await fetch("/console/api/fleet", { credentials: "same-origin" });
    if (response.status === 401) { window.location = "/console/login"; return; }
    if (!response.ok) throw new Error(`${response.status}`);
    const data = await response.json();
    drawFleet(data);
    drawAlerts(data.alerts);
    drawRound(data.round);
    document.getElementById("updated").textContent = say("updated", { t: clock(data.now) });
    document.getElementById("connection").classList.add("hidden");
  } catch (err) {
    document.getElementById("connection").classList.remove("hidden");
  }
}

async function refreshSlow() {
  try {
    const history = await call("GET", "/console/api/alerts");
    document.getElementById("history").replaceChildren(...history.slice(0, 100).map((a) => alertItem(a, false)));
    const audit = await call("GET", "/console/api/audit");
    document.querySelector("#audit tbody").replaceChildren(...audit.slice(0, 100).map((r) =>
      el("tr", {}, el("td", {}, clock(r.at)), el("td", {}, r.username), el("td", {}, r.action),
        el("td", {}, r.kiosk_id || ""), el("td", {}, r.result))));
  } catch (err) { /* the fast poll shows the connection state */ }
}

document.getElementById("sign-out").addEventListener("click", () =>
  call("POST", "/console/logout").finally(() => { window.location = "/console/login"; }));
document.getElementById("settings").addEventListener("submit", (event) => {
  event.preventDefault();
  call("PUT", "/console/api/settings", { lead_h: Number(document.getElementById("lead-h").value) })
    .then(refresh);
});
if (!may("admin")) document.getElementById("settings").remove();
document.getElementById("me").textContent = say("signed_in_as", {
  u: document.getElementById("me").textContent, r: L[`role_${ROLE}`],
});

refresh();
refreshSlow();
setInterval(refresh, POLL_MS);
setInterval(refreshSlow, SLOW_POLL_MS);
