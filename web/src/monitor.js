// monitor.js - the fogpay gateway's live web monitor. It logs in to the
// gateway's Mosquitto over its websockets listener as an operator, reads
// the plugin's figures and live feed under $SYS/broker/fogpay/ (retained
// figures at once, then every plugin_opt_metrics_interval; the feed with
// plugin_opt_metrics_live true), and asks the control topic for the
// devices (listDevices), the open holds (holdList) and the financing plans
// (listPlans). Its actions (suspend, resume, set limits, fund) are the
// control commands fogpayctl sends. Nothing but the broker is contacted.
import mqtt from 'mqtt';

import { RateChart } from './chart.js';
import { CONTROL_RESPONSE_TOPIC, ControlChannel } from './control.js';
import * as view from './view.js';

const METRICS_ROOT = '$SYS/broker/fogpay/';
const LIVE_TOPIC = `${METRICS_ROOT}live`;
const REFRESH_MS = 10000;
const FEED_REFRESH_DELAY_MS = 500;
// CONNACK codes of a refused login: MQTT 3.1.1 (bad credentials, not
// authorised) and MQTT 5 (the same two).
const LOGIN_REFUSED = [4, 5, 134, 135];

const state = {
  client: null,
  control: null,
  currency: 'EUR',
  figures: new Map(),
  devices: [],
  refreshTimer: null,
  feedTimer: null,
  drawPending: false,
};
const chart = new RateChart(document.getElementById('rate'));

function redraw() {
  if (state.drawPending) {
    return;
  }
  state.drawPending = true;
  requestAnimationFrame(() => {
    state.drawPending = false;
    view.showFigures(state.figures);
    chart.draw(Date.now());
  });
}

async function refreshLists() {
  const { control, currency } = state;
  try {
    const [devices, holds, plans, arrears] = await Promise.all([
      control.send({ command: 'listDevices', currency }),
      control.send({ command: 'holdList' }),
      control.send({ command: 'listPlans' }),
      control.send({ command: 'listArrears' }),
    ]);
    state.devices = devices.devices || [];
    view.showDevices(state.devices, devices.currency || currency, act);
    view.showHolds(holds.holds || []);
    view.showPlans(plans.plans || [], state.devices);
    view.showArrears(arrears.arrears || []);
  } catch (err) {
    view.showResult(err.message);
  }
}

// An operator action on a device, then the lists again.
async function act(device, action, fields = {}) {
  const { control, currency } = state;
  const commands = {
    suspend: { command: 'suspendDevice', device },
    resume: { command: 'resumeDevice', device },
    limits: { command: 'setLimits', device, currency, ...fields },
    fund: { command: 'fundWallet', device, currency, amount: fields.amount, reference: 'monitor' },
  };
  try {
    await control.send(commands[action]);
    view.showResult(`${action} ${device}: done`);
  } catch (err) {
    view.showResult(`${action} ${device}: ${err.message}`);
  }
  await refreshLists();
}

function onMessage(topic, payload) {
  const text = payload.toString();
  if (topic === CONTROL_RESPONSE_TOPIC) {
    state.control.onResponse(text);
  } else if (topic === LIVE_TOPIC) {
    try {
      view.addFeedRow(JSON.parse(text));
    } catch {
      return;
    }
    clearTimeout(state.feedTimer);
    state.feedTimer = setTimeout(refreshLists, FEED_REFRESH_DELAY_MS);
  } else if (topic.startsWith(METRICS_ROOT)) {
    const leaf = topic.slice(METRICS_ROOT.length);
    state.figures.set(leaf, text);
    if (leaf === 'intents/settled') {
      chart.add(Date.now(), Number(text));
    }
    redraw();
  }
}

function connect(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  state.currency = String(form.get('currency') || 'EUR').toUpperCase();
  if (state.client) {
    state.client.end(true);
  }
  const client = mqtt.connect(String(form.get('broker')), {
    username: String(form.get('user')),
    password: String(form.get('password')),
    clientId: `fogpay-monitor-${Math.random().toString(36).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: 2000,
    connectTimeout: 5000,
  });
  state.client = client;
  state.control = new ControlChannel(client);
  client.on('connect', () => {
    document.getElementById('login-error').textContent = '';
    view.showConnection(true, `connected as ${form.get('user')}`);
    client.subscribe([`${METRICS_ROOT}#`, CONTROL_RESPONSE_TOPIC], { qos: 0 }, () => refreshLists());
    document.getElementById('board').hidden = false;
    clearInterval(state.refreshTimer);
    state.refreshTimer = setInterval(refreshLists, REFRESH_MS);
  });
  client.on('message', onMessage);
  client.on('error', (err) => {
    document.getElementById('login-error').textContent = err.message;
    view.showConnection(false, 'not connected');
    if (LOGIN_REFUSED.includes(err.code)) {
      client.end(true); // the same login would be refused again
    }
  });
  client.on('close', () => view.showConnection(false, 'not connected'));
}

function start() {
  const broker = document.getElementById('broker');
  const params = new URLSearchParams(location.search);
  const wsScheme = location.protocol === 'https:' ? 'wss' : 'ws';
  broker.value = params.get('broker') || (location.host ? `${wsScheme}://${location.host}` : '');
  document.getElementById('user').value = params.get('user') || '';
  document.getElementById('login').addEventListener('submit', connect);
  document.getElementById('refresh').addEventListener('click', refreshLists);
  setInterval(() => chart.draw(Date.now()), 1000);
}

start();
