/**
 * tracker-check on a terminal: finished reports scroll up as static tables (one column per
 * probed address), and below them the run's progress bar and the step each running check is at.
 * Pure: everything it shows comes in as props.
 */
import { Box, Static, Text } from 'ink';
import type { TrackerReport } from '../../src/tracker-check/report.js';
import { cut, tableModel, VERDICT_WIDTH } from '../../src/tracker-check/table.js';
import { VERDICT_COLOR } from './theme.js';

/** Evidence width that fits `n` cells and the titles into `columns` (at least 12 characters each). */
function evidenceFor(columns: number, titleWidth: number, n: number): number {
  return Math.max(12, Math.floor((columns - titleWidth - 1 - n * (VERDICT_WIDTH + 3)) / n));
}

export function CheckTable({ report, columns }: { report: TrackerReport; columns: number }) {
  const m = tableModel(report, evidenceFor(columns, tableModel(report).titleWidth, report.columns.length));
  const cellWidth = VERDICT_WIDTH + 1 + m.evidenceWidth + 2;
  const last = m.columns.length - 2;
  return (
    <Box flexDirection="column" marginBottom={1}>
      <Text bold>{m.heading}</Text>
      <Box>
        <Box width={m.titleWidth + 2}><Text bold>{m.columns[0]}</Text></Box>
        {m.columns.slice(1).map((c, i) => (
          <Box key={i} width={i === last ? undefined : cellWidth}><Text bold>{cut(c, cellWidth - 1)}</Text></Box>
        ))}
      </Box>
      {m.rows.map((row) => (
        <Box key={row.id}>
          <Box width={m.titleWidth + 2}><Text>{row.title}</Text></Box>
          {row.cells.map((c, i) => (
            <Box key={i} width={i === last ? undefined : cellWidth}>
              <Text color={VERDICT_COLOR[c.verdict]}>{c.verdict.padEnd(VERDICT_WIDTH + 1)}</Text>
              <Text dimColor={c.verdict !== 'fail'}>{c.evidence}</Text>
            </Box>
          ))}
        </Box>
      ))}
      {m.families.map((f, i) => <Text key={i}>{f}</Text>)}
      <Text>
        BEP 34 (DNS TXT): <Text color={VERDICT_COLOR[m.bep34.verdict]}>{m.bep34.verdict}</Text> <Text dimColor>{cut(m.bep34.evidence, Math.max(20, columns - 28))}</Text>
      </Text>
      {m.problems.map((p, i) => (
        <Box key={i} flexDirection="column" marginTop={i === 0 ? 1 : 0}>
          <Text color={VERDICT_COLOR.fail}>! {p.where}: {p.evidence}</Text>
          <Text>    fix: {p.fix}</Text>
        </Box>
      ))}
      <Text bold color={report.ok ? VERDICT_COLOR.pass : VERDICT_COLOR.fail}>{m.summary}</Text>
    </Box>
  );
}

/** A bar of `width` cells, `share` of them full. */
export function bar(share: number, width: number): string {
  const full = Math.round(Math.min(1, Math.max(0, share)) * width);
  return `${'#'.repeat(full)}${'-'.repeat(width - full)}`;
}

export interface CheckViewProps {
  done: TrackerReport[];
  running: { url: string; step: string }[];
  /** A run over more than one tracker: how far it is. */
  progress?: { done: number; total: number; elapsedMs: number } | undefined;
  columns: number;
}

/** Running checks shown at most; the rest are counted. */
const MAX_RUNNING_SHOWN = 8;

export function TrackerCheckView({ done, running, progress, columns }: CheckViewProps) {
  const shown = running.slice(0, MAX_RUNNING_SHOWN);
  return (
    <>
      <Static items={done}>{(r) => <CheckTable key={`${r.url}|${r.infoHash}`} report={r} columns={columns} />}</Static>
      {progress ? (
        <Text>
          [{bar(progress.done / progress.total, Math.max(10, Math.min(40, columns - 50)))}] {progress.done}/{progress.total} trackers, {running.length} running, {Math.round(progress.elapsedMs / 1000)} s
        </Text>
      ) : null}
      {shown.map((r, i) => (
        <Text key={i} dimColor>{cut(`checking ${r.url}: ${r.step}...`, Math.max(20, columns - 1))}</Text>
      ))}
      {running.length > shown.length ? <Text dimColor>... and {running.length - shown.length} more</Text> : null}
    </>
  );
}
