/**
 * Summaries of V8 .cpuprofile files (from node --cpu-prof): the functions with the most self
 * time, so a benchmark run says where sixswarm spends its CPU.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * @param {string} dir  a --cpu-prof-dir (one .cpuprofile per thread: the main thread and each worker)
 * @param {number} top  how many functions to list per profile
 * @returns {Promise<string[]>} printable lines
 */
export async function summarizeProfiles(dir, top) {
  let files;
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  } catch {
    return [`  (no profiles in ${dir})`];
  }
  if (files.length === 0) return [`  (no profiles in ${dir}: the process did not exit cleanly)`];
  const out = [];
  for (const f of files) out.push(...summarize(f, JSON.parse(await readFile(join(dir, f), 'utf8')), top));
  return out;
}

function summarize(file, profile, top) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the gap before sample i; charge it to the sample's function.
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]);
    if (!node) continue;
    const key = frameName(node.callFrame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + Math.max(0, deltas[i] ?? 0));
  }
  const totalUs = profile.endTime - profile.startTime;
  const idleUs = selfUs.get('(idle)') ?? 0;
  const busyUs = totalUs - idleUs;
  const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1];
  const lines = [`  ${file}${thread === '0' ? ' (main thread)' : thread ? ` (thread ${thread})` : ''}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(1)} s busy`];
  const ranked = [...selfUs].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, us] of ranked) {
    lines.push(`    ${((us / Math.max(1, busyUs)) * 100).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${name}`);
  }
  return lines;
}

function frameName(cf) {
  const fn = cf.functionName || '(anonymous)';
  if (!cf.url) return fn;
  const url = cf.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/');
  return `${fn} ${url}:${cf.lineNumber + 1}`;
}
