// The /ui console in a real browser: Debian's chromium, headless, driven by
// playwright-core against a `nexum serve` on a demo store. Every page loads
// without console errors and passes axe-core with no serious violation; a
// newly appended event shows in the live tail within 1 s; a rebuild started
// from the page shows its progress to 100 %. Screenshots go to
// BUILD_DIR/ui-screenshots/ for review.
//
//   node tests/ui/console_test.mjs NEXUM_BINARY BUILD_DIR
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axe = require('axe-core');

const [nexum, buildDir] = process.argv.slice(2);
if (!nexum || !buildDir) throw new Error('usage: console_test.mjs NEXUM_BINARY BUILD_DIR');
const TOKEN = 'ui-test-token';
const shots = path.join(buildDir, 'ui-screenshots');
const work = mkdtempSync(path.join(tmpdir(), 'nexum-ui-'));
let serve, base, context;

function startServe(data, tokenFile, extra = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(nexum, ['serve', '--data', data, '--http', '127.0.0.1:0', '--token-file', tokenFile, ...extra],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`nexum serve did not listen: ${out}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => reject(new Error(`nexum serve exited ${code}: ${out}`)));
  });
}

async function api(method, target, body) {
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` };
  const r = await fetch(base + target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

// A page of the console, watched for console errors and failed requests.
async function open(name) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.goto(`${base}/ui#${name}`);
  await page.waitForSelector(`#page-${name}:not([hidden])`);
  return { page, problems };
}

async function seriousViolations(page) {
  // evaluate() runs through the DevTools protocol, which the page's CSP
  // does not govern (a <script> tag with axe's source would be refused).
  await page.evaluate(axe.source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  const data = path.join(work, 'data');
  execFileSync(nexum, ['demo', '--customers', '20', '--data', data], { stdio: 'ignore' });
  const tokenFile = path.join(work, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const started = await startServe(data, tokenFile);
  serve = started.child;
  base = started.url;
  context = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
});

after(async () => {
  if (context) await context.close();
  if (serve) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
});

for (const name of ['overview', 'streams', 'projections', 'sagas', 'dlq']) {
  test(`${name} page loads without console errors and passes axe`, async () => {
    const { page, problems } = await open(name);
    if (name === 'overview') await page.waitForFunction(() => document.querySelectorAll('#outcomes tbody tr').length > 0);
    if (name === 'streams') await page.waitForSelector('#log-table tbody tr');
    if (name === 'projections') await page.waitForSelector('#projections-table tbody tr');
    if (name === 'sagas') {
      // An instance's steps and pending deadlines, as the API has them.
      await page.waitForSelector('#sagas-table tbody tr');
      const first = (await api('GET', '/sagas?limit=100')).json.instances[0];
      await page.click('#sagas-table tbody tr:first-child');
      await page.waitForSelector('#saga-detail:not([hidden])');
      assert.equal(await page.locator('#saga-steps li').count(), first.history.length);
      assert.ok(first.history.length > 0);
      assert.match(await page.locator('#saga-steps li').first().textContent(), new RegExp(first.history[0].input));
      assert.equal(await page.locator('#saga-deadlines tbody tr').count(), Math.max(1, Object.keys(first.deadlines).length));
    }
    if (name === 'dlq') await page.waitForFunction(() => /kept on Kafka only/.test(document.querySelector('#dlq-summary').textContent));
    await page.waitForTimeout(1200);  // a second refresh, so charts have two samples
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.deepEqual(problems, []);
    await page.close();
  });
}

// The samples /metrics has now, as the console parses them.
async function metricsNow(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels = {};
    if (m[3]) for (const p of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

test('the overview charts outcomes by command type as /metrics counts them', async () => {
  // One accepted and two rejected commands through the API.
  const deposit = await api('POST', '/commands/nexum.commands.transactions',
                            { action: 'deposit', account_id: 'acc_0001_chk', amount: '1.00', currency: 'USD' });
  assert.equal(deposit.status, 200, JSON.stringify(deposit.json));
  const tooMuch = await api('POST', '/commands/nexum.commands.transactions',
                            { action: 'withdraw', account_id: 'acc_0001_chk', amount: '999999999.00', currency: 'USD' });
  assert.equal(tooMuch.json.outcome, 'rejected', JSON.stringify(tooMuch.json));
  const nowhere = await api('POST', '/commands/nexum.commands.transactions',
                            { action: 'deposit', account_id: 'acc_nosuch', amount: '1.00', currency: 'USD' });
  assert.equal(nowhere.json.outcome, 'rejected', JSON.stringify(nowhere.json));

  const { page, problems } = await open('overview');
  const metrics = await metricsNow(base);
  const want = new Map();
  for (const m of metrics) {
    if (m.name !== 'nexum_commands_accepted_total' && m.name !== 'nexum_commands_rejected_by_action_total') continue;
    const r = want.get(m.labels.action) || { accepted: 0, rejected: 0 };
    r[m.name === 'nexum_commands_accepted_total' ? 'accepted' : 'rejected'] = m.value;
    want.set(m.labels.action, r);
  }
  assert.ok((want.get('transactions.deposit')?.accepted || 0) >= 1, JSON.stringify([...want]));
  assert.ok((want.get('transactions.withdraw')?.rejected || 0) >= 1, JSON.stringify([...want]));
  assert.ok((want.get('transactions.deposit')?.rejected || 0) >= 1, JSON.stringify([...want]));
  await page.waitForFunction((n) => document.querySelectorAll('#outcomes-by-type tbody tr').length === n, want.size);
  const rows = await page.locator('#outcomes-by-type tbody tr').evaluateAll(
    (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.deepEqual(rows, [...want.entries()].sort((a, b) => a[0].localeCompare(b[0]))
    .map(([action, r]) => [action, String(r.accepted), String(r.rejected)]));
  // The chart's bars carry the same counts.
  for (const [action, r] of want) {
    assert.equal(await page.locator(`#chart-outcomes text[data-action="${action}"]`).textContent(),
                 `${r.accepted} / ${r.rejected}`);
  }
  await page.screenshot({ path: path.join(shots, 'overview-outcomes.png'), fullPage: true });
  assert.deepEqual(await seriousViolations(page), []);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a newly appended event shows in the live tail within 1 s', async () => {
  const { page, problems } = await open('streams');
  await page.waitForSelector('#log-table tbody tr');
  await page.check('#log-tail');
  // The tail starts at the newest page: wait for the last stored event.
  const { json: probe } = await api('GET', '/log?from=1&limit=1');
  await page.waitForSelector(`#log-table tbody tr[data-position="${probe.last_position}"]`);
  const published = await api('POST', '/kafka/publish-test?topic=nexum.ui.test&event_type=ui_probe&entity_type=probe&entity_id=p1',
                               { hello: 'console' });
  assert.equal(published.status, 200, JSON.stringify(published.json));
  const t0 = Date.now();
  await page.waitForSelector(`#log-table tbody tr[data-position="${published.json.position}"]`, { timeout: 1000 });
  const took = Date.now() - t0;
  assert.ok(took <= 1000, `shown after ${took} ms`);
  await page.click(`#log-table tbody tr[data-position="${published.json.position}"]`);
  assert.match(await page.locator('#event-json').textContent(), /"hello": "console"/);
  await page.screenshot({ path: path.join(shots, 'streams-live-tail.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('a rebuild started from the page shows its progress to 100 %', async () => {
  const { page, problems } = await open('projections');
  await page.fill('#token', TOKEN);
  await page.click('#token-form button[type=submit]');
  assert.equal(await page.locator('#token-state').textContent(), 'token kept for this tab');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie is set');
  await page.waitForSelector('button[data-rebuild="topic_stats"]');
  const answered = page.waitForResponse((r) => r.url().endsWith('/projections/topic_stats/rebuild'));
  await page.click('button[data-rebuild="topic_stats"]');
  const response = await answered;
  assert.equal(response.status(), 202);
  assert.equal(response.request().headers().authorization, `Bearer ${TOKEN}`);
  await page.waitForFunction(() => document.querySelector('.pct[data-projection="topic_stats"]')?.textContent.trim() === '100%',
                             null, { timeout: 20000 });
  await page.screenshot({ path: path.join(shots, 'projections-rebuilt.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('an action without the token is refused and says so on the page', async () => {
  const { page } = await open('projections');
  await page.evaluate(() => sessionStorage.clear());
  await page.waitForSelector('button[data-rebuild="account_balances"]');
  await page.click('button[data-rebuild="account_balances"]');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.locator('#error').textContent(), /401/);
  await page.close();
});

test('streams search by prefix pages on the server', async () => {
  const { page, problems } = await open('streams');
  await page.waitForSelector('#log-table tbody tr');
  await page.fill('#log-prefix', 'account-acc_0001');
  await page.fill('#log-from', '1');
  const answered = page.waitForResponse((r) => r.url().includes('stream_prefix=account-acc_0001'));
  await page.click('#log-form button[type=submit]');
  assert.equal((await answered).status(), 200);
  await page.waitForFunction(() => document.querySelectorAll('#log-table tbody tr').length > 0);
  const streams = await page.locator('#log-table tbody tr td:nth-child(2)').allTextContents();
  assert.ok(streams.length > 0);
  for (const s of streams) assert.ok(s.startsWith('account-acc_0001'), s);
  assert.deepEqual(problems, []);
  await page.close();
});

// Dead letters need Kafka: a second service on `nexum kafka-mock`, first
// refusing unknown fields (a deposit with one is dead-lettered), then
// restarted with the default (warn), when a re-drive from the page produces
// the command's outcome.
test('a re-drive from the dead-letters page produces the command\'s outcome', async (t) => {
  const mock = spawn(nexum, ['kafka-mock', '--brokers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => mock.kill('SIGTERM'));
  const bootstrap = await new Promise((resolve, reject) => {
    let out = '';
    mock.stdout.on('data', (d) => {
      out += d;
      const m = /(127\.0\.0\.1:[0-9]+)/.exec(out);
      if (m) resolve(m[1]);
    });
    mock.on('exit', (code) => reject(new Error(`kafka-mock exited ${code}: ${out}`)));
  });
  const data = path.join(work, 'kafka-data');
  const tokenFile = path.join(work, 'token');
  const strict = path.join(work, 'strict.json');
  writeFileSync(strict, JSON.stringify({ 'commands.unknown_fields': 'reject' }));
  const kafka = ['--bus', 'kafka', '--kafka', bootstrap];
  const waitReady = async (url) => {
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${url}/ready`).catch(() => null);
      if (r && r.status === 200) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('not ready within 60 s');
  };
  const stop = async (child) => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); };

  let svc = await startServe(data, tokenFile, [...kafka, '--config', strict]);
  let id;
  try {
    await waitReady(svc.url);
    const command = JSON.stringify({
      event_id: '0190f5c4-0000-7000-8000-00000000dead', event_type: 'transaction_command',
      timestamp: '2026-12-07T12:00:00+00:00', source: 'ui-test', version: '1.0', entity_type: null, entity_id: null,
      data: { action: 'deposit', account_id: 'acc_ui', amount: '5.00', currency: 'USD', terminal: 'T-1' },
      metadata: {},
    });
    execFileSync('kcat', ['-P', '-b', bootstrap, '-t', 'nexum.commands.transactions', '-k', 'acc_ui'], { input: command });
    let listed;
    for (let i = 0; i < 300; i++) {
      listed = await (await fetch(`${svc.url}/dlq`)).json();
      if (listed.total === 1) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(listed.total, 1, JSON.stringify(listed));
    id = listed.dead_letters[0].id;
    assert.equal(listed.dead_letters[0].key, 'acc_ui');
  } finally {
    await stop(svc.child);
  }

  svc = await startServe(data, tokenFile, kafka);
  try {
    await waitReady(svc.url);
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${svc.url}/ui#dlq`);
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    const rowOf = `#dlq-table tbody tr[data-id="${id}"]`;
    await page.waitForSelector(rowOf);
    assert.match(await page.locator(rowOf).textContent(), /pending/);
    await page.click(rowOf);
    await page.waitForFunction(() => /terminal: unknown field/.test(document.querySelector('#dlq-json').textContent));
    await page.screenshot({ path: path.join(shots, 'dlq.png'), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    await page.click(`button[data-redrive="${id}"]`);
    await page.waitForFunction(() => /rejected \(deposit/.test(document.querySelector('#dlq-result').textContent),
                               null, { timeout: 20000 });
    assert.match(await page.locator('#dlq-result').textContent(),
                 new RegExp(`re-drove ${id} to nexum\\.commands\\.transactions \\[\\d+\\] @\\d+: rejected \\(deposit on .*: account_not_found`));
    await page.waitForFunction((sel) => /resolved/.test(document.querySelector(sel)?.textContent || ''), rowOf);
    await page.screenshot({ path: path.join(shots, 'dlq-redriven.png'), fullPage: true });

    // The overview on Kafka: consumer lag per command topic partition, as
    // /kafka/status has it (nothing is produced now, so the figures stay).
    await page.goto(`${svc.url}/ui#overview`);
    let status;
    for (let i = 0; i < 100; i++) {
      status = await (await fetch(`${svc.url}/kafka/status`)).json();
      if (status.consumer_lag.up && status.consumer_lag.total === 0 && status.consumer_lag.topics['nexum.commands.transactions'].by_partition
        .some((p) => p.committed !== null)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const wantLag = [];
    for (const [topic, t] of Object.entries(status.consumer_lag.topics)) {
      for (const p of t.by_partition) {
        wantLag.push([topic, String(p.partition), p.committed === null ? 'none' : String(p.committed),
                      String(p.high_watermark), String(p.lag), t.group]);
      }
    }
    assert.ok(wantLag.some((r) => r[0] === 'nexum.commands.transactions' && r[2] !== 'none'), JSON.stringify(status));
    const lagRows = () => page.locator('#consumer-lag tbody tr').evaluateAll(
      (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    await page.waitForFunction((n) => document.querySelectorAll('#consumer-lag tbody tr').length === n, wantLag.length);
    const key = (r) => `${r[0]} ${r[1].padStart(4)}`;
    const sorted = (rows) => rows.sort((a, b) => key(a).localeCompare(key(b)));
    wantLag.sort((a, b) => key(a).localeCompare(key(b)));
    // The page refreshes from the probe's answer each second; the table it
    // drew before the final commit may trail /kafka/status by one round.
    let shown = sorted(await lagRows());
    for (let i = 0; i < 100 && JSON.stringify(shown) !== JSON.stringify(wantLag); i++) {
      await new Promise((res) => setTimeout(res, 100));
      shown = sorted(await lagRows());
    }
    assert.deepEqual(shown, wantLag);
    assert.match(await page.locator('#consumer-lag-age').textContent(), /as Kafka answered [0-9.]+ s ago/);
    await page.screenshot({ path: path.join(shots, 'overview-kafka.png'), fullPage: true });
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    await stop(svc.child);
  }
});
