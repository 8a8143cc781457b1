/** Tests run the compiled CLI. `npm test` builds first; a lone `npx vitest` builds once if dist/ is missing. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI, ROOT } from './sixswarm.js';

export function ensureBuilt(): void {
  if (!existsSync(CLI)) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
