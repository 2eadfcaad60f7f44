// mnemodb's dashboard: plain JavaScript over the server's own routes (the Chroma API v2,
// /metrics, /mnemodb/overview). No framework, no build step; every value shown is set as
// text, never as HTML.
'use strict';

const API = '/api/v2';
const TOKEN_KEY = 'mnemodb.token';
const POLL_MS = 2000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  tokenRequired: false,
  overview: null,
  metrics: null, // {at, counts: Map} of the last scrape, for rates
  page: { key: '', offset: 0 },
  timer: null,
  flash: null, // [message, kind] to show once the next view is drawn
};

const $ = (id) => document.getElementById(id);

class HttpError extends Error {
  constructor(status, body) {
    const message = body && typeof body === 'object' && body.message ? body.message : String(body || '');
    super(message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// One request to the server, with the token if there is one; JSON in and out (text for
// /metrics). Throws HttpError on a status outside 2xx.
async function call(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = text;
  if ((response.headers.get('content-type') || '').startsWith('application/json') && text) {
    data = JSON.parse(text);
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function fill(tbody, rows, columns, emptyText) {
  tbody.replaceChildren(...rows);
  if (!rows.length) {
    tbody.append(el('tr', {}, el('td', { class: 'empty', colspan: String(columns), text: emptyText })));
  }
}

function humanBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u += 1; }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

function meter(fraction, label) {
  const bar = el('span');
  bar.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return el('span', {}, el('span', { class: 'meter' }, bar), label);
}

function short(text, n) {
  if (text === null || text === undefined) return '';
  const s = String(text);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function notice(message, kind) {
  const box = $('notice');
  box.textContent = message;
  box.className = kind === 'info' ? 'info' : '';
  box.hidden = !message;
}

// What a failed request means to the user: 401 asks for the token again, 403 says why the
// server refused (read-only, reset disabled), anything else shows the server's message.
function fail(error) {
  if (error instanceof HttpError && error.status === 401) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    stopPolling();
    showLogin('The server refused the token (401 Unauthorized): enter the token `mnemodb serve` was started with.');
    return;
  }
  if (error instanceof HttpError && error.status === 403) {
    notice(`Refused by the server (403 Forbidden): ${error.message}`);
    return;
  }
  notice(error instanceof HttpError ? `Error ${error.status}: ${error.message}` : String(error.message || error));
}

function show(section) {
  for (const id of ['login', 'overview', 'collection']) $(id).hidden = id !== section;
  $('forget-token').hidden = !state.token;
}

function showLogin(reason) {
  show('login');
  $('login-reason').textContent = reason;
  $('token-input').focus();
}

// ------------------------------------------------------------------------------ overview

async function loadOverview() {
  state.overview = await call('GET', '/mnemodb/overview');
  const o = state.overview;
  $('server-info').textContent = `v${o.version}${o.read_only ? ' · read-only' : ''}${o.embeds_texts ? ' · embeds texts' : ''}`;
  return o;
}

function renderOverview() {
  const o = state.overview;
  const rows = [];
  const jobs = [];
  for (const db of o.databases) {
    const dbName = `${db.tenant}/${db.name}`;
    for (const c of db.collections) {
      const href = `#/c/${encodeURIComponent(db.tenant)}/${encodeURIComponent(db.name)}/${c.id}`;
      const index = c.exact_only
        ? 'exact scan (small)'
        : meter(c.linked_fraction, `${(c.linked_fraction * 100).toFixed(0)}% of ${c.slots.toLocaleString('en')} (loaded ${c.linked.toLocaleString('en')}, saved ${c.saved.toLocaleString('en')})`);
      rows.push(el('tr', { 'data-id': c.id },
        el('td', { text: dbName }),
        el('td', {}, el('a', { href, text: c.name })),
        el('td', { class: 'num count', text: c.count.toLocaleString('en') }),
        el('td', { class: 'num', text: c.dimension ?? '–' }),
        el('td', { text: c.space }),
        el('td', { class: 'num', text: humanBytes(c.disk_bytes) }),
        el('td', {}, index),
        el('td', { class: 'num', text: c.expired.toLocaleString('en') }),
        el('td', { class: 'num', text: c.dead_slots.toLocaleString('en') })));
    }
    for (const j of db.jobs) {
      const progress = j.total > 0 ? meter(j.done / j.total, `${j.done}/${j.total}`) : `${j.done}`;
      jobs.push(el('tr', {},
        el('td', { text: dbName }),
        el('td', { class: 'num', text: j.id }),
        el('td', { text: j.kind }),
        el('td', { text: j.collection_name || j.collection || '' }),
        el('td', { class: `state-${j.state}`, text: j.error ? `${j.state}: ${j.error}` : j.state }),
        el('td', {}, progress)));
    }
  }
  fill($('collections').tBodies[0], rows, 8, 'No collections yet.');
  fill($('jobs').tBodies[0], jobs.reverse().slice(0, 20), 6, 'No background jobs.');
  $('overview').dataset.loaded = 'true';
}

// Prometheus text: the request counters and latency histograms, per (method, route).
function parseMetrics(text) {
  const routes = new Map();
  const entry = (labels) => {
    const key = `${labels.method} ${labels.route}`;
    if (!routes.has(key)) routes.set(key, { method: labels.method, route: labels.route, requests: 0, errors: 0, sum: 0, count: 0, buckets: [] });
    return routes.get(key);
  };
  for (const line of text.split('\n')) {
    const m = line.match(/^(mnemodb_http_request\w*)\{(.*)\} (\S+)$/);
    if (!m) continue;
    const labels = {};
    for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    const value = Number(m[3]);
    const r = entry(labels);
    if (m[1] === 'mnemodb_http_requests_total') {
      r.requests += value;
      if (Number(labels.status) >= 400) r.errors += value;
    } else if (m[1] === 'mnemodb_http_request_duration_seconds_sum') r.sum = value;
    else if (m[1] === 'mnemodb_http_request_duration_seconds_count') r.count = value;
    else if (m[1] === 'mnemodb_http_request_duration_seconds_bucket') r.buckets.push([labels.le === '+Inf' ? Infinity : Number(labels.le), value]);
  }
  return routes;
}

// The smallest bucket bound holding 95 % of the requests (an upper bound of the p95).
function p95(buckets, count) {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  for (const [le, n] of sorted) if (n >= 0.95 * count) return le;
  return Infinity;
}

async function loadMetrics() {
  const text = await call('GET', '/metrics');
  const now = performance.now();
  const routes = parseMetrics(text);
  const prev = state.metrics;
  const rows = [];
  for (const r of [...routes.values()].sort((a, b) => b.requests - a.requests)) {
    const before = prev && prev.routes.get(`${r.method} ${r.route}`);
    const rate = prev ? (r.requests - (before ? before.requests : 0)) / ((now - prev.at) / 1000) : null;
    const bound = p95(r.buckets, r.count);
    rows.push(el('tr', {},
      el('td', { text: r.method }),
      el('td', { class: 'mono', text: r.route }),
      el('td', { class: 'num', text: r.requests.toLocaleString('en') }),
      el('td', { class: 'num', text: r.errors.toLocaleString('en') }),
      el('td', { class: 'num', text: rate === null ? '…' : rate.toFixed(2) }),
      el('td', { class: 'num', text: r.count ? ((r.sum / r.count) * 1000).toFixed(2) : '–' }),
      el('td', { class: 'num', text: Number.isFinite(bound) ? (bound * 1000).toString() : '> 5000' })));
  }
  state.metrics = { at: now, routes };
  fill($('requests').tBodies[0], rows, 7, 'No requests yet.');
  $('requests-window').textContent = prev ? `(rates over the last ${((now - prev.at) / 1000).toFixed(1)} s)` : '';
}

async function refreshOverview() {
  await loadOverview();
  renderOverview();
  await loadMetrics();
}

function startPolling() {
  stopPolling();
  state.timer = setInterval(() => {
    if ($('overview').hidden) return;
    refreshOverview().catch(fail);
  }, POLL_MS);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// ---------------------------------------------------------------------------- collection

function current() {
  const m = location.hash.match(/^#\/c\/([^/]+)\/([^/]+)\/([0-9a-f-]+)$/);
  if (!m) return null;
  const tenant = decodeURIComponent(m[1]);
  const database = decodeURIComponent(m[2]);
  const db = state.overview.databases.find((d) => d.tenant === tenant && d.name === database);
  const col = db && db.collections.find((c) => c.id === m[3]);
  if (!col) return null;
  const base = `${API}/tenants/${encodeURIComponent(tenant)}/databases/${encodeURIComponent(database)}/collections`;
  return { tenant, database, col, url: `${base}/${col.id}`, byName: `${base}/${encodeURIComponent(col.name)}` };
}

function renderCollection(c) {
  const o = state.overview;
  $('collection-title').textContent = `${c.tenant}/${c.database}/${c.col.name}`;
  const index = c.col.exact_only ? 'searched exactly (small)' : `index linked ${(c.col.linked_fraction * 100).toFixed(0)}% of ${c.col.slots} slots (loaded ${c.col.linked}, saved ${c.col.saved})`;
  $('collection-facts').textContent = `${c.col.count.toLocaleString('en')} records · dimension ${c.col.dimension ?? '–'} · ${c.col.space} · ${humanBytes(c.col.disk_bytes)} on disk · ${index} · ${c.col.expired} expired awaiting the sweep · ${c.col.dead_slots} dead slots · id ${c.col.id}${c.col.embedding_function ? ` · embedding function ${c.col.embedding_function}` : ''}`;
  for (const id of ['compact', 'delete-collection']) {
    $(id).disabled = o.read_only;
    $(id).title = o.read_only ? 'The server is read-only (--read-only)' : '';
  }
  const textOption = $('query-mode').querySelector('option[value=text]');
  textOption.disabled = !o.embeds_texts;
  textOption.textContent = o.embeds_texts ? 'a text' : 'a text (needs serve --embed default)';
  if (!o.embeds_texts) $('query-mode').value = 'record';
  $('query-label').textContent = $('query-mode').value === 'text' ? 'text' : 'id';
}

// The JSON of a filter box, or undefined when empty; a clear error when it does not parse.
function filterValue(id, name) {
  const text = $(id).value.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} is not JSON: ${e.message}`);
  }
}

function embeddingCell(e) {
  if (!e) return '';
  const head = Array.from(e.slice(0, 4), (x) => Number(x).toFixed(3)).join(', ');
  return `[${head}${e.length > 4 ? `, … ${e.length} values` : ''}]`;
}

async function loadRecords() {
  const c = current();
  if (!c) return;
  notice('');
  const limit = Math.max(1, Math.min(500, Number($('page-size').value) || 20));
  const body = {
    where: filterValue('where', 'where'),
    where_document: filterValue('where-document', 'where_document'),
    limit,
    offset: state.page.offset,
    include: ['documents', 'metadatas', 'embeddings'],
  };
  const got = await call('POST', `${c.url}/get`, body);
  const rows = got.ids.map((id, i) => el('tr', { 'data-id': id },
    el('td', { class: 'mono id', text: id }),
    el('td', { class: 'doc', text: short(got.documents && got.documents[i], 200) }),
    el('td', { class: 'mono', text: got.metadatas && got.metadatas[i] ? JSON.stringify(got.metadatas[i]) : '' }),
    el('td', { class: 'mono', text: embeddingCell(got.embeddings && got.embeddings[i]) }),
    el('td', {},
      el('button', { type: 'button', text: 'Neighbours', onclick: () => { $('query-mode').value = 'record'; $('query-input').value = id; runQuery().then(() => $('query-form').scrollIntoView()).catch(fail); } }),
      ' ',
      el('button', { type: 'button', class: 'danger', text: 'Delete…', disabled: state.overview.read_only ? '' : null, onclick: () => deleteRecord(id).catch(fail) }))));
  fill($('records').tBodies[0], rows, 5, 'No records match.');
  const from = got.ids.length ? state.page.offset + 1 : 0;
  $('page-info').textContent = `records ${from}–${state.page.offset + got.ids.length}${body.where || body.where_document ? ' (filtered)' : ` of ${c.col.count.toLocaleString('en')}`}`;
  $('prev-page').disabled = state.page.offset === 0;
  $('next-page').disabled = got.ids.length < limit;
  $('records').dataset.loaded = 'true';
  performance.mark('mnemodb-records');
}

async function runQuery() {
  const c = current();
  if (!c) return;
  notice('');
  const mode = $('query-mode').value;
  const input = $('query-input').value.trim();
  const n = Math.max(1, Number($('n-results').value) || 10);
  if (!input) throw new Error(mode === 'text' ? 'Enter a text to search for.' : 'Enter the id of a stored record.');
  const body = { n_results: n, include: ['documents', 'metadatas', 'distances'] };
  if (mode === 'text') {
    body.query_texts = [input];
  } else {
    const got = await call('POST', `${c.url}/get`, { ids: [input], include: ['embeddings'] });
    if (!got.ids.length) throw new Error(`No record with id ${JSON.stringify(input)} in ${c.col.name}.`);
    body.query_embeddings = [got.embeddings[0]];
  }
  const started = performance.now();
  const res = await call('POST', `${c.url}/query`, body);
  const ms = performance.now() - started;
  const rows = res.ids[0].map((id, i) => el('tr', { 'data-id': id, 'data-distance': String(res.distances[0][i]) },
    el('td', { class: 'num', text: i + 1 }),
    el('td', { class: 'mono id', text: id }),
    el('td', { class: 'num distance', text: res.distances[0][i].toFixed(5) }),
    el('td', { class: 'doc', text: short(res.documents && res.documents[0][i], 200) }),
    el('td', { class: 'mono', text: res.metadatas && res.metadatas[0][i] ? JSON.stringify(res.metadatas[0][i]) : '' })));
  fill($('neighbours').tBodies[0], rows, 5, 'No neighbours.');
  $('query-info').textContent = `${rows.length} neighbours of ${mode === 'text' ? 'the text' : `record ${input}`}, answered in ${ms.toFixed(1)} ms`;
  $('neighbours').dataset.loaded = 'true';
  performance.mark('mnemodb-query');
}

async function deleteRecord(id) {
  const c = current();
  if (!window.confirm(`Delete record ${JSON.stringify(id)} from ${c.col.name}? This cannot be undone.`)) return;
  await call('POST', `${c.url}/delete`, { ids: [id] });
  notice(`Deleted record ${id}.`, 'info');
  await loadOverview();
  renderCollection(current());
  await loadRecords();
}

async function compact() {
  const c = current();
  if (!window.confirm(`Compact ${c.col.name}? Its vector file is rewritten without its ${c.col.dead_slots} dead slots, in the background.`)) return;
  const job = await call('POST', `/mnemodb/tenants/${encodeURIComponent(c.tenant)}/databases/${encodeURIComponent(c.database)}/collections/${c.col.id}/compact`);
  notice(`Compaction started: job ${job.id} (${job.state}); see Jobs on the overview.`, 'info');
}

async function deleteCollection() {
  const c = current();
  const typed = window.prompt(`Delete the collection ${c.col.name} and its ${c.col.count} records? This cannot be undone. Type its name to confirm:`);
  if (typed === null) return;
  if (typed !== c.col.name) {
    notice('The name typed does not match: nothing was deleted.');
    return;
  }
  await call('DELETE', c.byName);
  // Shown by the overview the page goes back to.
  state.flash = [`Deleted the collection ${c.col.name}.`, 'info'];
  location.hash = '#/';
}

// -------------------------------------------------------------------------------- routing

async function route() {
  notice(...(state.flash || ['']));
  state.flash = null;
  if (state.tokenRequired && !state.token) {
    showLogin('This server needs its token (mnemodb serve --token) for every request that reads data.');
    return;
  }
  try {
    await loadOverview();
    if (location.hash.startsWith('#/c/')) {
      const c = current();
      if (!c) throw new Error('No such collection (it may have been deleted).');
      show('collection');
      const key = location.hash;
      if (state.page.key !== key) state.page = { key, offset: 0 };
      renderCollection(c);
      await loadRecords();
    } else {
      show('overview');
      renderOverview();
      await loadMetrics();
      startPolling();
    }
    document.body.dataset.ready = 'true';
    performance.mark('mnemodb-ready');
  } catch (e) {
    fail(e);
  }
}

async function start() {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) return;
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-input').value = '';
    route();
  });
  $('forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    stopPolling();
    route();
  });
  $('refresh').addEventListener('click', () => refreshOverview().catch(fail));
  $('filter-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.page.offset = 0;
    loadRecords().catch(fail);
  });
  $('prev-page').addEventListener('click', () => {
    state.page.offset = Math.max(0, state.page.offset - (Number($('page-size').value) || 20));
    loadRecords().catch(fail);
  });
  $('next-page').addEventListener('click', () => {
    state.page.offset += Number($('page-size').value) || 20;
    loadRecords().catch(fail);
  });
  $('query-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    runQuery().catch(fail);
  });
  $('query-mode').addEventListener('change', () => {
    $('query-label').textContent = $('query-mode').value === 'text' ? 'text' : 'id';
  });
  $('compact').addEventListener('click', () => compact().catch(fail));
  $('delete-collection').addEventListener('click', () => deleteCollection().catch(fail));
  window.addEventListener('hashchange', route);
  try {
    const auth = await call('GET', '/mnemodb/auth');
    state.tokenRequired = auth.token_required;
  } catch (e) {
    fail(e);
    return;
  }
  route();
}

start();
