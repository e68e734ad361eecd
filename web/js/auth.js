// The client token of a node started with --token-file. It is kept for this tab only
// (sessionStorage: gone when the tab closes) and sent as `Authorization: Bearer …` by every
// request the page makes; unlike a cookie, the browser never sends it on its own, so another
// site cannot make the page's requests for it.

const KEY = 'nomad-lite-token';

// What the server accepts (--token-file): at least 16 of these characters. Checked before a
// token is tried, so that a pasted line with spaces or quotes gets a useful message.
export const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/=]{16,}$/;

// sessionStorage can be unavailable (storage disabled): the page then works without a token.
export function storedToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing was stored.
  }
}

// `headers` plus the Authorization header of `token`, if there is one.
export function withToken(headers, token) {
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

// The page learns of every 401 answer to a request made with the token it holds now. A 401
// to a token that was replaced while the request was on its way, or to a token being tried
// in the dialog, says nothing about the current one and is not passed on.
let listener = null;

export function onUnauthorized(handler) {
  listener = handler;
}

export function reportUnauthorized(message, tokenUsed) {
  if ((tokenUsed ?? null) === storedToken()) listener?.(message);
}
