// view.js - what the page shows, drawn from the monitor's state. Every
// value is set as text (textContent), never as markup.
export const FEED_ROWS_MAX = 50;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') {
      node.className = value;
    } else if (key.startsWith('data-')) {
      node.setAttribute(key, value);
    } else {
      node[key] = value;
    }
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function seconds(text) {
  const s = Number(text);
  if (!Number.isFinite(s)) {
    return text === '+Inf' ? '> 10 s' : '-';
  }
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms` : `${s.toFixed(1)} s`;
}

// The figure cards from the $SYS/broker/fogpay/ figures (a Map).
export function showFigures(figures) {
  const get = (leaf) => figures.get(leaf) ?? '-';
  setText('fig-settled', get('intents/settled'));
  setText('fig-refused', get('intents/refused'));
  setText('fig-holds', get('holds/open'));
  setText('fig-backlog', get('sync/backlog'));
  setText('fig-age', figures.has('sync/oldest_unacked_age') ? seconds(get('sync/oldest_unacked_age')) : '-');
  setText('fig-connected', get('devices/connected'));
  setText('fig-suspended', get('devices/suspended'));
  setText('fig-arrears', get('plans/arrears'));
  setText('fig-commit', figures.has('commit/latency/minute/p99') ? seconds(get('commit/latency/minute/p99')) : '-');
}

// One line of the live feed at the top of its table.
export function addFeedRow(entry) {
  const body = document.querySelector('#feed tbody');
  const time = new Date(entry.time).toISOString().slice(11, 19);
  const detail = entry.status === 'rejected' ? entry.reason : entry.transfer ?? '';
  const amount = entry.amount ? `${entry.amount} ${entry.currency}` : '';
  const row = el('tr', { class: entry.status, 'data-device': entry.device, 'data-status': entry.status },
    el('td', {}, time), el('td', {}, entry.device), el('td', {}, entry.seq),
    el('td', {}, entry.status), el('td', {}, amount), el('td', {}, entry.payee ?? ''),
    el('td', {}, detail));
  body.prepend(row);
  while (body.rows.length > FEED_ROWS_MAX) {
    body.deleteRow(body.rows.length - 1);
  }
}

function limitInput(name, value) {
  return el('input', { name, value, title: name, 'data-field': name });
}

// The devices table; act(device, action, fields) runs an operator action.
export function showDevices(devices, currency, act) {
  const body = document.querySelector('#devices tbody');
  body.replaceChildren();
  for (const d of devices) {
    const suspended = d.status === 'suspended';
    const toggle = el('button', { type: 'button', 'data-action': suspended ? 'resume' : 'suspend' },
      suspended ? 'Resume' : 'Suspend');
    toggle.addEventListener('click', () => act(d.device, suspended ? 'resume' : 'suspend'));
    const perPayment = limitInput('perPayment', d.perPayment);
    const perDay = limitInput('perDay', d.perDay);
    const walletMax = limitInput('walletMax', d.walletMax);
    const limits = el('button', { type: 'button', 'data-action': 'limits' }, 'Set limits');
    limits.addEventListener('click', () => act(d.device, 'limits', {
      perPayment: perPayment.value, perDay: perDay.value, walletMax: walletMax.value,
    }));
    const amount = el('input', { name: 'amount', placeholder: '0.00', 'data-field': 'amount' });
    const fund = el('button', { type: 'button', 'data-action': 'fund' }, 'Fund');
    fund.addEventListener('click', () => act(d.device, 'fund', { amount: amount.value }));
    body.append(el('tr', { class: d.status, 'data-device': d.device },
      el('td', {}, d.device), el('td', { class: 'status-cell', 'data-field': 'status' }, d.status),
      el('td', { 'data-field': 'balance' }, `${d.balance} ${currency}`),
      el('td', {}, d.held), el('td', {}, perPayment), el('td', {}, perDay), el('td', {}, walletMax),
      el('td', { class: 'actions' }, toggle, limits, amount, fund)));
  }
}

export function showHolds(holds) {
  const body = document.querySelector('#holds tbody');
  body.replaceChildren(...holds.map((h) => el('tr', {},
    el('td', {}, h.id), el('td', {}, h.payer), el('td', {}, h.payee ?? `account ${h.payeeAccount}`),
    el('td', {}, `${h.amount} ${h.currency}`), el('td', {}, new Date(h.expires).toISOString()))));
}

// Plans, with their device's status: a plan whose device the gateway
// suspended (its shortfall rule) shows it.
export function showPlans(plans, devices) {
  const status = new Map(devices.map((d) => [d.device, d.status]));
  const latest = new Map(plans.map((p) => [p.plan, p]));
  const body = document.querySelector('#plans tbody');
  body.replaceChildren(...[...latest.values()].filter((p) => !p.closed).map((p) => el('tr', {},
    el('td', {}, p.plan), el('td', {}, p.device), el('td', {}, `${p.principal} ${p.currency}`),
    el('td', {}, p.instalments), el('td', {}, status.get(p.device) ?? '-'))));
}

// The plans in arrears (listArrears, open ones): what each owes since
// when, the first late instalment and why the gateway did not collect it.
export function showArrears(arrears) {
  const body = document.querySelector('#arrears tbody');
  body.replaceChildren(...arrears.map((a) => el('tr', { 'data-plan': a.plan, 'data-device': a.device },
    el('td', { 'data-field': 'plan' }, a.plan), el('td', { 'data-field': 'device' }, a.device),
    el('td', { 'data-field': 'owed' }, `${a.owed} ${a.currency}`),
    el('td', { 'data-field': 'since' }, new Date(a.entered).toISOString()),
    el('td', {}, a.instalment), el('td', {}, a.reason),
    el('td', { 'data-field': 'suspended' }, a.suspended ? 'yes' : 'no'))));
}

export function showConnection(on, text) {
  const badge = document.getElementById('connection');
  badge.textContent = text;
  badge.className = `status ${on ? 'on' : 'off'}`;
}

export function showResult(text) {
  setText('action-result', text);
}
