// The status page with a big fleet, in Debian's chromium: how long the first view, each
// refresh (fetch and parse of /api/v1/jobs, then render), a sort and a filter take.
// Usage: node page_bench.mjs URL   (tests/bench/page_bench.sh starts what it needs)
import puppeteer from 'puppeteer-core';
const url = process.argv[2];
const b = await puppeteer.launch({executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']});
const p = await b.newPage();
await p.setViewport({width: 1400, height: 900});
const t0 = Date.now();
await p.goto(url + '?refresh=2', {waitUntil: 'load'});
await p.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, {timeout: 60000});
console.log('first view after', Date.now() - t0, 'ms');
const rows = [];
for (let i = 2; i <= 6; i++) {
  await p.waitForFunction((k) => Number(document.body.dataset.refreshes || 0) >= k, {timeout: 60000}, i);
  rows.push(await p.evaluate(() => [document.body.dataset.fetchMs, document.body.dataset.renderMs]));
}
console.log('fetch/render ms per refresh:', JSON.stringify(rows));
const t1 = Date.now();
await p.click('th[data-sort="progress"] button');
console.log('sort by progress:', Date.now() - t1, 'ms');
const t2 = Date.now();
await p.type('#filter', '1/99');
console.log('type a 4-character filter:', Date.now() - t2, 'ms');
const m = await p.metrics();
console.log('JS heap', Math.round(m.JSHeapUsedSize / 1e6), 'MB');
await b.close();
