// One output stream (stdout or stderr) of one attempt, as text in a <pre>. Appends keep the
// view pinned to the bottom while the reader is there; past a few MiB only the end is kept,
// so a chatty job cannot exhaust the page.

import { el } from './dom.js';

const MAX_CHARS = 2 * 1024 * 1024;

export class OutputPane {
  constructor(name) {
    this.name = name;
    this.text = '';
    this.bytes = 0;
    this.cut = false;
    this.state = el('span', { class: 'pane-state' });
    this.notice = el('p', { class: 'pane-notice', hidden: true });
    this.pre = el('pre', { class: 'output mono', tabindex: '0', dataset: { stream: name } });
    this.element = el('section', { class: 'pane', dataset: { stream: name } },
      el('div', { class: 'pane-head' }, el('h4', { text: name }), this.state),
      this.notice, this.pre);
    this.setPlaceholder('');
  }

  // Empty the pane and show `message` (dimmed) until output arrives.
  setPlaceholder(message) {
    this.text = '';
    this.bytes = 0;  // received so far: where to resume a broken stream
    this.cut = false;
    this.pre.textContent = message;
    this.pre.classList.toggle('is-placeholder', Boolean(message));
    this.pre.classList.toggle('is-empty', !message);
    this.notice.hidden = true;
  }

  append(chunk, bytes = 0) {
    this.bytes += bytes;
    if (!chunk) return;
    const pinned = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 24;
    if (!this.text) {
      this.pre.textContent = '';
      this.pre.classList.remove('is-placeholder', 'is-empty');
    }
    this.text += chunk;
    if (this.text.length > MAX_CHARS) {
      this.text = this.text.slice(-MAX_CHARS);
      this.pre.textContent = this.text;
      if (!this.cut) {
        this.cut = true;
        this.notice.textContent = 'Earlier output is not shown here (use `nomad-lite job logs` for all of it).';
        this.notice.hidden = false;
      }
    } else {
      this.pre.append(chunk);
    }
    if (pinned) this.pre.scrollTop = this.pre.scrollHeight;
  }

  // After a stream ended: say so if nothing came.
  finish(emptyMessage) {
    if (!this.text) this.setPlaceholder(emptyMessage);
  }

  setState(text, kind = '') {
    this.state.textContent = text;
    this.state.className = kind ? `pane-state is-${kind}` : 'pane-state';
  }
}
