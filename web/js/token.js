// The token dialog: shown when the node answers 401 (it was started with --token-file and
// the page has no token, or one it refuses). A token is tried against GET /api/cluster
// before it is kept; until one is accepted the dialog cannot be dismissed (Escape included),
// since the page can show nothing without it.

import { api } from './api.js';
import { $ } from './dom.js';
import { TOKEN_PATTERN, storeToken } from './auth.js';

export class TokenDialog {
  // onAccepted(cluster): a token was accepted and stored; `cluster` is the node's answer.
  constructor(dialog, { onAccepted }) {
    this.dialog = dialog;
    this.onAccepted = onAccepted;
    this.form = $('form', dialog);
    this.input = $('#token-input', dialog);
    this.error = $('#token-error', dialog);
    this.button = $('button[type=submit]', dialog);
    this.needed = false;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.tryToken();
    });
    // Escape asks the dialog to close ('cancel'); without a token there is nothing to go back to.
    dialog.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.needed) event.preventDefault();
    });
    dialog.addEventListener('cancel', (event) => {
      if (this.needed) event.preventDefault();
    });
    // Should the browser close it anyway, it comes back.
    dialog.addEventListener('close', () => {
      if (this.needed) this.show();
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  // refused: the page's token was refused; message: the server's words. Another 401 while
  // the dialog is open changes nothing (it must not take the focus from someone typing).
  open({ refused = false, message = '' } = {}) {
    if (this.dialog.open) return;
    this.needed = true;
    this.say(refused ? `That token was refused: ${message}` : '');
    this.show();
  }

  show() {
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    this.input.select();
  }

  say(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    this.input.setAttribute('aria-invalid', String(Boolean(message)));
  }

  async tryToken() {
    const token = this.input.value.trim();
    if (!TOKEN_PATTERN.test(token)) {
      this.say(token ? 'A token is at least 16 characters: letters, digits and - . _ ~ + / =' : 'Enter a token.');
      this.input.focus();
      return;
    }
    this.button.disabled = true;
    this.say('');
    try {
      const cluster = await api.cluster(undefined, token);
      storeToken(token);
      this.needed = false;
      this.input.value = '';
      this.dialog.close();
      this.onAccepted(cluster);
    } catch (error) {
      this.say(error.status === 401 ? `That token was refused: ${error.message}` : `Could not check the token: ${error.message}`);
      this.input.focus();
      this.input.select();
    } finally {
      this.button.disabled = false;
    }
  }
}
