// The Nexum console: plain DOM, no framework, no inline code (the page's
// Content-Security-Policy allows scripts and styles from /ui only). Reads
// the admin API (doc/http_api.md); actions send the bearer token kept in
// sessionStorage (never a cookie).
'use strict';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'nexum.token';
let timers = [];

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? '' : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function showError(message) {
  const p = $('#error');
  p.textContent = message;
  p.hidden = !message;
}

async function getJson(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.detail || ''}`);
  return body;
}

async function postJson(path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY) || '';
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${path}: ${r.status} ${answer.detail || ''}`);
  return answer;
}

// ---- token ----

function showTokenState() {
  $('#token-state').textContent = sessionStorage.getItem(TOKEN_KEY) ? 'token kept for this tab' : 'no token: read only';
}

// ---- overview ----

const samples = [];  // {t, position, commands, relayLag}
const MAX_SAMPLES = 300;  // five minutes at one per second

function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const p of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function drawChart(svg, values) {
  const w = 320, h = 90;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const max = Math.max(1, ...values);
  const ns = 'http://www.w3.org/2000/svg';
  const axis = document.createElementNS(ns, 'text');
  axis.setAttribute('x', '4'); axis.setAttribute('y', '12'); axis.setAttribute('class', 'axis');
  axis.textContent = `max ${Math.round(max * 10) / 10}`;
  svg.appendChild(axis);
  if (values.length < 2) return;
  const step = w / (MAX_SAMPLES - 1);
  const x0 = w - step * (values.length - 1);
  const points = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 4 - (v / max) * (h - 20)).toFixed(1)}`);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('class', 'line');
  svg.appendChild(line);
}

// Horizontal bars per command type: accepted, then rejected, with the
// counts written beside them (the numbers the API has, not a scale).
function drawBars(svg, rows) {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 320, rowH = 14, labelW = 150;
  const h = Math.max(90, 8 + rows.length * rowH);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('height', String(h));
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  if (!rows.length) {
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', '4'); t.setAttribute('y', '14'); t.setAttribute('class', 'axis');
    t.textContent = 'no command handled yet';
    svg.appendChild(t);
    return;
  }
  const max = Math.max(1, ...rows.map((r) => r.accepted + r.rejected));
  const span = w - labelW - 50;
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    const name = document.createElementNS(ns, 'text');
    name.setAttribute('x', '2'); name.setAttribute('y', String(y + 10)); name.setAttribute('class', 'label');
    name.textContent = r.action;
    svg.appendChild(name);
    let x = labelW;
    for (const kind of ['accepted', 'rejected']) {
      const width = (r[kind] / max) * span;
      const bar = document.createElementNS(ns, 'rect');
      bar.setAttribute('x', x.toFixed(1)); bar.setAttribute('y', String(y + 2));
      bar.setAttribute('width', width.toFixed(1)); bar.setAttribute('height', String(rowH - 4));
      bar.setAttribute('class', `bar-${kind}`);
      svg.appendChild(bar);
      x += width;
    }
    const n = document.createElementNS(ns, 'text');
    n.setAttribute('x', (x + 3).toFixed(1)); n.setAttribute('y', String(y + 10)); n.setAttribute('class', 'label');
    n.setAttribute('data-action', r.action);
    n.textContent = `${r.accepted} / ${r.rejected}`;
    svg.appendChild(n);
  });
}

async function refreshOverview() {
  const r = await fetch('/metrics');
  if (!r.ok) throw new Error(`/metrics: ${r.status}`);
  const metrics = parseMetrics(await r.text());
  const one = (name) => (metrics.find((m) => m.name === name) || { value: 0 }).value;
  const outcomes = metrics.filter((m) => m.name === 'nexum_commands_total');
  const sample = {
    t: performance.now() / 1000,
    position: one('nexum_store_last_position'),
    commands: outcomes.reduce((s, m) => s + m.value, 0),
    relayLag: one('nexum_relay_lag_events'),
  };
  samples.push(sample);
  if (samples.length > MAX_SAMPLES) samples.shift();
  const rate = (key) => samples.slice(1).map((s, i) => Math.max(0, (s[key] - samples[i][key]) / Math.max(1e-3, s.t - samples[i].t)));
  const events = rate('position'), commands = rate('commands');
  drawChart($('#chart-events'), events);
  drawChart($('#chart-commands'), commands);
  drawChart($('#chart-relay'), samples.map((s) => s.relayLag));
  $('#now-events').textContent = `now ${events.length ? events[events.length - 1].toFixed(1) : 0}/s`;
  $('#now-commands').textContent = `now ${commands.length ? commands[commands.length - 1].toFixed(1) : 0}/s`;
  $('#now-relay').textContent = `now ${sample.relayLag}`;

  const tbody = $('#outcomes tbody');
  tbody.replaceChildren(...outcomes.map((m) => row([m.labels.outcome, m.value])));
  const byAction = new Map();
  const count = (name, kind) => {
    for (const m of metrics.filter((x) => x.name === name)) {
      const r = byAction.get(m.labels.action) || { action: m.labels.action, accepted: 0, rejected: 0 };
      r[kind] = m.value;
      byAction.set(m.labels.action, r);
    }
  };
  count('nexum_commands_accepted_total', 'accepted');
  count('nexum_commands_rejected_by_action_total', 'rejected');
  const types = [...byAction.values()].sort((a, b) => a.action.localeCompare(b.action));
  drawBars($('#chart-outcomes'), types);
  $('#outcomes-by-type tbody').replaceChildren(...(types.length ? types.map((r) => row([r.action, r.accepted, r.rejected]))
                                                                : [row(['(none yet)', '', ''])]));

  // Per partition of each command topic (Kafka): the probe's last answer and its age.
  const key = (m) => `${m.labels.topic}\u0000${m.labels.partition}`;
  const committed = new Map(metrics.filter((m) => m.name === 'nexum_consumer_partition_committed_offset').map((m) => [key(m), m.value]));
  const high = new Map(metrics.filter((m) => m.name === 'nexum_consumer_partition_high_watermark').map((m) => [key(m), m.value]));
  const parts = metrics.filter((m) => m.name === 'nexum_consumer_partition_lag_messages');
  const missing = metrics.filter((m) => m.name === 'nexum_command_topic_missing' && m.value === 1)
    .map((m) => row([m.labels.topic, 'missing', '', '', '', 'the cluster does not know this topic']));
  const lagRows = parts.map((m) => row([m.labels.topic, m.labels.partition,
                                        committed.get(key(m)) < 0 ? 'none' : committed.get(key(m)),
                                        high.get(key(m)), m.value, m.labels.group]));
  $('#consumer-lag tbody').replaceChildren(...(lagRows.length || missing.length ? [...missing, ...lagRows]
                                                                                 : [row(['(not Kafka, or no answer yet)', '', '', '', '', ''])]));
  const age = metrics.find((m) => m.name === 'nexum_consumer_lag_age_seconds');
  const up = metrics.find((m) => m.name === 'nexum_consumer_lag_up');
  $('#consumer-lag-age').textContent = age ? `as Kafka answered ${age.value.toFixed(1)} s ago${up && up.value === 0 ? ' (Kafka does not answer now)' : ''}` : '';
  $('#store-facts tbody').replaceChildren(
    row(['last position', sample.position]),
    row(['relay checkpoint', one('nexum_relay_checkpoint')]),
    row(['dead letters', one('nexum_dlq_messages_total')]));
}

// ---- streams: the global log, paged on the server, and one stream ----

const log = { from: 1, last: 0, rows: [], tail: false, mode: 'log', stream: '' };
const PAGE = 50;

function logQuery(from, limit) {
  const q = new URLSearchParams({ from: String(from), limit: String(limit) });
  const prefix = $('#log-prefix').value.trim();
  if (prefix) q.set('stream_prefix', prefix);
  const category = $('#log-category').value.trim();
  const type = $('#log-type').value.trim();
  if (category) q.set('category', category);
  if (type) q.set('event_type', type);
  return `/log?${q}`;
}

function eventRow(e) {
  const tr = row([e.global_position, e.stream, e.stream_version, e.event && e.event.event_type, e.topic,
                  e.event && e.event.timestamp]);
  tr.tabIndex = 0;
  tr.dataset.position = e.global_position;
  const show = () => { $('#event-json').textContent = JSON.stringify(e, null, 2); };
  tr.addEventListener('click', show);
  tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') show(); });
  return tr;
}

function renderLog(summary) {
  $('#log-table tbody').replaceChildren(...log.rows.map(eventRow));
  $('#log-summary').textContent = summary;
}

async function loadLogPage(from) {
  log.mode = 'log';
  log.from = Math.max(1, from);
  const page = await getJson(logQuery(log.from, PAGE));
  log.rows = page.events.slice().reverse();  // newest first
  log.last = page.scanned_to;
  $('#log-from').value = String(log.from);
  renderLog(`positions ${log.from}…${log.last} of ${page.last_position}` + (page.count === 0 ? ' (none match)' : ''));
}

// The newest page: where a live tail starts.
async function loadNewestPage() {
  const probe = await getJson(logQuery(1, 1));
  await loadLogPage(Math.max(1, probe.last_position - PAGE + 1));
}

async function tailLog() {
  if (log.mode !== 'log') return;
  const page = await getJson(logQuery(log.last + 1, 200));
  log.last = Math.max(log.last, page.scanned_to);
  if (page.events.length === 0) return;
  for (const e of page.events) log.rows.unshift(e);
  log.rows.length = Math.min(log.rows.length, 500);
  renderLog(`live: up to position ${log.last} of ${page.last_position}`);
}

async function loadStream(id) {
  log.mode = 'stream';
  log.stream = id;
  const page = await getJson(`/streams/${encodeURIComponent(id)}?direction=backward&limit=${PAGE}`);
  log.rows = page.events.map((e) => Object.assign({ stream: id }, e));
  renderLog(`stream ${id}: ${page.count} of ${page.last_version + 1} events, newest first`);
}

// ---- projections ----

const rebuilding = new Set();

async function refreshProjections() {
  const all = (await getJson('/projections')).projections;
  const select = $('#lookup-projection');
  if (select.options.length !== all.length) {
    select.replaceChildren(...all.map((p) => el('option', p.name)));
  }
  $('#projections-table tbody').replaceChildren(...all.map((p) => {
    const total = Math.max(p.last_position, 1);
    const pct = Math.min(100, Math.floor((100 * p.checkpoint) / total));
    const bar = el('progress', null, { max: '100', value: String(pct), 'aria-label': `${p.name} progress` });
    const cell = document.createElement('span');
    cell.append(bar, el('span', ` ${pct}%`, { class: 'pct', 'data-projection': p.name }));
    const button = el('button', 'Rebuild', { type: 'button', 'data-rebuild': p.name });
    button.addEventListener('click', () => rebuild(p.name).catch((e) => showError(e.message)));
    if (rebuilding.has(p.name) && p.state === 'caught_up' && p.checkpoint >= p.last_position) rebuilding.delete(p.name);
    return row([p.name, p.state + (p.error ? `: ${p.error}` : ''), p.checkpoint, p.lag, p.parked, cell, button]);
  }));
}

async function rebuild(name) {
  await postJson(`/projections/${encodeURIComponent(name)}/rebuild`);
  rebuilding.add(name);
  showError('');
  await refreshProjections();
}

// ---- sagas ----

// One instance: its steps in order and its pending deadlines, then the whole record.
function showSaga(i) {
  $('#saga-title').textContent = `${i.saga} ${i.id}: ${i.status}`;
  $('#saga-steps').replaceChildren(...(i.history || []).map((h) =>
    el('li', `${h.time} ${h.input}${h.note ? ` — ${h.note}` : ''}${h.position ? ` @${h.position}` : ''}`)));
  const deadlines = Object.entries(i.deadlines || {});
  $('#saga-deadlines tbody').replaceChildren(...(deadlines.length
    ? deadlines.map(([name, d]) => row([name, d.due, d.caused_by]))
    : [row(['(none pending)', '', ''])]));
  $('#saga-detail').hidden = false;
  $('#saga-json').textContent = JSON.stringify(i, null, 2);
}

async function refreshSagas() {
  const state = $('#sagas-state').value;
  const q = new URLSearchParams({ limit: '100' });
  if (state) q.set('state', state);
  const answer = await getJson(`/sagas?${q}`);
  $('#sagas-summary').replaceChildren(...answer.sagas.map((s) =>
    el('p', `${s.saga}: ${s.instances} instances — active ${s.active}, completed ${s.completed}, rejected ${s.rejected}, ` +
            `failed ${s.failed}; ${s.deadlines} deadlines pending, checkpoint ${s.checkpoint}`)));
  $('#sagas-table tbody').replaceChildren(...answer.instances.map((i) => {
    const history = i.history || [];
    const tr = row([i.saga, i.id, i.status, history.length ? history[history.length - 1].note || history[history.length - 1].input : '',
                    Object.entries(i.deadlines || {}).map(([n, d]) => `${n} ${d.due}`).join(', '), i.updated_at]);
    tr.tabIndex = 0;
    const show = () => { showSaga(i); };
    tr.addEventListener('click', show);
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') show(); });
    return tr;
  }));
}

// ---- dead letters ----

function dlqFrom(d) {
  const s = d.source || {};
  if (!s.topic) return '?';
  return s.partition === null || s.partition === undefined ? s.topic : `${s.topic} [${s.partition}] @${s.offset}`;
}

function describeRedrive(r) {
  const to = r.republished;
  const where = `re-drove ${r.dead_letter} to ${to.topic} [${to.partition}] @${to.offset}`;
  if (r.state === 'accepted' || r.state === 'rejected') {
    const o = r.outcome;
    return `${where}: ${r.state} (${o.action} on ${o.entity_type} ${o.entity_id}, positions ${o.positions.join(', ')})` +
           (o.reason ? `: ${o.reason}` : '');
  }
  if (r.state === 'failed_again') return `${where}: dead-lettered again as ${r.dead_lettered_as}: ${r.error}`;
  return `${where}: sent, no outcome yet`;
}

async function redrive(id) {
  const r = await postJson(`/dlq/${encodeURIComponent(id)}/redrive`);
  showError('');
  $('#dlq-result').textContent = describeRedrive(r);
  await refreshDlq();
}

async function redriveAll() {
  const r = await postJson('/dlq/redrive');
  showError('');
  $('#dlq-result').textContent = `re-drove ${r.redriven} pending dead letter(s): ` +
    (Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ') || 'none');
  await refreshDlq();
}

async function refreshDlq() {
  const status = await getJson('/kafka/status');
  if (status.bus_type !== 'kafka') {  // GET /dlq would answer 409: nothing is kept
    $('#dlq-summary').textContent = `The bus is ${status.bus_type}: dead letters are kept on Kafka only ` +
      '(run nexum serve --bus kafka to list and re-drive them).';
    $('#dlq-table tbody').replaceChildren();
    return;
  }
  const state = $('#dlq-state').value;
  const q = new URLSearchParams({ limit: '200' });
  if (state) q.set('state', state);
  const answer = await getJson(`/dlq?${q}`);
  const c = answer.counts;
  $('#dlq-summary').textContent = `${answer.topic}: ${answer.total} dead letters; of the newest ${answer.read}: ` +
    `pending ${c.pending}, resolved ${c.resolved}, failed again ${c.failed_again}`;
  $('#dlq-table tbody').replaceChildren(...answer.dead_letters.map((d) => {
    const button = el('button', 'Re-drive', { type: 'button', 'data-redrive': d.id, 'aria-label': `re-drive ${d.id}` });
    button.addEventListener('click', (ev) => { ev.stopPropagation(); redrive(d.id).catch((e) => showError(e.message)); });
    const tr = row([d.id, d.state, dlqFrom(d), d.action || '', d.error, button]);
    tr.tabIndex = 0;
    tr.dataset.id = d.id;
    const inspect = () => getJson(`/dlq/${encodeURIComponent(d.id)}`)
      .then((full) => { $('#dlq-json').textContent = JSON.stringify(full, null, 2); })
      .catch((e) => showError(e.message));
    tr.addEventListener('click', inspect);
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') inspect(); });
    return tr;
  }));
}

// ---- pages ----

const pages = {
  overview: { refresh: refreshOverview, every: 1000 },
  streams: { refresh: () => (log.tail ? tailLog() : Promise.resolve()), every: 200, enter: loadNewestPage },
  projections: { refresh: refreshProjections, every: 500 },
  sagas: { refresh: refreshSagas, every: 5000 },
  dlq: { refresh: refreshDlq, every: 5000 },
};

function guarded(fn) {
  return () => Promise.resolve().then(fn).catch((e) => showError(e.message));
}

function show(name) {
  if (!pages[name]) name = 'overview';
  for (const t of timers) clearInterval(t);
  timers = [];
  for (const section of document.querySelectorAll('.page')) section.hidden = section.id !== `page-${name}`;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const page = pages[name];
  showError('');
  guarded(page.enter || page.refresh)();
  timers.push(setInterval(guarded(page.refresh), page.every));
}

document.addEventListener('DOMContentLoaded', () => {
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('#token').value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    $('#token').value = '';
    showTokenState();
  });
  $('#log-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    guarded(() => loadLogPage(Number($('#log-from').value) || 1))();
  });
  $('#log-older').addEventListener('click', guarded(() => loadLogPage(log.from - PAGE)));
  $('#log-newer').addEventListener('click', guarded(() => loadLogPage(log.last + 1)));
  $('#log-tail').addEventListener('change', (ev) => {
    log.tail = ev.target.checked;
    if (log.tail) guarded(loadNewestPage)();
  });
  $('#stream-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('#stream-id').value.trim();
    if (id) guarded(() => loadStream(id))();
  });
  $('#lookup-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('#lookup-projection').value;
    const key = $('#lookup-key').value.trim();
    const path = `/projections/${encodeURIComponent(name)}/${key.split('/').map(encodeURIComponent).join('/')}`;
    getJson(path).then((v) => { $('#lookup-result').textContent = JSON.stringify(v.value, null, 2); })
      .catch((e) => { $('#lookup-result').textContent = e.message; });
  });
  $('#sagas-form').addEventListener('submit', (ev) => { ev.preventDefault(); guarded(refreshSagas)(); });
  $('#dlq-form').addEventListener('submit', (ev) => { ev.preventDefault(); guarded(refreshDlq)(); });
  $('#dlq-redrive-all').addEventListener('click', guarded(redriveAll));
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  showTokenState();
  show(location.hash.slice(1));
});
