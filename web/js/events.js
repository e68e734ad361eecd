// The server's event stream (GET /api/events). EventSource retries on its own, but silently;
// here a broken stream is reported at once (the node behind this page may have died) and
// reopened with a growing delay, and every reopening is announced so the page can refetch
// what it may have missed.

const EVENT_TYPES = ['cluster', 'job', 'job_removed', 'resync', 'stats'];
const RETRY_DELAYS_MS = [500, 1000, 2000, 3000, 5000];

export class EventStream {
  // handlers: {cluster(data), job(data), ..., state(state, info)} where state is
  // 'connecting' | 'open' | 'down'; info = {attempt, retryInMs, everOpened}.
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.source = null;
    this.failures = 0;
    this.everOpened = false;
    this.timer = null;
  }

  start() {
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    this.emitState('connecting');
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener('open', () => {
      const reconnected = this.everOpened;
      this.failures = 0;
      this.everOpened = true;
      this.emitState('open', { reconnected });
    });
    source.addEventListener('error', () => {
      if (this.source !== source) return;
      source.close();
      this.source = null;
      const delay = RETRY_DELAYS_MS[Math.min(this.failures, RETRY_DELAYS_MS.length - 1)];
      this.failures += 1;
      this.emitState('down', { retryInMs: delay, retryAt: Date.now() + delay });
      this.timer = setTimeout(() => this.open(), delay);
    });
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          console.warn(`event ${type}: data is not JSON`, event.data);
          return;
        }
        this.handlers[type]?.(data);
      });
    }
  }

  // Skips the wait after a failure (the "Retry now" button).
  retryNow() {
    if (!this.source) this.open();
  }

  emitState(state, extra = {}) {
    this.handlers.state?.(state, { attempt: this.failures, everOpened: this.everOpened, ...extra });
  }
}
