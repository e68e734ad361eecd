// The server's event stream (GET /api/events), read with fetch() rather than EventSource,
// which cannot send the Authorization header a node with --token-file asks for. A broken
// stream is reported at once (the node behind this page may have died) and reopened with a
// growing delay, and every reopening is announced so the page can refetch what it may have
// missed. A 401 is not retried: the page asks for a token and then calls reconnect().

import { reportUnauthorized, storedToken, withToken } from './auth.js';

const EVENT_TYPES = new Set(['cluster', 'job', 'job_removed', 'resync', 'stats']);
const RETRY_DELAYS_MS = [500, 1000, 2000, 3000, 5000];
// The server sends `stats` every second and a keep-alive comment every 15 s: a stream silent
// for this long is dead (a connection cut without a word) and is reopened.
const SILENCE_MS = 45_000;

// Splits text/event-stream into events as the HTML standard's parser does: lines end in CRLF,
// LF or CR; `field: value` (one space after the colon dropped); `data` lines of one event
// joined with \n; an empty line dispatches; lines starting with `:` are comments. `retry` is
// ignored: the delays between attempts are the page's own. An event still open when the
// stream ends is dropped.
export class SseParser {
  // onEvent({type, data, lastEventId})
  constructor(onEvent, lastEventId = '') {
    this.onEvent = onEvent;
    this.lastEventId = lastEventId;
    this.rest = '';         // the start of a line whose end has not arrived yet
    this.afterCR = false;   // the last chunk ended in CR: a LF starting the next one belongs to it
    this.type = '';
    this.data = null;       // the event's data lines, null before the first
  }

  push(text) {
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1);
    const buffer = this.rest + text;
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    for (let match; (match = lineEnd.exec(buffer)) !== null;) {
      this.line(buffer.slice(start, match.index));
      start = lineEnd.lastIndex;
    }
    this.afterCR = buffer.endsWith('\r');
    this.rest = buffer.slice(start);
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') (this.data ??= []).push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    // Any other field is ignored, as the standard says.
  }

  dispatch() {
    const { type, data } = this;
    this.type = '';
    this.data = null;
    if (data === null) return;
    this.onEvent({ type: type || 'message', data: data.join('\n'), lastEventId: this.lastEventId });
  }
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (typeof body?.error === 'string') return body.error;
  } catch {
    // Not JSON: the status says enough.
  }
  return `HTTP ${response.status}`;
}

export class EventStream {
  // handlers: {cluster(data), job(data), ..., state(state, info)} where state is
  // 'connecting' | 'open' | 'down'; info = {attempt, retryInMs, everOpened}. A 401 goes to
  // the page's onUnauthorized (auth.js) instead.
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.connection = null;  // the AbortController of the request being read, if any
    this.failures = 0;
    this.everOpened = false;
    this.timer = null;
    this.lastEventId = '';
  }

  start() {
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    this.connection?.abort();
    const connection = new AbortController();
    this.connection = connection;
    this.emitState('connecting');
    this.read(connection).then(
      (outcome) => this.ended(connection, outcome),
      (error) => this.ended(connection, { error }));
  }

  // Reads one response to its end. Resolves to what ended it: {unauthorized: message,
  // token}, {failed: reason} or {ended: true}; rejects when the connection breaks.
  async read(connection) {
    const token = storedToken();
    const headers = withToken({ accept: 'text/event-stream' }, token);
    if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
    const response = await fetch(this.url, { headers, cache: 'no-store', signal: connection.signal });
    if (response.status === 401) return { unauthorized: await errorMessage(response), token };
    const type = response.headers.get('content-type') || '';
    if (!response.ok || !type.startsWith('text/event-stream')) {
      response.body?.cancel().catch(() => {});
      return { failed: `HTTP ${response.status} ${type}` };
    }
    if (this.connection !== connection) return { ended: true };
    const reconnected = this.everOpened;
    this.failures = 0;
    this.everOpened = true;
    this.emitState('open', { reconnected });

    const parser = new SseParser((event) => this.deliver(connection, event), this.lastEventId);
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    let silence = null;
    try {
      for (;;) {
        clearTimeout(silence);
        silence = setTimeout(() => connection.abort(), SILENCE_MS);
        const { value, done } = await reader.read();
        if (done) return { ended: true };
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      clearTimeout(silence);
    }
  }

  deliver(connection, event) {
    if (this.connection !== connection) return;
    this.lastEventId = event.lastEventId;
    if (!EVENT_TYPES.has(event.type)) return;
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      console.warn(`event ${event.type}: data is not JSON`, event.data);
      return;
    }
    try {
      this.handlers[event.type]?.(data);
    } catch (error) {
      // A bug in a handler is reported like any uncaught error, but does not break the stream.
      reportError(error);
    }
  }

  // After a response ended or failed: try again after a delay, or, for a 401, not until the
  // page has a token.
  ended(connection, outcome) {
    if (this.connection !== connection) return;  // closed, or replaced by a newer request
    this.connection = null;
    if ('unauthorized' in outcome) {
      reportUnauthorized(outcome.unauthorized, outcome.token);
      return;
    }
    const delay = RETRY_DELAYS_MS[Math.min(this.failures, RETRY_DELAYS_MS.length - 1)];
    this.failures += 1;
    this.emitState('down', { retryInMs: delay, retryAt: Date.now() + delay });
    this.timer = setTimeout(() => this.open(), delay);
  }

  // Skips the wait after a failure (the "Retry now" button), or opens the stream again after
  // a 401.
  retryNow() {
    if (!this.connection) this.open();
  }

  // Opens the stream anew, with the token the page holds now.
  reconnect() {
    this.open();
  }

  close() {
    clearTimeout(this.timer);
    const connection = this.connection;
    this.connection = null;
    connection?.abort();
  }

  emitState(state, extra = {}) {
    this.handlers.state?.(state, { attempt: this.failures, everOpened: this.everOpened, ...extra });
  }
}
