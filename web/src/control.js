// control.js - operator commands on $CONTROL/fogpay/v1, as fogpayctl
// sends them: one command a request, with a correlationData of its own;
// the reply on $CONTROL/fogpay/v1/response (shared by every operator) is
// matched by it. A command unanswered in CONTROL_TIMEOUT_MS is refused.
export const CONTROL_TOPIC = '$CONTROL/fogpay/v1';
export const CONTROL_RESPONSE_TOPIC = '$CONTROL/fogpay/v1/response';
const CONTROL_TIMEOUT_MS = 5000;

export class ControlChannel {
  constructor(client) {
    this.client = client;
    this.pending = new Map();
    this.prefix = `monitor-${Math.random().toString(36).slice(2, 10)}-`;
    this.counter = 0;
  }

  // Sends command (an object with "command"); resolves with its data, or
  // rejects with an Error whose message is the gateway's errorMessage.
  send(command) {
    const correlationData = this.prefix + ++this.counter;
    const request = { commands: [{ ...command, correlationData }] };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationData);
        reject(new Error(`${command.command}: no reply within ${CONTROL_TIMEOUT_MS} ms`));
      }, CONTROL_TIMEOUT_MS);
      this.pending.set(correlationData, { resolve, reject, timer });
      this.client.publish(CONTROL_TOPIC, JSON.stringify(request), { qos: 1 });
    });
  }

  // A message on the response topic: settles the commands it answers.
  onResponse(payload) {
    let reply;
    try {
      reply = JSON.parse(payload);
    } catch {
      return;
    }
    for (const response of reply.responses || []) {
      const waiting = this.pending.get(response.correlationData);
      if (!waiting) {
        continue;
      }
      this.pending.delete(response.correlationData);
      clearTimeout(waiting.timer);
      if (response.error) {
        waiting.reject(new Error(`${response.errorMessage} (${response.error})`));
      } else {
        waiting.resolve(response.data || {});
      }
    }
  }
}
