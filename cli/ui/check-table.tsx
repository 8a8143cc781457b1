/**
 * tracker-check on a terminal: finished reports scroll up as static tables, the tracker being
 * checked shows its current step below them. Pure: everything it shows comes in as props.
 */
import { Box, Static, Text } from 'ink';
import type { TrackerReport } from '../../src/tracker-check/report.js';
import { tableModel, VERDICT_WIDTH } from '../../src/tracker-check/table.js';
import { VERDICT_COLOR } from './theme.js';

/** Evidence width that fits two cells and the titles into `columns` (at least 12 characters each). */
function evidenceFor(columns: number, titleWidth: number): number {
  return Math.max(12, Math.floor((columns - titleWidth - 2 - 2 * (VERDICT_WIDTH + 1) - 3) / 2));
}

export function CheckTable({ report, columns }: { report: TrackerReport; columns: number }) {
  const m = tableModel(report, evidenceFor(columns, tableModel(report).titleWidth));
  const cellWidth = VERDICT_WIDTH + 1 + m.evidenceWidth + 2;
  return (
    <Box flexDirection="column" marginBottom={1}>
      <Text bold>{m.heading}</Text>
      <Box>
        <Box width={m.titleWidth + 2}><Text bold>{m.columns[0]}</Text></Box>
        <Box width={cellWidth}><Text bold>{m.columns[1]}</Text></Box>
        <Text bold>{m.columns[2]}</Text>
      </Box>
      {m.rows.map((row) => (
        <Box key={row.id}>
          <Box width={m.titleWidth + 2}><Text>{row.title}</Text></Box>
          {row.cells.map((c, i) => (
            <Box key={i} width={i === 0 ? cellWidth : undefined}>
              <Text color={VERDICT_COLOR[c.verdict]}>{c.verdict.padEnd(VERDICT_WIDTH + 1)}</Text>
              <Text dimColor={c.verdict !== 'fail'}>{c.evidence}</Text>
            </Box>
          ))}
        </Box>
      ))}
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

export interface CheckProgress {
  url: string;
  step: string;
}

export function TrackerCheckView({ done, current, columns }: { done: TrackerReport[]; current?: CheckProgress | undefined; columns: number }) {
  return (
    <>
      <Static items={done}>{(r) => <CheckTable key={`${r.url}|${r.infoHash}`} report={r} columns={columns} />}</Static>
      {current ? <Text dimColor>checking {current.url}: {current.step}...</Text> : null}
    </>
  );
}
