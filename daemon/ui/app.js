// mmsmon status page: reads /api/v1/status and /api/v1/jobs every few seconds and shows
// the fleet. Plain DOM, no libraries; text from the API goes in with textContent only.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  // ?refresh=N (seconds, at least 1) for tests and slow links; 5 s by default.
  const REFRESH_MS = Math.max(1, Number(params.get('refresh')) || 5) * 1000;
  const TIMEOUT_MS = 10000;
  const ALERT_LINES = 20;

  const state = {
    jobs: [], status: null,
    offsetMs: 0,          // the daemon's clock minus the browser's
    lastOkAt: 0,          // browser time of the last answer
    failure: null,        // why the last refresh failed, while it fails
    filter: '', statusFilter: '', sort: 'problems', dir: 1, page: 0, pageSize: 100,
    openKey: null,        // the job whose details are open
    openAlerts: null,     // its recent alert lines
  };

  // ---- time -------------------------------------------------------------------------

  const now = () => Date.now() + state.offsetMs;
  const parseTime = (s) => { const t = s ? Date.parse(s) : NaN; return Number.isNaN(t) ? null : t; };

  function ago(ms) {
    if (ms < 0) ms = 0;
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.round(s / 60);
    if (m < 120) return `${m} min`;
    const h = Math.round(m / 60);
    if (h < 48) return `${h} h`;
    return `${Math.round(h / 24)} d`;
  }

  const localFmt = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const utc = (t) => new Date(t).toISOString().replace('.000Z', 'Z').replace('T', ' ') + ' UTC';

  // A <time> in the browser's zone, UTC on hover; `text` replaces the shown value.
  function timeEl(t, text) {
    const el = document.createElement('time');
    el.dateTime = new Date(t).toISOString();
    el.title = utc(t);
    el.textContent = text ?? localFmt.format(t);
    return el;
  }

  // ---- small DOM helpers ------------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const chip = (text, cls) => el('span', `chip ${cls || ''}`, text);
  const fmtInt = new Intl.NumberFormat();
  const pct = (r) => `${(Math.floor(r * 1000) / 10).toFixed(1)}%`;

  function setBar(bar, ratio, cls) {
    const r = Math.max(0, Math.min(1, ratio || 0));
    bar.className = `bar ${cls || ''}`;
    bar.firstChild.style.width = `${r * 100}%`;  // CSSOM: allowed by the page's CSP
    bar.setAttribute('aria-valuenow', String(Math.round(r * 100)));
  }

  // ---- the jobs as the table needs them ----------------------------------------------

  const keyOf = (j) => `${j.source_id}/${j.job_id}`;
  const statusOf = (j) => (j.status ? (['INIT', 'DOING', 'DONE', 'FAILED'].includes(j.status) ? j.status : 'UNKNOWN') : null);
  const failingPoll = (j) => j.polled && !j.up;

  // Lower is worse: failed jobs, then jobs mmsmon cannot poll, firing alerts, stopped,
  // odd data, then running, not started, done.
  function problemRank(j) {
    const s = statusOf(j);
    if (s === 'FAILED') return 0;
    if (failingPoll(j)) return 1;
    if (j.firing_alerts && j.firing_alerts.length) return 2;
    if (j.stopped) return 3;
    if (s === 'UNKNOWN' || (j.anomalies && j.anomalies.length)) return 4;
    if (!j.polled) return 5;
    if (s === 'DOING') return 6;
    if (s === 'INIT') return 7;
    return 8;
  }
  const hasProblem = (j) => problemRank(j) <= 4;

  function decorate(j) {
    j._key = keyOf(j);
    j._status = statusOf(j);
    j._rank = problemRank(j);
    j._name = j.name || `job ${j.job_id}`;
    j._source = j.source_name || String(j.source_id);
    j._ratio = typeof j.progress_ratio === 'number' ? j.progress_ratio : null;
    j._lastProgress = parseTime(j.last_progress);
    j._lastSuccess = parseTime(j.last_success);
    j._search = [j._name, j._source, j.source_id, j.job_id, j._key, j.src_db, j.src_schema,
      j.dst_project, j.dst_schema, j.status, j.type].filter((x) => x !== undefined && x !== null)
      .join('\u0001').toLowerCase();
    return j;
  }

  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const nullsLast = (a, b, dir) => (a === null && b === null ? 0 : a === null ? 1 : b === null ? -1 : dir * cmp(a, b));
  const statusOrder = { FAILED: 0, UNKNOWN: 1, DOING: 2, INIT: 3, DONE: 4 };
  const sorters = {
    problems: (a, b) => cmp(a._rank, b._rank) || cmp(a._name, b._name),
    name: (a, b) => cmp(a._name.toLowerCase(), b._name.toLowerCase()),
    source: (a, b) => cmp(a._source.toLowerCase(), b._source.toLowerCase()),
    status: (a, b) => cmp(statusOrder[a._status] ?? 9, statusOrder[b._status] ?? 9) || cmp(!!b.stopped, !!a.stopped),
  };
  // Columns whose values may be missing: missing sorts last in either direction.
  const valued = {
    progress: (j) => j._ratio,
    last_progress: (j) => j._lastProgress,
    age: (j) => (j._lastSuccess === null ? null : -j._lastSuccess),
    eta: (j) => j.eta || null,
    alerts: (j) => (j.firing_alerts ? -j.firing_alerts.length : 0),
  };

  // Sorted once per refresh or change of order; filtering keeps the order, so a keystroke in
  // the filter costs a pass over the jobs, not a sort.
  let sorted = null;
  function sortedJobs() {
    if (sorted) return sorted;
    const s = state.sort, d = state.dir;
    const tie = (a, b) => cmp(a._name, b._name) || cmp(a._key, b._key);
    sorted = [...state.jobs];
    if (valued[s]) sorted.sort((a, b) => nullsLast(valued[s](a), valued[s](b), d) || tie(a, b));
    else sorted.sort((a, b) => d * sorters[s](a, b) || tie(a, b));
    return sorted;
  }

  function visibleJobs() {
    const q = state.filter.trim().toLowerCase();
    const words = q ? q.split(/\s+/) : [];
    const sf = state.statusFilter;
    return sortedJobs().filter((j) => {
      if (sf === 'problems' && !hasProblem(j)) return false;
      if (sf === 'stopped' && !j.stopped) return false;
      if (sf === 'failing' && !failingPoll(j)) return false;
      if (['FAILED', 'DOING', 'INIT', 'DONE'].includes(sf) && j._status !== sf) return false;
      return words.every((w) => j._search.includes(w));
    });
  }

  // ---- rendering ----------------------------------------------------------------------

  function renderSummary() {
    const st = state.status;
    if (!st) return;
    $('version').textContent = st.version;
    $('s-jobs').textContent = fmtInt.format(st.jobs);
    const chips = $('s-status');
    chips.replaceChildren();
    const labels = [['FAILED', 'failed'], ['DOING', 'running'], ['INIT', 'not started'], ['DONE', 'done'], ['UNKNOWN', 'unknown']];
    for (const [k, label] of labels) {
      const n = st.by_status[k] || 0;
      if (!n && k !== 'DOING') continue;
      const b = el('button', `chip ${k}`, `${fmtInt.format(n)} ${label}`);
      b.type = 'button';
      b.title = `Show only ${label} jobs`;
      b.addEventListener('click', () => setStatusFilter(k === 'UNKNOWN' ? 'problems' : k));
      chips.append(b);
    }
    if (st.stopped) {
      const b = el('button', 'chip stopped', `${fmtInt.format(st.stopped)} stopped`);
      b.type = 'button';
      b.addEventListener('click', () => setStatusFilter('stopped'));
      chips.append(b);
    }
    $('s-tasks').textContent = st.tasks_total
      ? `${fmtInt.format(st.tasks_done)} / ${fmtInt.format(st.tasks_total)} (${pct(st.progress_ratio || 0)})`
      : '–';
    setBar($('s-bar'), st.progress_ratio || 0, 'wide');
    const failing = $('s-failing');
    failing.textContent = st.failing ? `${fmtInt.format(st.failing)} failing` : 'all well';
    failing.className = `big ${st.failing ? 'bad' : ''}`;
    const polling = [];
    if (st.not_polled) polling.push(`${fmtInt.format(st.not_polled)} not polled yet`);
    if (st.pollers_down) polling.push(`${st.pollers_down} pollers down`);
    if (st.stopping) polling.push('mmsmon is stopping');
    if (st.failing) polling.unshift(`of ${fmtInt.format(st.jobs)} jobs, their last poll failed`);
    $('s-polling').textContent = polling.join(' · ') || `every job's last poll succeeded`;
    const alerts = $('s-alerts');
    alerts.textContent = fmtInt.format(st.firing.length);
    alerts.className = `big ${st.firing.length ? 'warn' : ''}`;
    const counts = new Map();
    for (const f of st.firing) counts.set(f.alert, (counts.get(f.alert) || 0) + 1);
    $('s-alert-list').textContent = [...counts].map(([a, n]) => (n > 1 ? `${a} ×${n}` : a)).join(', ') || 'none';
  }

  function statusCell(j) {
    const td = el('td');
    const wrap = el('span', 'chips');
    if (j._status) wrap.append(chip(j._status === 'UNKNOWN' ? j.status : j._status, j._status));
    else if (failingPoll(j) && j.last_error) wrap.append(chip(j.last_error.reason.replace(/_/g, ' '), 'bad'));
    else wrap.append(chip(j.polled ? 'no data' : 'waiting', ''));
    if (j.stopped) wrap.append(chip('stopped', 'stopped'));
    td.append(wrap);
    return td;
  }

  function progressCell(j) {
    const td = el('td');
    const box = el('div', 'prog');
    const bar = el('div', 'bar');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.append(el('div', 'fill'));
    setBar(bar, j._ratio, j.stopped ? 'stopped' : j._status || '');
    bar.dataset.ratio = j._ratio === null ? '' : String(j._ratio);
    const nums = el('span', 'nums');
    nums.textContent = j.task_num !== undefined
      ? `${fmtInt.format(j.task_done ?? 0)}/${fmtInt.format(j.task_num)}${j._ratio !== null ? ` · ${pct(j._ratio)}` : ''}`
      : '–';
    box.append(bar, nums);
    td.append(box);
    return td;
  }

  function row(j, t) {
    const tr = el('tr', j._rank <= 4 ? 'problem' : '');
    tr.tabIndex = 0;
    tr.dataset.key = j._key;
    tr.dataset.status = j._status || '';

    const name = el('td');
    const c = el('div', 'cell2');
    const n = el('span', 'name', j._name);
    n.title = j._name;
    c.append(n, el('span', 'sub', `${j._key}${j.src_db ? ` · ${j.src_db} → ${j.dst_project || '?'}` : ''}`));
    name.append(c);

    const src = el('td', 'c-src', j._source);
    src.title = `data source ${j.source_id}`;

    const last = el('td', 'c-last');
    if (j._lastProgress !== null) last.append(timeEl(j._lastProgress, `${ago(t - j._lastProgress)} ago`));
    else last.textContent = '–';

    const age = el('td', 'c-age');
    if (j._lastSuccess !== null) {
      age.append(timeEl(j._lastSuccess, ago(t - j._lastSuccess)));
      const late = t - j._lastSuccess > 3 * (j.interval_seconds || 60) * 1000;
      if (late || failingPoll(j)) age.className = 'c-age bad';
    } else {
      age.textContent = j.polled ? 'never' : '–';
      if (failingPoll(j)) age.className = 'c-age bad';
    }
    if (failingPoll(j) && j.last_error) age.title = `polls failing: ${j.last_error.reason}: ${j.last_error.message}`;

    const eta = el('td', 'c-eta', j.eta || '–');
    const alerts = el('td');
    const fa = j.firing_alerts || [];
    if (fa.length) {
      const w = el('span', 'chips');
      for (const a of fa) w.append(chip(a, 'warn'));
      alerts.append(w);
      alerts.title = fa.join(', ');
    }
    tr.append(name, src, statusCell(j), progressCell(j), last, age, eta, alerts);
    return tr;
  }

  function renderTable() {
    const list = visibleJobs();
    const pages = Math.max(1, Math.ceil(list.length / state.pageSize));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * state.pageSize;
    const slice = list.slice(start, start + state.pageSize);
    const focusedKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    const t = now();
    const tbody = $('rows');
    tbody.replaceChildren(...slice.map((j) => row(j, t)));
    if (focusedKey) {
      const again = tbody.querySelector(`tr[data-key="${CSS.escape(focusedKey)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
    $('empty').hidden = slice.length > 0 || state.jobs.length === 0;
    $('count').textContent = list.length
      ? `${fmtInt.format(start + 1)}–${fmtInt.format(start + slice.length)} of ${fmtInt.format(list.length)}` +
        (list.length !== state.jobs.length ? ` (${fmtInt.format(state.jobs.length)} in all)` : '')
      : `0 of ${fmtInt.format(state.jobs.length)}`;
    $('page').textContent = `page ${state.page + 1} of ${pages}`;
    $('prev').disabled = state.page === 0;
    $('next').disabled = state.page >= pages - 1;
    for (const th of document.querySelectorAll('th[data-sort]')) {
      if (th.dataset.sort === state.sort) th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    $('reset-sort').hidden = state.sort === 'problems';
  }

  function renderBanner() {
    const b = $('banner');
    const t = Date.now();
    const late = state.lastOkAt && t - state.lastOkAt > 3 * REFRESH_MS + TIMEOUT_MS;
    const stale = state.failure !== null || late;
    document.body.classList.toggle('is-stale', !!(stale && state.lastOkAt));
    b.classList.toggle('stale', stale);
    b.classList.toggle('live', !stale && !!state.lastOkAt);
    if (stale) {
      const why = state.failure || 'no answer';
      b.textContent = state.lastOkAt
        ? `mmsmon is not answering (${why}). The data below is ${ago(t - state.lastOkAt)} old, from ${localFmt.format(state.lastOkAt)}; retrying.`
        : `Cannot reach mmsmon (${why}); retrying.`;
    } else if (state.lastOkAt) {
      const st = state.status;
      b.textContent = `Live · updated ${ago(t - state.lastOkAt)} ago · refreshes every ${REFRESH_MS / 1000} s` +
        (st && st.stopping ? ' · mmsmon is stopping' : '');
    }
  }

  // ---- details ------------------------------------------------------------------------

  function fieldValue(k, v) {
    if (v && typeof v === 'object') return el('code', '', JSON.stringify(v));
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) {
      const span = el('span');
      span.append(timeEl(Date.parse(v)), document.createTextNode(` (${ago(now() - Date.parse(v))} ago)`));
      return span;
    }
    return document.createTextNode(String(v));
  }

  function renderDetails() {
    const dlg = $('details');
    if (!state.openKey || !dlg.open) return;
    const j = state.jobs.find((x) => x._key === state.openKey);
    const body = $('d-body');
    if (!j) {
      $('d-title').textContent = state.openKey;
      body.replaceChildren(el('p', 'muted', 'This job is no longer tracked.'));
      return;
    }
    $('d-title').textContent = `${j._name} (${j._key})`;
    const parts = [];

    const top = el('div', 'chips d-top');
    top.append(...statusCell(j).firstChild.childNodes);
    for (const a of j.firing_alerts || []) top.append(chip(a, 'warn'));
    parts.push(top);
    const prog = progressCell(j).firstChild;
    parts.push(prog);

    if (j.last_error) {
      parts.push(el('h3', '', failingPoll(j) ? 'Failing: last error' : 'Last error (recovered since)'));
      const e = j.last_error;
      const box = el('div', 'error');
      box.append(el('div', '', `${e.reason}: ${e.message}`));
      const dl = el('dl', 'fields');
      for (const [k, label] of [['code', 'Code'], ['http_status', 'HTTP status'], ['request_id', 'RequestId']]) {
        if (e[k] === undefined) continue;
        dl.append(el('dt', '', label), el('dd', k === 'request_id' ? 'mono' : '', e[k]));
      }
      if (j.failing_since) {
        const dd = el('dd');
        dd.append(fieldValue('', j.failing_since));
        dl.append(el('dt', '', 'Failing since'), dd);
      }
      box.append(dl);
      parts.push(box);
    }

    parts.push(el('h3', '', 'Recent alerts'));
    if (!state.openAlerts) parts.push(el('p', 'muted', 'Loading…'));
    else if (!state.openAlerts.length) parts.push(el('p', 'muted', 'None since mmsmon started.'));
    else {
      const ol = el('ol', 'alerts');
      for (const a of state.openAlerts) {
        const li = el('li');
        const t = parseTime(a.ts);
        li.append(t !== null ? timeEl(t) : el('span', '', a.ts),
          el('span', a.state === 'firing' ? 'bad' : '', `${a.alert} ${a.state}`),
          el('span', '', a.summary));
        ol.append(li);
      }
      parts.push(ol);
    }

    parts.push(el('h3', '', 'Every field'));
    const dl = el('dl', 'fields');
    for (const [k, v] of Object.entries(j)) {
      if (k.startsWith('_')) continue;
      const dd = el('dd');
      dd.append(fieldValue(k, v));
      dl.append(el('dt', 'mono', k), dd);
    }
    parts.push(dl);
    body.replaceChildren(...parts);
  }

  async function loadAlerts(key) {
    const [src, job] = key.split('/');
    try {
      const r = await fetchJson(`/api/v1/alerts?source_id=${src}&job_id=${job}&limit=${ALERT_LINES}`);
      if (state.openKey === key) { state.openAlerts = r; renderDetails(); }
    } catch (e) {
      if (state.openKey === key && !state.openAlerts) { state.openAlerts = []; renderDetails(); }
    }
  }

  function openDetails(key) {
    state.openKey = key;
    state.openAlerts = null;
    const dlg = $('details');
    if (!dlg.open) dlg.showModal();
    renderDetails();
    loadAlerts(key);
  }

  // ---- data ---------------------------------------------------------------------------

  async function fetchJson(path) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
    try {
      const r = await fetch(path, { cache: 'no-store', signal: ctl.signal, headers: { Accept: 'application/json' } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return await r.json();
    } catch (e) {
      throw new Error(e.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.message || String(e)));
    } finally {
      clearTimeout(timer);
    }
  }

  let nextDelay = REFRESH_MS;
  async function refresh() {
    const started = Date.now();
    try {
      const [status, jobs] = await Promise.all([fetchJson('/api/v1/status'), fetchJson('/api/v1/jobs')]);
      const serverNow = parseTime(status.now);
      const took = Date.now() - started;
      if (serverNow !== null) state.offsetMs = serverNow - (started + took / 2);
      state.status = status;
      state.jobs = jobs.map(decorate);
      sorted = null;
      state.lastOkAt = Date.now();
      state.failure = null;
      // A big fleet answers slowly: never spend more than a third of the time fetching.
      nextDelay = Math.min(60000, Math.max(REFRESH_MS, 3 * took));
      const t0 = performance.now();
      renderSummary();
      renderTable();
      if (state.openKey) { renderDetails(); loadAlerts(state.openKey); }
      // For tests and the benchmark: how many refreshes were shown, and what they cost.
      const d = document.body.dataset;
      d.refreshes = String(Number(d.refreshes || 0) + 1);
      d.fetchMs = String(took);
      d.renderMs = (performance.now() - t0).toFixed(1);
    } catch (e) {
      state.failure = e.message;
      nextDelay = REFRESH_MS;
    }
    renderBanner();
    setTimeout(refresh, nextDelay);
  }

  // ---- controls and keys ----------------------------------------------------------------

  function saveHash() {
    const h = new URLSearchParams();
    if (state.filter) h.set('q', state.filter);
    if (state.statusFilter) h.set('status', state.statusFilter);
    if (state.sort !== 'problems') { h.set('sort', state.sort); h.set('dir', state.dir > 0 ? 'asc' : 'desc'); }
    if (state.page) h.set('page', String(state.page + 1));
    if (state.pageSize !== 100) h.set('rows', String(state.pageSize));
    const s = h.toString();
    history.replaceState(null, '', s ? `#${s}` : location.pathname + location.search);
  }

  function loadHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    state.filter = h.get('q') || '';
    state.statusFilter = h.get('status') || '';
    const sort = h.get('sort');
    if (sort && (sorters[sort] || valued[sort])) { state.sort = sort; state.dir = h.get('dir') === 'desc' ? -1 : 1; }
    state.page = Math.max(0, (Number(h.get('page')) || 1) - 1);
    const rows = Number(h.get('rows'));
    if ([25, 100, 500].includes(rows)) state.pageSize = rows;
    $('filter').value = state.filter;
    $('status-filter').value = state.statusFilter;
    $('page-size').value = String(state.pageSize);
  }

  function update() { saveHash(); renderTable(); }
  function setStatusFilter(v) { state.statusFilter = v; $('status-filter').value = v; state.page = 0; update(); }

  function moveFocus(delta) {
    const rows = [...$('rows').children];
    if (!rows.length) return;
    const i = rows.indexOf(document.activeElement);
    const next = rows[Math.max(0, Math.min(rows.length - 1, i < 0 ? 0 : i + delta))];
    next.focus();
  }

  function wire() {
    $('filter').addEventListener('input', (e) => { state.filter = e.target.value; state.page = 0; update(); });
    $('status-filter').addEventListener('change', (e) => setStatusFilter(e.target.value));
    $('page-size').addEventListener('change', (e) => { state.pageSize = Number(e.target.value); state.page = 0; update(); });
    $('prev').addEventListener('click', () => { state.page = Math.max(0, state.page - 1); update(); });
    $('next').addEventListener('click', () => { state.page += 1; update(); });
    $('reset-sort').addEventListener('click', () => { state.sort = 'problems'; state.dir = 1; sorted = null; update(); });
    for (const th of document.querySelectorAll('th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => {
        const s = th.dataset.sort;
        if (state.sort === s) state.dir = -state.dir;
        else { state.sort = s; state.dir = 1; }
        sorted = null;
        state.page = 0;
        update();
      });
    }
    const rows = $('rows');
    rows.addEventListener('click', (e) => {
      const tr = e.target.closest('tr');
      if (tr) openDetails(tr.dataset.key);
    });
    rows.addEventListener('keydown', (e) => {
      const tr = e.target.closest('tr');
      if (!tr) return;
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openDetails(tr.dataset.key); }
      else if (e.key === 'ArrowDown' || e.key === 'j') { e.preventDefault(); moveFocus(1); }
      else if (e.key === 'ArrowUp' || e.key === 'k') { e.preventDefault(); moveFocus(-1); }
    });
    const dlg = $('details');
    $('d-close').addEventListener('click', () => dlg.close());
    // The close event comes in a task of its own: by then a key may have moved the focus on
    // (e.g. "/" to the filter), which it must not take back.
    dlg.addEventListener('close', () => {
      const key = state.openKey;
      state.openKey = null;
      const tr = key && $('rows').querySelector(`tr[data-key="${CSS.escape(key)}"]`);
      const moved = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName);
      if (tr && !moved) tr.focus();
    });
    dlg.addEventListener('click', (e) => { if (e.target === dlg) dlg.close(); });  // the backdrop
    document.addEventListener('keydown', (e) => {
      if (dlg.open || e.ctrlKey || e.metaKey || e.altKey) return;
      const typing = ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName);
      if (e.key === '/' && !typing) { e.preventDefault(); $('filter').focus(); $('filter').select(); }
      else if (e.key === 'Escape' && document.activeElement === $('filter')) { $('filter').blur(); moveFocus(0); }
      else if (!typing && e.key === '[' && !$('prev').disabled) $('prev').click();
      else if (!typing && e.key === ']' && !$('next').disabled) $('next').click();
      else if (!typing && e.key === 'ArrowDown' && !e.target.closest('tr')) { e.preventDefault(); moveFocus(0); }
    });
    window.addEventListener('hashchange', () => { loadHash(); sorted = null; renderTable(); });
    // Ages and the banner move on between refreshes too.
    setInterval(renderBanner, 1000);
  }

  loadHash();
  wire();
  refresh();
})();
