// Generates signing cases and signs each with Alibaba Cloud's official signer
// (@alicloud/openapi-util getAuthorization). Prints a JSON array; the C++ side
// (signer_crosscheck) recomputes every Authorization with mmsmon's signer and compares.
'use strict';
const OpenApiUtil = require('@alicloud/openapi-util').default;
const crypto = require('crypto');

const count = Number(process.argv[2] || 250);

// A small deterministic PRNG (mulberry32) so failures reproduce.
let seed = 0x5eed1234;
function rnd() {
  seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

// Pieces that stress the encoding rules: space, *, ~, /, +, %, non-ASCII, reserved marks.
const pieces = ['a', 'Z', '9', '-', '_', '.', '~', ' ', '*', '/', '+', '%', '%20', '!', "'", '(', ')',
  '=', '&', '?', '#', ':', '@', ',', ';', '$', '中', '文', 'é', '😀', 'abc', 'DATA_FAILED', '2000015'];
function text(maxLen) {
  const n = Math.floor(rnd() * (maxLen + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += pick(pieces);
  return s;
}
const keyChars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.';
function key() {
  const n = 1 + Math.floor(rnd() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += keyChars[Math.floor(rnd() * keyChars.length)];
  return s;
}
function headerValue() {
  // Leading/trailing spaces must be trimmed by both signers.
  return pick(['', ' ', '  ']) + text(6).replace(/\s+$/, '') + pick(['', ' ']);
}

const cases = [];
for (let i = 0; i < count; i++) {
  const segments = ['api', 'v1', 'mms', 'datasources', text(4), pick(['jobs', 'tasks']), text(3)];
  const pathname = '/' + segments.map((s) => OpenApiUtil.getEncodeParam(s)).join('/');
  const query = {};
  const nq = Math.floor(rnd() * 6);
  for (let q = 0; q < nq; q++) query[key()] = rnd() < 0.15 ? '' : text(5);
  const body = rnd() < 0.3 ? text(20) : '';
  const payload = crypto.createHash('sha256').update(Buffer.from(body, 'utf8')).digest('hex');
  const akid = 'LTAI' + key();
  const secret = rnd() < 0.2 ? 'sécret-' + text(3) : 'secret-' + key();
  const headers = {
    host: pick(['maxcompute.cn-hangzhou.aliyuncs.com', '127.0.0.1:8080', 'maxcompute-vpc.ap-southeast-1.aliyuncs.com']),
    'x-acs-action': pick(['GetMmsJob', 'ListMmsJobs', 'ListMmsTasks', 'ListMmsTaskLogs']),
    'x-acs-version': '2022-01-04',
    'x-acs-date': new Date(Date.UTC(2020 + Math.floor(rnd() * 7), Math.floor(rnd() * 12), 1 + Math.floor(rnd() * 28),
      Math.floor(rnd() * 24), Math.floor(rnd() * 60), Math.floor(rnd() * 60))).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': crypto.randomBytes(16).toString('hex'),
    'x-acs-content-sha256': payload,
    'user-agent': 'AlibabaCloud (test) ' + text(3),  // not signed
    accept: 'application/json',                       // not signed
  };
  if (rnd() < 0.4) {  // STS
    headers['x-acs-security-token'] = 'CAIS' + key() + key();
    headers['x-acs-accesskey-id'] = akid;
  }
  if (rnd() < 0.3) headers['content-type'] = pick(['application/json; charset=utf-8', 'application/x-www-form-urlencoded']);
  if (rnd() < 0.2) headers['X-Acs-Extra'] = headerValue();      // mixed case name
  if (rnd() < 0.1) headers['x-acs-extra'] = headerValue();      // same name twice
  if (rnd() < 0.2) headers['x-acs-' + key().toLowerCase().replace(/\./g, '-')] = headerValue();
  const method = pick(['GET', 'GET', 'POST', 'PUT', 'DELETE']);
  const request = { method, pathname, query, headers };
  const expected = OpenApiUtil.getAuthorization(request, 'ACS3-HMAC-SHA256', payload, akid, secret);
  cases.push({ method, segments, query: Object.entries(query), headers: Object.entries(headers),
    payload, access_key_id: akid, secret, expected });
}
process.stdout.write(JSON.stringify(cases));
