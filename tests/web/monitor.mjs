// monitor.mjs - drives the web monitor in Debian's headless Chromium with
// playwright-core, for tests/web/test_web_monitor.c, which runs the
// gateway and pays with the real agent meanwhile. The handshake is two
// files in FOGPAY_SYNC_DIR: this script writes "ready" once the page is
// logged in and shows the devices, and waits for "paid" (three payments
// settled, one refused and a hold made by then). It then checks what the
// page shows, meter-9's plan among the plans in arrears with what it owes
// and since when (that time written to FOGPAY_SYNC_DIR/arrears-since),
// clicks Suspend on car-7, funds charger-1 with 2.00 and sets its
// per-payment limit to 15.00, checks each, and saves a screenshot to
// FOGPAY_MONITOR_SCREENSHOT (also when a check fails). Exit 0: all held.
//
// env: FOGPAY_MONITOR_URL, FOGPAY_OPERATOR, FOGPAY_OPERATOR_PASSWORD,
// FOGPAY_SYNC_DIR, FOGPAY_MONITOR_SCREENSHOT, FOGPAY_CHROMIUM,
// FOGPAY_WEB_DIR (where node_modules is), FOGPAY_EXPECT_BALANCE (car-7's),
// FOGPAY_EXPECT_ARREARS (what meter-9's plan owes).
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const env = process.env;
const require = createRequire(join(env.FOGPAY_WEB_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const WAIT_MS = 20000;

function check(condition, what) {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
  console.log(`ok: ${what}`);
}

async function waitForFile(path) {
  const until = Date.now() + 60000;
  while (!existsSync(path)) {
    if (Date.now() > until) {
      throw new Error(`${path} did not appear`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function text(page, selector) {
  return (await page.locator(selector).first().textContent()).trim();
}

async function waitText(page, selector, want) {
  await page.waitForFunction(([s, w]) => {
    const node = document.querySelector(s);
    return node && node.textContent.trim() === w;
  }, [selector, want], { timeout: WAIT_MS });
  check((await text(page, selector)) === want, `${selector} shows ${want}`);
}

async function run(page) {
  await page.goto(env.FOGPAY_MONITOR_URL);
  // A wrong password is refused, and the page says so.
  await page.fill('#user', env.FOGPAY_OPERATOR);
  await page.fill('#password', 'not-the-password');
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('login-error').textContent !== '', null,
    { timeout: WAIT_MS });
  check((await text(page, '#connection')) === 'not connected' && await page.locator('#board').isHidden(),
    `a wrong password is refused: ${await text(page, '#login-error')}`);
  await page.fill('#user', env.FOGPAY_OPERATOR);
  await page.fill('#password', env.FOGPAY_OPERATOR_PASSWORD);
  await page.click('#connect');
  await waitText(page, '#connection', `connected as ${env.FOGPAY_OPERATOR}`);
  await page.waitForSelector('#devices tr[data-device="car-7"]', { timeout: WAIT_MS });
  await page.waitForSelector('#devices tr[data-device="charger-1"]', { timeout: WAIT_MS });
  check(await page.locator('#devices tr[data-device="car-7"] [data-field="status"]').textContent() === 'active',
    'car-7 is active');
  writeFileSync(join(env.FOGPAY_SYNC_DIR, 'ready'), '');
  await waitForFile(join(env.FOGPAY_SYNC_DIR, 'paid'));

  // The live feed: three settled, one refused with its reason.
  await page.waitForFunction(() => document.querySelectorAll('#feed tr[data-status="settled"]').length >= 3,
    null, { timeout: WAIT_MS });
  await page.waitForSelector('#feed tr[data-status="rejected"]', { timeout: WAIT_MS });
  const refused = await page.locator('#feed tr[data-status="rejected"]').first().textContent();
  check(refused.includes('limit_per_payment') && refused.includes('car-7') && refused.includes('25.00 EUR'),
    `the refusal shows its reason: ${refused}`);
  const settled = await page.locator('#feed tr[data-status="settled"]').allTextContents();
  check(settled.some((row) => row.includes('car-7') && row.includes('4.20 EUR') && row.includes('charger-1')),
    'a settled payment of car-7 shows its amount and payee');

  // The figures from $SYS/broker/fogpay/ and the chart.
  await waitText(page, '#fig-settled', '4'); // the hold moved money too
  await waitText(page, '#fig-refused', '1');
  await waitText(page, '#fig-backlog', '7');
  await waitText(page, '#fig-holds', '1');
  await waitText(page, '#fig-arrears', '1');
  await page.waitForFunction(() => Number(document.getElementById('rate').dataset.peak) > 0, null,
    { timeout: WAIT_MS });
  check(true, 'the settlement rate chart has drawn a rate above zero');

  // The hold charger-1 made, and meter-9's plan.
  await page.waitForFunction(() => document.querySelector('#holds tbody').textContent.includes('5.00 EUR'),
    null, { timeout: WAIT_MS });
  const hold = await page.locator('#holds tbody tr').first().textContent();
  check(hold.includes('charger-1') && hold.includes('car-7'), `the open hold shows: ${hold}`);
  const plan = await page.locator('#plans tbody tr').first().textContent();
  check(plan.includes('meter-9-loan') && plan.includes('100.00 EUR'), `the plan shows: ${plan}`);

  // meter-9's plan named among the plans in arrears, with what it owes
  // since when; the time shown goes to FOGPAY_SYNC_DIR/arrears-since for
  // the test to compare with the ledger's.
  const arrears = '#arrears tr[data-plan="meter-9-loan"]';
  await page.waitForSelector(arrears, { timeout: WAIT_MS });
  check(await text(page, `${arrears} [data-field="device"]`) === 'meter-9', 'the plan in arrears is meter-9\'s');
  await waitText(page, `${arrears} [data-field="owed"]`, `${env.FOGPAY_EXPECT_ARREARS} EUR`);
  const since = await text(page, `${arrears} [data-field="since"]`);
  const sinceMs = Date.parse(since);
  check(Number.isFinite(sinceMs) && sinceMs <= Date.now() && sinceMs > Date.now() - 10 * 60000,
    `the plan is in arrears since ${since}`);
  writeFileSync(join(env.FOGPAY_SYNC_DIR, 'arrears-since'), since);

  // The devices' balances follow the payments.
  await waitText(page, '#devices tr[data-device="car-7"] [data-field="balance"]',
    `${env.FOGPAY_EXPECT_BALANCE} EUR`);

  // Suspend car-7 from the page.
  await page.click('#devices tr[data-device="car-7"] button[data-action="suspend"]');
  await waitText(page, '#devices tr[data-device="car-7"] [data-field="status"]', 'suspended');
  await page.waitForSelector('#devices tr[data-device="car-7"] button[data-action="resume"]', { timeout: WAIT_MS });
  await waitText(page, '#fig-suspended', '1');
  await waitText(page, '#action-result', 'suspend car-7: done');

  // Fund charger-1 and set its per-payment limit from the page.
  const charger = '#devices tr[data-device="charger-1"]';
  await page.fill(`${charger} input[data-field="amount"]`, '2.00');
  await page.click(`${charger} button[data-action="fund"]`);
  await waitText(page, '#action-result', 'fund charger-1: done');
  await waitText(page, `${charger} [data-field="balance"]`, '53.55 EUR');
  await page.fill(`${charger} input[data-field="perPayment"]`, '15.00');
  await page.click(`${charger} button[data-action="limits"]`);
  await waitText(page, '#action-result', 'limits charger-1: done');
  await page.waitForFunction((s) => document.querySelector(`${s} input[data-field="perPayment"]`).value === '15.00',
    charger, { timeout: WAIT_MS });
  check(true, 'charger-1 shows its new per-payment limit 15.00');
}

const browser = await chromium.launch({
  executablePath: env.FOGPAY_CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let status = 0;
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
try {
  await run(page);
} catch (err) {
  console.log(err.message);
  status = 1;
}
await page.screenshot({ path: env.FOGPAY_MONITOR_SCREENSHOT, fullPage: true });
console.log(`screenshot: ${env.FOGPAY_MONITOR_SCREENSHOT}`);
await browser.close();
process.exit(status);
