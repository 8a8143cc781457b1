/**
 * Packet captures on loopback for tests (dumpcap, from Debian's wireshark-common): what left a
 * process, counted afterwards. Only `lo` is ever captured.
 */
import { expect } from 'vitest';
import { waitUntil } from './peers.js';
import { spawnTracked, type SixswarmProcess } from './sixswarm.js';

/** Every packet on loopback matching the capture `filter` (its first 512 bytes) into `file`, pcap format, until SIGINT. */
export async function startCapture(file: string, filter: string): Promise<SixswarmProcess> {
  const dumpcap = spawnTracked('dumpcap', ['-i', 'lo', '-f', filter, '-s', '512', '-P', '-w', file], { label: 'dumpcap' });
  await waitUntil(() => /Capturing on/.test(dumpcap.stderr) || (dumpcap.proc.exitCode !== null && 'exited'), 15_000, () => `dumpcap starting: ${dumpcap.stderr}`);
  expect(dumpcap.proc.exitCode, dumpcap.stderr).toBeNull();
  return dumpcap;
}

/** The records of a classic pcap file (little-endian, microseconds): capture time in ms and bytes. */
export function pcapRecords(pcap: Buffer): { at: number; data: Buffer }[] {
  expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
  const out: { at: number; data: Buffer }[] = [];
  for (let o = 24; o + 16 <= pcap.length; ) {
    const len = pcap.readUInt32LE(o + 8);
    out.push({ at: pcap.readUInt32LE(o) * 1000 + pcap.readUInt32LE(o + 4) / 1000, data: pcap.subarray(o + 16, o + 16 + len) });
    o += 16 + len;
  }
  return out;
}
