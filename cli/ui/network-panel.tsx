/**
 * Our side of the network: every address with its class (and which one we advertise), where we
 * listen, what the router granted for our port on each family, whether anyone reached us from
 * outside over each family, the DHT, local peer discovery, and the tunnel.
 */
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import type { UiSnapshot } from './state.js';
import { ago, cell, fit, formatDuration, lsdInterfaces, shortSize } from './format.js';
import { useTheme } from './theme.js';
import { formatHostPort } from '../../src/net/hostport.js';
import { verdictText } from '../../src/portmap/index.js';
import type { TransportKind } from '../../src/transport/transport.js';

/** How the listening line names the peer transports. */
const TRANSPORT_LABEL: Record<TransportKind, string> = { tcp: 'TCP', utp: 'uTP' };

const KIND_LABEL: Record<string, string> = {
  global: 'global',
  ula: 'ULA (unique local)',
  'link-local': 'link-local',
  teredo: 'Teredo',
  '6to4': '6to4',
  tunnel: 'tunnel (ours)',
  private: 'private (NAT)',
  documentation: 'documentation range',
  loopback: 'loopback',
};

export function NetworkPanel({ engine, now, width, height }: { engine: UiSnapshot['engine']; now: number; width: number; height: number }) {
  const t = useTheme();
  const lines: ReactElement[] = [];
  const addrs = [...engine.addresses].sort((a, b) => b.family - a.family);
  lines.push(<Text key="ah" bold>Our addresses</Text>);
  if (addrs.length === 0) lines.push(<Text key="an">  none but loopback</Text>);
  for (const a of addrs) {
    lines.push(
      <Text key={`a${a.address}`} wrap="truncate">
        {'  '}
        <Text color={a.family === 6 ? t.v6 : t.v4}>{`IPv${a.family} `}</Text>
        {cell(a.address, Math.max(15, Math.min(40, width - 50)), false, true)} {cell(KIND_LABEL[a.kind] ?? a.kind, 20)} {cell(a.ifname ?? '', 8)}
        {a.advertised ? <Text color={t.ok}> advertised</Text> : null}
      </Text>,
    );
  }
  lines.push(
    <Text key="l" wrap="truncate">
      <Text bold>Listening </Text>
      {engine.listening.length === 0 ? 'not yet' : `${engine.listening.map((l) => `IPv${l.family} ${formatHostPort(l.address, l.port)}`).join('   ')}   ${engine.transports.map((k) => TRANSPORT_LABEL[k]).join(' and ')}`}
    </Text>,
  );
  const pm = engine.portMapping;
  lines.push(
    <Text key="mh" wrap="truncate">
      <Text bold>Router </Text>
      {pm ? 'asked to open our port' : <Text color={t.muted}>not asked (port mapping off)</Text>}
    </Text>,
  );
  for (const family of pm ? ([6, 4] as const) : []) {
    const v = pm![family];
    const good = v.state === 'mapped' || v.state === 'pinholed';
    lines.push(
      <Text key={`m${family}`} wrap="truncate">
        {'  '}
        <Text color={family === 6 ? t.v6 : t.v4}>{`IPv${family} `}</Text>
        <Text color={good ? t.ok : v.state === 'probing' || v.state === 'disabled' ? t.muted : t.warn}>{fit(verdictText(family, v), Math.max(20, width - 8))}</Text>
      </Text>,
    );
  }
  lines.push(<Text key="rh" bold>Reached from outside (an incoming connection)</Text>);
  for (const family of [6, 4] as const) {
    const r = engine.reached[family];
    lines.push(
      <Text key={`r${family}`} wrap="truncate">
        {'  '}
        <Text color={family === 6 ? t.v6 : t.v4}>{`IPv${family} `}</Text>
        {r ? (
          <Text color={t.ok}>{`✓ yes, last from ${r.from} (${KIND_LABEL[r.kind] ?? r.kind}) ${ago(r.at, now)} ago`}</Text>
        ) : (
          <Text color={t.muted}>✗ not yet</Text>
        )}
      </Text>,
    );
  }
  const dht = engine.dht;
  lines.push(
    <Text key="dht" wrap="truncate">
      <Text bold>DHT </Text>
      {dht ? `IPv4 node on ${formatHostPort(dht.address, dht.port)}, ${dht.nodes} nodes known, ${dht.lookups} lookups done` : <Text color={t.muted}>off</Text>}
    </Text>,
  );
  const lsd = engine.lsd;
  lines.push(
    <Text key="lsd" wrap="truncate">
      <Text bold>LSD </Text>
      {lsd ? `${lsdInterfaces(lsd.interfaces)}: sent ${lsd.sent}, heard ${lsd.heard} (${lsd.peers} for our torrents)` : <Text color={t.muted}>off</Text>}
    </Text>,
  );
  const tu = engine.tunnel;
  lines.push(
    <Text key="th" wrap="truncate">
      <Text bold>Tunnel </Text>
      {tu ? (
        <Text color={tu.state === 'up' ? t.ok : t.warn}>{`${tu.state} via ${tu.server}, ${tu.mode} mode`}</Text>
      ) : (
        <Text color={t.muted}>off (--tunnel HOST:PORT brings up IPv6 over IPv4, from a `sixswarm tunnel-server` on a host with IPv6)</Text>
      )}
    </Text>,
  );
  if (tu) {
    lines.push(
      <Text key="t1" wrap="truncate">
        {`  prefix ${tu.prefix ?? '-'}  address ${tu.address ?? '-'}  since ${tu.connectedSince ? `${formatDuration((now - tu.connectedSince) / 1000)}` : '-'}  reconnects ${tu.reconnects}`}
      </Text>,
    );
    lines.push(
      <Text key="t2" wrap="truncate">
        {tu.mode === 'stream'
          ? `  traffic in ${shortSize(tu.bytesIn)}  out ${shortSize(tu.bytesOut)}  relayed streams ${tu.streams ?? 0}`
          : `  traffic in ${shortSize(tu.bytesIn)} (${tu.packetsIn} packets)  out ${shortSize(tu.bytesOut)} (${tu.packetsOut})  dropped in ${tu.droppedIn} out ${tu.droppedOut}`}
      </Text>,
    );
    lines.push(
      <Text key="tm" color={t.muted} wrap="truncate">
        {fit(`  ${tu.modeReason}`, width)}
      </Text>,
    );
    if (tu.lastError) lines.push(<Text key="t3" color={t.error} wrap="truncate">{fit(`  last error: ${tu.lastError}`, width)}</Text>);
  }
  return (
    <Box flexDirection="column" height={height}>
      {lines.slice(0, height)}
    </Box>
  );
}
