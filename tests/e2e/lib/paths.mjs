// Where the tests find the binary and put what they leave behind.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const binary = path.resolve(process.env.NOMAD_LITE_BIN || path.join(repoRoot, 'build/nomad-lite'));
// Screenshots and node logs: build/e2e unless E2E_OUT says otherwise.
export const outDir = path.resolve(process.env.E2E_OUT || path.join(repoRoot, 'build/e2e'));
export const chromiumPath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
