/**
 * Test support: RC4 keystream bytes from OpenSSL (Node's legacy provider, in a child process
 * started with `--openssl-legacy-provider`), an implementation independent of ours to check it by.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SCRIPT = `
const { createCipheriv } = require('node:crypto');
const jobs = JSON.parse(process.argv[1]);
process.stdout.write(JSON.stringify(jobs.map(([key, n]) => createCipheriv('rc4', Buffer.from(key, 'hex'), null).update(Buffer.alloc(n)).toString('hex'))));
`;

/** The first `n` keystream bytes of RC4 for each [key, n]. */
export async function opensslKeystreams(jobs: [Buffer, number][]): Promise<Buffer[]> {
  const arg = JSON.stringify(jobs.map(([k, n]) => [k.toString('hex'), n]));
  const { stdout } = await run(process.execPath, ['--openssl-legacy-provider', '-e', SCRIPT, arg], { timeout: 30_000, maxBuffer: 64 << 20 });
  return (JSON.parse(stdout) as string[]).map((h) => Buffer.from(h, 'hex'));
}
