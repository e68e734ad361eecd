// The submit form: command, optional timeout and retries. Checks what it can before sending
// (the same rules as the server) and shows the server's own message for anything else.

import { api } from './api.js';
import { el, fill, $ } from './dom.js';
import { shortId } from './format.js';

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
const MAX_COMMAND_BYTES = 64 * 1024;
const MAX_RETRIES = 100;

// Field name -> message, for what is wrong before anything is sent.
export function validate({ command, timeout, retries }) {
  const errors = {};
  if (!command.trim()) errors.command = 'Enter a shell command to run, for example: echo hello';
  else if (new TextEncoder().encode(command).length > MAX_COMMAND_BYTES) errors.command = 'The command is longer than 64 KiB.';
  if (timeout && !DURATION.test(timeout)) errors.timeout = 'A duration: 500ms, 30s, 2m, 1h30m.';
  if (retries !== '' && !(/^\d+$/.test(retries) && Number(retries) <= MAX_RETRIES)) {
    errors.retries = `A whole number from 0 to ${MAX_RETRIES}.`;
  }
  return errors;
}

export class SubmitForm {
  constructor(form) {
    this.form = form;
    this.fields = {
      command: $('#f-command', form),
      timeout: $('#f-timeout', form),
      retries: $('#f-retries', form),
    };
    this.button = $('button[type=submit]', form);
    this.result = $('#submit-result', form);
    this.tried = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    // After a first attempt, errors clear as soon as the field is fixed.
    for (const input of Object.values(this.fields)) {
      input.addEventListener('input', () => {
        if (this.tried) this.showErrors(validate(this.values()));
      });
    }
  }

  values() {
    return {
      command: this.fields.command.value,
      timeout: this.fields.timeout.value.trim(),
      retries: this.fields.retries.value.trim(),
    };
  }

  showErrors(errors) {
    for (const [name, input] of Object.entries(this.fields)) {
      const message = errors[name] || '';
      const slot = $(`#e-${name}`, this.form);
      slot.textContent = message;
      slot.hidden = !message;
      input.setAttribute('aria-invalid', String(Boolean(message)));
    }
  }

  say(kind, ...content) {
    this.result.className = `form-result is-${kind}`;
    fill(this.result, content);
    this.result.hidden = content.length === 0;
  }

  async submit() {
    this.tried = true;
    const values = this.values();
    const errors = validate(values);
    this.showErrors(errors);
    if (Object.keys(errors).length) {
      this.say('error', 'Fix the highlighted field before submitting.');
      this.fields[Object.keys(errors)[0]].focus();
      return;
    }
    const request = { command: values.command };
    if (values.timeout) request.timeout = values.timeout;
    if (values.retries !== '' && Number(values.retries) > 0) request.retries = Number(values.retries);
    this.button.disabled = true;
    this.say('pending', 'Submitting…');
    try {
      const job = await api.submit(request);
      this.tried = false;
      this.fields.command.value = '';
      this.showErrors({});
      this.say('ok', 'Submitted job ', el('a', { class: 'mono', href: `#/jobs/${job.id}`, text: shortId(job.id), dataset: { jobId: job.id } }),
        ` (${job.status}).`);
    } catch (error) {
      // The server names the field at the start of its message ("'timeout': ...") when one
      // is at fault.
      const opening = error.message.toLowerCase().replace(/^['"]/, '');
      const field = Object.keys(this.fields).find((name) => opening.startsWith(name));
      if (field) this.showErrors({ [field]: error.message });
      this.say('error', error.status ? `The server refused the job: ${error.message}` : `Not submitted: ${error.message}`);
    } finally {
      this.button.disabled = false;
    }
  }
}
