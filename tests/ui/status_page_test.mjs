// The status page in a real browser: Debian's chromium, headless, driven by puppeteer-core,
// against mmsmon and mms-sim started by status_page_test.sh (which passes what they are).
// Prints one "ok"/"FAIL" line per check, like tests/lib.sh, and exits 1 if any failed.
import puppeteer from 'puppeteer-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run status_page_test.sh)`);
  return v;
};
const URL_PLAIN = env('PAGE_URL');        // the demo's daemon, plain HTTP
const URL_TLS = env('PAGE_URL_TLS');      // the same jobs, TLS and basic auth
const URL_BIG = env('PAGE_URL_BIG');      // 10,000 jobs
const SIM = env('SIM_URL');
const DAEMON_PID = Number(env('DAEMON_PID'));
const BIG_JOBS = Number(env('BIG_JOBS'));
const SCREENSHOT = env('SCREENSHOT');
const REFRESH_S = 1;       // the page's refresh, from ?refresh=
const POLL_S = 2;          // the daemon's poll interval (config/demo.json)
const SLACK_MS = 4000;     // a loaded CI machine, a sanitizer build

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail !== undefined ? `: ${detail}` : ''}`); }
}

// Every console message of level error, page error, failed request and HTTP error answer.
function watch(page, label, problems) {
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label} console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${label} page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`${label} request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${label} HTTP ${r.status()}: ${r.url()}`); });
}

const refreshes = (page) => page.evaluate(() => Number(document.body.dataset.refreshes || 0));
async function nextRefresh(page, n = 1) {
  const start = await refreshes(page);
  await page.waitForFunction((s, k) => Number(document.body.dataset.refreshes || 0) >= s + k,
    { timeout: (n * REFRESH_S) * 1000 + 3 * SLACK_MS }, start, n);
}
const rowKeys = (page) => page.$$eval('#rows tr', (rs) => rs.map((r) => r.dataset.key));
const rowStatuses = (page) => page.$$eval('#rows tr', (rs) => rs.map((r) => r.dataset.status));

async function simJob(fields) {
  const r = await fetch(`${SIM}/admin/jobs`, { method: 'POST', body: JSON.stringify(fields) });
  if (!r.ok) throw new Error(`mms-sim /admin/jobs: HTTP ${r.status}`);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  acceptInsecureCerts: true,  // the TLS daemon's certificate is the test's own
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-default-apps', '--mute-audio'],
});

try {
  // ---- the demo's daemon ------------------------------------------------------------
  const problems = [];
  const page = await browser.newPage();
  watch(page, 'plain', problems);
  await page.setViewport({ width: 1400, height: 900 });
  await page.goto(`${URL_PLAIN}?refresh=${REFRESH_S}`, { waitUntil: 'load' });
  await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 15000 });
  const csp = (await page.evaluate(async () => (await fetch('/')).headers.get('content-security-policy'))) || '';
  check('the page comes with a strict Content-Security-Policy', csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), csp);

  const jobs = await page.evaluate(async () => (await fetch('/api/v1/jobs')).json());
  check(`one row per job (${jobs.length})`, (await rowKeys(page)).length === jobs.length && jobs.length === 4);
  const count = await page.$eval('#s-jobs', (e) => e.textContent);
  check('the summary counts the jobs', count === String(jobs.length), count);

  // Each bar's fill is as wide as its job's ratio, read in one go with the ratio it shows.
  await page.waitForFunction(() => [...document.querySelectorAll('#rows .bar')].some((b) => b.dataset.ratio), { timeout: 15000 });
  const bars = await page.$$eval('#rows .bar', (bs) => bs.filter((b) => b.dataset.ratio).map((b) => ({
    ratio: Number(b.dataset.ratio),
    fill: b.firstChild.getBoundingClientRect().width,
    whole: b.getBoundingClientRect().width,
    nums: b.nextSibling.textContent,
  })));
  const api = new Map(jobs.map((j) => [`${j.task_done}/${j.task_num}`, j.progress_ratio]));
  check(`every progress bar is as wide as its ratio (${bars.length} bars)`, bars.length >= 2 &&
    bars.every((b) => Math.abs(b.fill - b.ratio * b.whole) <= 1.0), JSON.stringify(bars));
  check('the ratios shown are the API\'s', bars.some((b) => [...api.values()].includes(b.ratio)), JSON.stringify(bars));

  // No layout jumps: the table and its rows stay where they are across refreshes.
  const boxes = () => page.evaluate(() => [document.querySelector('#jobs'), ...document.querySelectorAll('#rows tr, .card')]
    .map((e) => { const r = e.getBoundingClientRect(); return [Math.round(r.top), Math.round(r.height), Math.round(r.width)]; }));
  const before = await boxes();
  await nextRefresh(page, 2);
  const after = await boxes();
  check('nothing moves when the data refreshes', JSON.stringify(before) === JSON.stringify(after),
    `${JSON.stringify(before)} vs ${JSON.stringify(after)}`);

  // Details: the job that does not exist shows its error with the RequestId, and its alert.
  const missing = jobs.find((j) => j.last_error && j.last_error.request_id);
  check('a job with an error is in /api/v1/jobs', !!missing);
  if (missing) {
    await page.click(`tr[data-key="${missing.source_id}/${missing.job_id}"]`);
    await page.waitForFunction(() => document.querySelector('#details').open && document.querySelector('#d-body ol.alerts'), { timeout: 10000 });
    const text = await page.$eval('#d-body', (e) => e.textContent);
    check('the details show the last error with its RequestId', text.includes('RequestId') && text.includes(missing.last_error.code),
      text.slice(0, 300));
    check('the details show the job\'s alert lines', text.includes('JobNotFound firing'), text.slice(0, 300));
    check('the details list every field', ['interval_seconds', 'consecutive_failures', 'firing_alerts'].every((k) => text.includes(k)));
    const hover = await page.$eval('#d-body time', (t) => t.title);
    check('times show UTC on hover', / UTC$/.test(hover), hover);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#details').open, { timeout: 5000 });
    check('Escape closes the details and gives the focus back to the row',
      await page.evaluate((k) => document.activeElement.dataset.key === k, `${missing.source_id}/${missing.job_id}`));
  }

  // Keyboard only: "/" goes to the filter, Escape and the arrows to the rows, Enter opens.
  await page.keyboard.press('/');
  check('"/" focuses the filter', await page.evaluate(() => document.activeElement.id === 'filter'));
  await page.keyboard.type('sales');
  const filtered = await rowKeys(page);
  check('the filter narrows the rows', filtered.length === 1 && filtered[0] === '2000015/10', JSON.stringify(filtered));
  await page.keyboard.press('Escape');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#details').open, { timeout: 5000 });
  check('Enter on a row opens its details', (await page.$eval('#d-title', (e) => e.textContent)).includes('migrate_sales'));
  await page.keyboard.press('Escape');
  await page.$eval('#filter', (e) => { e.value = ''; e.dispatchEvent(new Event('input')); });
  check('clearing the filter shows every job again', (await rowKeys(page)).length === jobs.length);
  await page.select('#status-filter', 'problems');
  const problemRows = await page.$$eval('#rows tr', (rs) => rs.map((r) => r.className));
  check('"With problems" shows the problem rows only', problemRows.length >= 1 && problemRows.every((c) => c.includes('problem')),
    JSON.stringify(problemRows));
  await page.select('#status-filter', '');

  // Sorting by a column and back.
  await page.click('th[data-sort="name"] button');
  const byName = await page.$$eval('#rows tr .name', (ns) => ns.map((n) => n.textContent));
  check('a column header sorts by it', JSON.stringify(byName) === JSON.stringify([...byName].sort()), JSON.stringify(byName));
  await page.click('#reset-sort');

  // A job turns FAILED at the simulator: shown failed, among the first rows, within two
  // refreshes of the daemon seeing it, without a reload.
  await page.evaluate(() => { window.notReloaded = true; });
  const target = '2000015/12';
  check('migrate_users is not failed yet', (await page.$eval(`tr[data-key="${target}"]`, (r) => r.dataset.status)) !== 'FAILED');
  const t0 = Date.now();
  await simJob({ source_id: 2000015, job_id: 12, status: 'FAILED' });
  let shown = true;
  try {
    await page.waitForFunction((k) => document.querySelector(`tr[data-key="${k}"]`)?.dataset.status === 'FAILED',
      { timeout: POLL_S * 1000 + 2 * REFRESH_S * 1000 + SLACK_MS, polling: 100 }, target);
  } catch { shown = false; }
  check(`a job failed at the simulator is shown FAILED within a poll and two refreshes (${Date.now() - t0} ms)`, shown);
  const order = await rowKeys(page), statuses = await rowStatuses(page);
  const at = order.indexOf(target);
  check('the failed job is sorted first (only failed jobs above it)', at >= 0 && statuses.slice(0, at + 1).every((s) => s === 'FAILED'),
    `${JSON.stringify(order)} ${JSON.stringify(statuses)}`);
  check('the page was not reloaded', await page.evaluate(() => window.notReloaded === true));

  await page.screenshot({ path: SCREENSHOT });
  check(`screenshot saved to ${SCREENSHOT}`, true);

  // A phone (its own page: puppeteer reloads a page whose viewport turns mobile).
  const phone = await browser.newPage();
  watch(phone, 'phone', problems);
  await phone.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
  await phone.goto(`${URL_PLAIN}?refresh=${REFRESH_S}`, { waitUntil: 'load' });
  await phone.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 15000 });
  const fits = await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
  check('on a phone the page fits the screen\'s width', fits,
    await phone.evaluate(() => `${document.documentElement.scrollWidth} > ${window.innerWidth}`));
  check('on a phone every job still has its row', (await rowKeys(phone)).length === jobs.length);
  await phone.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-phone.png') });
  await phone.close();

  check('no console error, no failed request, no HTTP error while mmsmon answered', problems.length === 0, problems.join('\n  '));

  // mmsmon stops: the page says so, and how old its data is.
  process.kill(DAEMON_PID, 'SIGTERM');
  let stale = true;
  try {
    await page.waitForSelector('#banner.stale', { timeout: 3 * REFRESH_S * 1000 + SLACK_MS });
  } catch { stale = false; }
  const banner = await page.$eval('#banner', (b) => b.textContent);
  check('when mmsmon stops answering the page says so, with the data\'s age', stale && /not answering/.test(banner) && /old/.test(banner), banner);
  check('the jobs are still shown, dimmed as stale', (await rowKeys(page)).length === jobs.length &&
    await page.evaluate(() => document.body.classList.contains('is-stale')));
  await page.close();

  // ---- TLS and basic auth --------------------------------------------------------------
  const tlsProblems = [];
  const tls = await browser.newPage();
  watch(tls, 'tls', tlsProblems);
  await tls.authenticate({ username: 'prometheus', password: 'scrape-password' });
  await tls.goto(`${URL_TLS}?refresh=${REFRESH_S}`, { waitUntil: 'load' });
  await tls.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 2, { timeout: 15000 });
  check('over TLS with basic auth the page shows every job', (await rowKeys(tls)).length === jobs.length);
  const live = await tls.$eval('#banner', (b) => b.className);
  check('over TLS with basic auth the page is live', live.includes('live') && !live.includes('stale'), live);
  // The 401 that asks the browser for the password is expected; nothing else is.
  const unexpected = tlsProblems.filter((p) => !/HTTP 401/.test(p));
  check('over TLS: no console error and no failed request', unexpected.length === 0, unexpected.join('\n  '));
  await tls.close();

  // ---- 10,000 jobs ---------------------------------------------------------------------
  const bigProblems = [];
  const big = await browser.newPage();
  watch(big, 'big', bigProblems);
  await big.setViewport({ width: 1400, height: 900 });
  await big.goto(URL_BIG, { waitUntil: 'load' });
  await big.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, { timeout: 60000 });
  const shownJobs = await big.$eval('#s-jobs', (e) => e.textContent.replace(/\D/g, ''));
  check(`${BIG_JOBS} jobs: the summary counts them all`, Number(shownJobs) === BIG_JOBS, shownJobs);
  check(`${BIG_JOBS} jobs: one page of rows is in the document`, (await rowKeys(big)).length === 100);
  const first = await rowKeys(big);
  await big.keyboard.press(']');
  const second = await rowKeys(big);
  check(`${BIG_JOBS} jobs: "]" turns the page`, second.length === 100 && second[0] !== first[0]);
  await big.type('#filter', '1/9999');
  const one = await rowKeys(big);
  check(`${BIG_JOBS} jobs: the filter finds one job among them`, one.includes('1/9999'), JSON.stringify(one.slice(0, 3)));
  const figures = await big.evaluate(() => ({ fetchMs: document.body.dataset.fetchMs, renderMs: document.body.dataset.renderMs }));
  const t1 = Date.now();
  await big.evaluate(() => new Promise((resolve) => { const s = performance.now(); requestAnimationFrame(() => resolve(performance.now() - s)); }));
  check(`${BIG_JOBS} jobs: the page answers (a frame in ${Date.now() - t1} ms; last refresh fetched in ${figures.fetchMs} ms, rendered in ${figures.renderMs} ms)`, true);
  check(`${BIG_JOBS} jobs: no console error and no failed request`, bigProblems.length === 0, bigProblems.join('\n  '));
  await big.close();
} catch (e) {
  check(`the browser test ran to its end`, false, e.stack);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
