// What protects the node serving the page, from the `security` object of GET /api/cluster:
// a quiet label in the header ("TLS · tokens", "tokens", "loopback only", …) and, for a node
// that listens beyond this machine without TLS and tokens (--insecure), a red banner that
// cannot be dismissed. A node's security is fixed while it runs, so the page takes it from
// the answers to GET /api/cluster (at load, after every reconnect, and on the periodic
// refresh) rather than from each `cluster` event.

export function securityLabel({ tls, tokens, insecure }) {
  const parts = [tls ? 'TLS' : null, tokens ? 'tokens' : null].filter(Boolean);
  if (parts.length) return parts.join(' · ');
  return insecure ? 'unprotected' : 'loopback only';
}

function securityTitle({ tls, tokens, insecure }) {
  if (insecure) return 'Reachable beyond this machine without TLS and client tokens (--insecure).';
  return [
    tls ? 'The dashboard and the nodes talk over TLS.' : 'No TLS.',
    tokens ? 'Every request needs a client token (--token-file).' : 'No client tokens.',
    !tls && !tokens ? 'The node listens on this machine only.' : null,
  ].filter(Boolean).join(' ');
}

export class SecurityView {
  constructor(label, banner) {
    this.label = label;
    this.banner = banner;
  }

  // security: {tls, tokens, insecure}, or undefined from a server that does not say.
  update(security) {
    if (!security) {
      this.label.hidden = true;
      this.banner.hidden = true;
      return;
    }
    this.label.textContent = securityLabel(security);
    this.label.title = securityTitle(security);
    this.label.dataset.insecure = String(Boolean(security.insecure));
    this.label.hidden = false;
    this.banner.hidden = !security.insecure;
  }
}
