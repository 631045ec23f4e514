// chart.js - the settlement rate over the last minutes on a canvas: the
// gateway's counter of settled messages (intents/settled) sampled at each
// metrics publication, drawn as settled a second between samples.
export const CHART_WINDOW_MS = 5 * 60 * 1000;

export class RateChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.samples = []; // {t: ms, settled: count}
  }

  // A new reading of the counter at time t (ms).
  add(t, settled) {
    const last = this.samples[this.samples.length - 1];
    if (last && settled < last.settled) {
      this.samples = []; // the gateway restarted: its counter did too
    }
    this.samples.push({ t, settled });
    while (this.samples.length > 2 && this.samples[0].t < t - CHART_WINDOW_MS) {
      this.samples.shift();
    }
  }

  // The rates between samples: [{t, rate}] (settled a second).
  rates() {
    const out = [];
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1];
      const b = this.samples[i];
      if (b.t > a.t) {
        out.push({ t: b.t, rate: ((b.settled - a.settled) * 1000) / (b.t - a.t) });
      }
    }
    return out;
  }

  draw(now) {
    const ctx = this.canvas.getContext('2d');
    const { width, height } = this.canvas;
    const rates = this.rates();
    const top = Math.max(1, ...rates.map((r) => r.rate)) * 1.2;
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = '#f8f9fb';
    ctx.fillRect(0, 0, width, height);
    ctx.strokeStyle = '#dde';
    ctx.fillStyle = '#667';
    ctx.font = '11px system-ui, sans-serif';
    for (let i = 0; i <= 4; i++) {
      const y = height - 16 - ((height - 28) * i) / 4;
      ctx.beginPath();
      ctx.moveTo(40, y);
      ctx.lineTo(width, y);
      ctx.stroke();
      ctx.fillText(((top * i) / 4).toFixed(top < 8 ? 1 : 0), 4, y + 4);
    }
    for (let m = 0; m <= 5; m++) {
      ctx.fillText(m === 0 ? 'now' : `-${m} min`, width - 30 - ((width - 70) * m) / 5, height - 2);
    }
    const x = (t) => width - 10 - ((width - 50) * (now - t)) / CHART_WINDOW_MS;
    const y = (rate) => height - 16 - ((height - 28) * rate) / top;
    ctx.strokeStyle = '#2e6fd8';
    ctx.lineWidth = 2;
    ctx.beginPath();
    rates.forEach((r, i) => (i === 0 ? ctx.moveTo(x(r.t), y(r.rate)) : ctx.lineTo(x(r.t), y(r.rate))));
    ctx.stroke();
    const last = rates[rates.length - 1];
    this.canvas.dataset.rate = last ? last.rate.toFixed(2) : '0';
    this.canvas.dataset.peak = Math.max(0, ...rates.map((r) => r.rate)).toFixed(2);
  }
}
