// Waiting for a condition with a deadline: the tests never sleep to synchronise.

import plainHttp from 'node:http';
import https from 'node:https';

// Calls check() every intervalMs until it returns a truthy value (returned) or timeoutMs
// passes (throws, naming what was awaited and the last error check() threw).
export async function waitFor(what, check, { timeoutMs = 10_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// GET or POST JSON with a time limit; resolves to {status, body}. token: sent as
// `Authorization: Bearer`; ca: the PEM an https URL's certificate must chain to.
export function http(url, { method = 'GET', body, timeoutMs = 5000, token, ca } = {}) {
  const target = new URL(url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {};
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  if (token) headers.authorization = `Bearer ${token}`;
  const transport = target.protocol === 'https:' ? https : plainHttp;
  return new Promise((resolve, reject) => {
    // agent: false: a connection per request, never one the server is closing as idle.
    const options = { method, headers, ca, agent: false, signal: AbortSignal.timeout(timeoutMs) };
    const request = transport.request(target, options, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
        resolve({ status: response.statusCode, body: parsed });
      });
    });
    request.on('error', reject);
    request.end(payload);
  });
}
