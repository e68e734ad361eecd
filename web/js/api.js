// The REST API of docs/http-api.md. Every error answer is {"error": "..."}; ApiError carries
// that text so the page can show the server's own words. Every request carries the page's
// token, if it has one (auth.js); a 401 is reported so that the page asks for one.

import { reportUnauthorized, storedToken, withToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// `token`: the page's own unless another one is being tried.
async function call(method, path, body, signal, token = storedToken()) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: withToken(body === undefined ? {} : { 'content-type': 'application/json' }, token),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'cannot reach this node: is it running?');
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // A body that is not JSON: fall through to a message built from the status.
  }
  if (!response.ok) {
    const message = data && typeof data.error === 'string' ? data.error : `HTTP ${response.status}`;
    if (response.status === 401) reportUnauthorized(message, token);
    throw new ApiError(response.status, message);
  }
  return data;
}

// Read-your-writes: every write answers with the log index it committed at, and every later
// read asks the node to have applied at least that much (?min_index=), so the page never shows
// a state older than one it wrote, whichever node serves it.
let minIndex = 0;
function noteWrite(answer) {
  if (answer && Number.isSafeInteger(answer.index)) minIndex = Math.max(minIndex, answer.index);
  return answer;
}
const withMinIndex = (query) => {
  if (minIndex > 0) query.set('min_index', minIndex);
  return query;
};

export const api = {
  // With `token`, tries that token instead of the page's (the token dialog).
  cluster: (signal, token) => call('GET', '/api/cluster', undefined, signal, token),
  listJobs(params, signal) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== '' && value !== null && value !== undefined) query.set(key, value);
    }
    return call('GET', `/api/jobs?${withMinIndex(query)}`, undefined, signal);
  },
  job: (id, signal) => call('GET', `/api/jobs/${encodeURIComponent(id)}?${withMinIndex(new URLSearchParams())}`, undefined, signal),
  submit: async (request) => noteWrite(await call('POST', '/api/jobs', request)),
  cancel: async (id) => noteWrite(await call('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, {})),
  listPeriodic: () => call('GET', `/api/periodic?${withMinIndex(new URLSearchParams())}`),
  // Operators only: hands leadership to node `to` (null: the most up-to-date follower).
  transferLeader: (to) => call('POST', `/api/cluster/transfer-leader${to ? `?to=${encodeURIComponent(to)}` : ''}`, {}),
};

// Streams one output stream of one attempt from byte `offset`, calling onText(text, bytes)
// with each decoded piece and the bytes it came from; with follow it lasts until the attempt
// ends. Resolves when the server ends the answer; an answer cut short rejects.
export async function streamLogs({ id, stream, attempt, follow, offset = 0, signal, onText }) {
  const query = withMinIndex(new URLSearchParams({ stream }));
  if (attempt) query.set('attempt', attempt);
  if (follow) query.set('follow', '1');
  if (offset) query.set('offset', offset);
  const token = storedToken();
  let response;
  try {
    response = await fetch(`/api/jobs/${encodeURIComponent(id)}/logs?${query}`, { signal, headers: withToken({}, token) });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'cannot reach this node: is it running?');
  }
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      message = (await response.json()).error || message;
    } catch {
      // keep the status line
    }
    if (response.status === 401) reportUnauthorized(message, token);
    throw new ApiError(response.status, message);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      const rest = decoder.decode();
      if (rest) onText(rest, 0);
      return;
    }
    onText(decoder.decode(value, { stream: true }), value.byteLength);
  }
}
