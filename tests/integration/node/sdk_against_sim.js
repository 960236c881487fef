// Alibaba Cloud's official generic client (@alicloud/openapi-client, callApi, ROA) talks to
// mms-sim over loopback. Usage: node sdk_against_sim.js PORT
'use strict';
const OpenApi = require('@alicloud/openapi-client');
const OpenApiUtil = require('@alicloud/openapi-util').default;
const Util = require('@alicloud/tea-util');
const http = require('http');
const crypto = require('crypto');

const port = Number(process.argv[2]);
let passed = 0, failed = 0;
function check(name, cond, detail) {
  if (cond) { passed++; console.log('ok   ' + name); }
  else { failed++; console.log('FAIL ' + name + (detail ? ': ' + detail : '')); }
}

function client(secret) {
  const config = new OpenApi.Config({
    accessKeyId: 'sdk-id', accessKeySecret: secret,
    endpoint: '127.0.0.1:' + port, protocol: 'http', readTimeout: 5000, connectTimeout: 5000,
  });
  return new OpenApi.default(config);
}

function params(action, pathname) {
  return new OpenApi.Params({ action, version: '2022-01-04', protocol: 'HTTP', pathname, method: 'GET',
    authType: 'AK', style: 'ROA', reqBodyType: 'json', bodyType: 'json' });
}

async function call(c, action, pathname, query) {
  return c.callApi(params(action, pathname), new OpenApi.OpenApiRequest({ query: query || {} }),
    new Util.RuntimeOptions({ autoretry: false }));
}

function raw(path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

(async () => {
  const good = client('sdk-secret');
  try {
    const r = await call(good, 'GetMmsJob', '/api/v1/mms/datasources/7/jobs/1');
    check('GetMmsJob with the right secret: 200', r.statusCode === 200, String(r.statusCode));
    check('GetMmsJob body read by the SDK', r.body && r.body.data && r.body.data.name === 'orders',
      JSON.stringify(r.body));
  } catch (e) { check('GetMmsJob with the right secret', false, e.code + ' ' + e.message); }

  try {
    const r = await call(good, 'ListMmsJobs', '/api/v1/mms/datasources/7/jobs',
      { pageNum: '1', pageSize: '2', name: 'o' });
    check('ListMmsJobs with query: 200', r.statusCode === 200, String(r.statusCode));
    const d = r.body && r.body.data;
    check('ListMmsJobs page read by the SDK', d && d.pageSize === 2 && Array.isArray(d.objectList) &&
      d.objectList.length >= 1, JSON.stringify(r.body));
  } catch (e) { check('ListMmsJobs with the right secret', false, e.code + ' ' + e.message); }

  for (const [action, path] of [['GetMmsJob', '/api/v1/mms/datasources/7/jobs/1'],
                                ['ListMmsJobs', '/api/v1/mms/datasources/7/jobs']]) {
    try {
      await call(client('wrong-secret'), action, path, action === 'ListMmsJobs' ? { pageNum: '1' } : {});
      check(action + ' with a wrong secret is refused', false, 'got a 200');
    } catch (e) {
      check(action + ' with a wrong secret: SignatureDoesNotMatch', e.code === 'SignatureDoesNotMatch',
        e.code + ' ' + e.message);
    }
  }

  // A request signed by the official signer, then tampered with after signing.
  const nonce = crypto.randomBytes(16).toString('hex');
  const headers = {
    host: '127.0.0.1:' + port, 'x-acs-action': 'ListMmsJobs', 'x-acs-version': '2022-01-04',
    'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), 'x-acs-signature-nonce': nonce,
    'x-acs-content-sha256': crypto.createHash('sha256').update('').digest('hex'),
  };
  const pathname = '/api/v1/mms/datasources/7/jobs';
  headers.authorization = OpenApiUtil.getAuthorization({ method: 'GET', pathname, query: { pageNum: '1' }, headers },
    'ACS3-HMAC-SHA256', headers['x-acs-content-sha256'], 'sdk-id', 'sdk-secret');
  const tampered = await raw(pathname + '?pageNum=2', headers);
  check('tampered query is refused', tampered.status === 400 && tampered.body.includes('SignatureDoesNotMatch'),
    tampered.status + ' ' + tampered.body);
  const original = await raw(pathname + '?pageNum=1', headers);
  check('the untampered request is accepted', original.status === 200, original.status + ' ' + original.body);
  const replay = await raw(pathname + '?pageNum=1', headers);
  check('replaying it is refused: SignatureNonceUsed',
    replay.status === 400 && replay.body.includes('SignatureNonceUsed'), replay.status + ' ' + replay.body);

  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
