/**
 * Port mapping for one address family: find the gateway and the address we speak for, ask the
 * enabled protocols whether they are spoken (all at once: probes create no state), map TCP and
 * UDP with the first one that grants, renew before the lease ends, ask again after the gateway
 * lost its state, look for a gateway again (backing off up to 30 s) while nothing is mapped, and
 * delete everything on stop.
 *
 * Every operation runs one at a time on one queue, so a renewal, an epoch reset and stop() never
 * interleave. Timers are few and bounded (one per grant, one for rediscovery or the state check).
 */
import type { Family } from '../net/address.js';
import { chooseListenAddress6, isAnnounceable6, readInterfaceAddresses6 } from '../net/ipv6-source.js';
import type { MappingBackend } from './backend.js';
import { PortMapError, toPortMapError } from './errors.js';
import { defaultGateway, localAddressToward, type Gateway } from './gateway.js';
import { NatPmpBackend } from './natpmp/backend.js';
import { PcpBackend } from './pcp/backend.js';
import type { Grant, MappingEvent, PortMapProtocol, ReachabilityVerdict, Transport } from './types.js';
import { UpnpPinholeBackend } from './upnp/pinhole-backend.js';
import { UpnpPortMappingBackend } from './upnp/port-mapping-backend.js';
import { behindAnotherNat } from './verdict.js';

/** Waits between looks for a gateway while nothing is mapped: a router that boots late is found within a minute. */
export const REDISCOVER_MS = [5_000, 10_000, 20_000, 30_000];
/** UPnP has no epoch: renewing at least this often is how a rebooted gateway is noticed. */
const UPNP_RENEW_CAP_MS = 60_000;
/** PCP and NAT-PMP: a probe this often reads the gateway's epoch even if its announcement was lost. */
const EPOCH_CHECK_MS = 120_000;
/** No renewal sooner than this after the last, whatever lease the gateway gives. */
const MIN_RENEW_MS = 5_000;
/** RFC 6887 section 14.1.3: wait 0-5 s after an unsolicited ANNOUNCE, so a LAN's clients do not all ask at once. */
const ANNOUNCE_JITTER_MS = 5_000;
/** State-lost signals closer together than this are handled once. */
const RESET_MIN_GAP_MS = 10_000;

export interface FamilyMapperOptions {
  family: Family;
  port: number;
  transports: readonly Transport[];
  protocols: readonly PortMapProtocol[];
  description: string;
  lifetimeSeconds: number;
  /** The address to speak for: for IPv6 the one we listen on (default: the stable global one chosen here). */
  address?: string;
  log: (line: string) => void;
  emit: (e: MappingEvent) => void;
  changed: () => void;
}

interface Environment {
  gateway: Gateway;
  localAddress: string;
  /** Interface of localAddress. */
  ifname: string;
}

type EnvResult = Environment | { reason: 'no-gateway' | 'no-address'; detail: string };

export class FamilyMapper {
  private env?: Environment;
  private backends: MappingBackend[] = [];
  private active?: MappingBackend;
  private readonly grants = new Map<Transport, Grant>();
  private readonly renewTimers = new Map<Transport, NodeJS.Timeout>();
  private readonly lastFailure = new Map<Transport, string>();
  private cycleTimer?: NodeJS.Timeout;
  private checkTimer?: NodeJS.Timeout;
  private resetTimer?: NodeJS.Timeout;
  private lastResetAt = 0;
  private lastNudgeAt = 0;
  private backoff = 0;
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;
  private verdict: ReachabilityVerdict = { state: 'probing' };
  private readonly family: Family;
  /** Cancels discovery in flight when stop() comes before anything was granted. */
  private readonly abort = new AbortController();

  constructor(private readonly o: FamilyMapperOptions) {
    this.family = o.family;
  }

  status(): ReachabilityVerdict {
    if (this.verdict.state === 'mapped' || this.verdict.state === 'pinholed') {
      // Lease left is computed when asked.
      const g = this.grants.get(this.o.transports[0]!);
      if (g) return { ...this.verdict, leaseLeftSeconds: leaseLeft(g) };
    }
    return this.verdict;
  }

  /** The external endpoint of our listening port (first transport), when reachable through a grant. */
  advertised(): { address: string; port: number } | undefined {
    const v = this.verdict;
    return v.state === 'mapped' || v.state === 'pinholed' ? v.external : undefined;
  }

  /** Runs the first discovery; resolves when it has an outcome. */
  start(): Promise<void> {
    return this.run(() => this.cycle());
  }

  /** A datagram on the announce port from `from`; true when it came from our gateway. */
  announce(from: string, msg: Buffer): boolean {
    if (this.stopping || !this.env || from !== this.env.gateway.address) return false;
    if (this.active?.announce) this.active.announce(msg);
    else this.nudge(`the gateway ${from} announced itself`);
    return true;
  }

  /**
   * A gateway on our LAN announced a restart (on this family or the other: one box is usually
   * both, and miniupnpd 2.3.1 sends its IPv6 ANNOUNCE to ff02::1 without an interface: none
   * reached the LAN in the lab): check now instead of at the next renewal. One exchange, at most
   * every 10 s.
   */
  nudge(why: string): void {
    if (this.stopping || this.resetTimer || Date.now() - this.lastNudgeAt < RESET_MIN_GAP_MS) return;
    this.lastNudgeAt = Date.now();
    const b = this.active;
    if (!b) {
      if (this.grants.size === 0) {
        this.o.log(`IPv${this.family}: ${why}; asking the gateway now`);
        this.scheduleCycle(Math.random() * 1000);
      }
      return;
    }
    // PCP / NAT-PMP: a probe reads the epoch (a restart then triggers the re-requests). UPnP has no epoch: renew.
    void this.run(async () => {
      if (this.active !== b) return;
      if (b.protocol === 'upnp') await this.remapAll();
      else await b.probe().catch((e: unknown) => this.o.log(`IPv${this.family}: ${b.protocol} check: ${toPortMapError(e, b.protocol).message}`));
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.clearTimers();
    if (this.grants.size === 0) {
      this.abort.abort();
      this.dropBackends();
    }
    await this.queue;
    const grants = [...this.grants.values()];
    this.grants.clear();
    await Promise.all(
      grants.map(async (g) => {
        try {
          await this.active?.unmap(g);
          this.o.emit(this.event(g.transport, 'deleted', { grant: g }));
        } catch (e) {
          const err = toPortMapError(e, g.protocol);
          this.o.log(`IPv${this.family}: deleting the ${g.transport.toUpperCase()} mapping failed: ${err.message} (it lapses by itself when its lease ends)`);
          this.o.emit(this.event(g.transport, 'failed', { grant: g, error: err }));
        }
      }),
    );
    for (const b of this.backends) b.close();
    this.backends = [];
    this.active = undefined;
    this.setVerdict({ state: 'disabled' });
  }

  // --- the queue ------------------------------------------------------------------------------

  private run(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.stopping) return;
      try {
        await op();
      } catch (e) {
        this.o.log(`IPv${this.family}: port mapping: unexpected ${(e as Error).stack ?? String(e)}`);
      }
    });
    this.queue = next;
    return next;
  }

  private clearTimers(): void {
    for (const t of this.renewTimers.values()) clearTimeout(t);
    this.renewTimers.clear();
    clearTimeout(this.cycleTimer);
    clearTimeout(this.checkTimer);
    clearTimeout(this.resetTimer);
    this.cycleTimer = this.checkTimer = this.resetTimer = undefined;
  }

  private scheduleCycle(ms: number): void {
    if (this.stopping) return;
    clearTimeout(this.cycleTimer);
    this.cycleTimer = setTimeout(() => {
      this.cycleTimer = undefined;
      void this.run(() => this.cycle());
    }, ms);
    this.cycleTimer.unref();
  }

  private scheduleRediscovery(hintMs?: number): void {
    const ms = Math.max(hintMs ?? 0, REDISCOVER_MS[Math.min(this.backoff, REDISCOVER_MS.length - 1)]!);
    this.backoff++;
    this.scheduleCycle(ms);
  }

  // --- discovery and mapping ------------------------------------------------------------------

  private async environment(): Promise<EnvResult> {
    const gateway = defaultGateway(this.family);
    if (!gateway) return { reason: 'no-gateway', detail: `no IPv${this.family} default route: no gateway to ask` };
    if (this.family === 4) {
      const localAddress = this.o.address ?? (await localAddressToward(gateway.target, 4));
      if (!localAddress) return { reason: 'no-gateway', detail: `no route to the gateway ${gateway.address}` };
      return { gateway, localAddress, ifname: gateway.ifname };
    }
    const addrs = readInterfaceAddresses6();
    if (this.o.address) {
      const a = addrs.find((x) => x.address === this.o.address);
      if (a && !isAnnounceable6(a)) {
        const why = a.temporary ? 'a temporary (privacy) address' : a.deprecated ? 'deprecated' : a.tentative ? 'still tentative (duplicate address detection)' : `a ${a.kind} address`;
        return { reason: 'no-address', detail: `the listening address ${a.address} is ${why}: a pinhole must be for a stable global address (listen on one)` };
      }
      return { gateway, localAddress: this.o.address, ifname: a?.ifname ?? gateway.ifname };
    }
    const chosen = chooseListenAddress6(addrs, { ifname: gateway.ifname });
    if (!chosen) {
      const kinds = [...new Set(addrs.filter((a) => a.kind !== 'loopback').map((a) => (a.temporary ? 'temporary' : a.kind)))].join(', ') || 'none';
      return { reason: 'no-address', detail: `no stable global IPv6 address to open a pinhole for (this host has: ${kinds})` };
    }
    return { gateway, localAddress: chosen.address, ifname: chosen.ifname };
  }

  private makeBackends(env: Environment): MappingBackend[] {
    const log = this.o.log;
    const signal = this.abort.signal;
    const out: MappingBackend[] = [];
    for (const p of this.o.protocols) {
      if (p === 'pcp') out.push(new PcpBackend({ family: this.family, gateway: env.gateway.address, target: env.gateway.target, localAddress: env.localAddress, log }));
      else if (p === 'natpmp' && this.family === 4) out.push(new NatPmpBackend({ gateway: env.gateway.address, localAddress: env.localAddress, log }));
      else if (p === 'upnp' && this.family === 4) out.push(new UpnpPortMappingBackend({ localAddress: env.localAddress, gateway: env.gateway.address, description: this.o.description, signal, log }));
      else if (p === 'upnp' && this.family === 6) out.push(new UpnpPinholeBackend({ localAddress: env.localAddress, ifname: env.ifname, gateway: env.gateway.address, signal, log }));
    }
    for (const b of out) b.onStateLost = (why) => this.stateLost(b, why);
    return out;
  }

  private sameEnv(a: Environment | undefined, b: Environment): boolean {
    return !!a && a.gateway.target === b.gateway.target && a.localAddress === b.localAddress && a.ifname === b.ifname;
  }

  /** One discovery: environment, probes, then the first protocol that grants. */
  private async cycle(): Promise<void> {
    if (this.grants.size > 0) return;
    const env = await this.environment();
    if ('reason' in env) {
      this.dropBackends();
      this.env = undefined;
      this.setVerdict({ state: 'unreachable', reason: env.reason, detail: env.detail });
      this.o.log(`IPv${this.family}: ${env.detail}`);
      return this.scheduleRediscovery();
    }
    if (!this.sameEnv(this.env, env)) {
      this.dropBackends();
      this.env = env;
      this.backends = this.makeBackends(env);
      this.o.log(`IPv${this.family}: gateway ${env.gateway.target}, asking for ${env.localAddress} port ${this.o.port} (${this.backends.map((b) => b.protocol).join(', ') || 'no protocol'})`);
    }
    if (this.backends.length === 0) {
      this.setVerdict({ state: 'unreachable', reason: 'no-answer', detail: `no enabled protocol can map IPv${this.family} (NAT-PMP is IPv4 only)` });
      return;
    }
    if (this.verdict.state !== 'unreachable') this.setVerdict({ state: 'probing', gateway: env.gateway.address });
    // All probes start at once (they create nothing); each protocol is used in order as soon as its own probe is done.
    const probes = this.backends.map((b) =>
      b.probe().then(
        () => undefined,
        (e: unknown) => toPortMapError(e, b.protocol),
      ),
    );
    const failures: PortMapError[] = [];
    for (const [i, b] of this.backends.entries()) {
      const probeError = await probes[i];
      if (this.stopping) return;
      if (probeError) {
        this.o.log(`IPv${this.family}: ${b.protocol}: ${probeError.message}`);
        failures.push(probeError);
        continue;
      }
      const errors = await this.mapAll(b);
      if (this.grants.size > 0) {
        this.active = b;
        this.backoff = 0;
        for (const [t, err] of errors) this.failed(t, err);
        this.startEpochChecks();
        this.updateVerdict();
        return;
      }
      failures.push(...errors.values());
    }
    const chosen = failures.find((f) => f.kind === 'refused' || f.kind === 'bad-reply') ?? failures[0]!;
    for (const t of this.o.transports) this.failed(t, chosen);
    const noAnswer = failures.every((f) => f.kind === 'no-answer' || f.kind === 'unreachable');
    this.setVerdict({
      state: 'unreachable',
      reason: noAnswer ? 'no-answer' : 'refused',
      detail: noAnswer ? `no gateway answered (${failures.map((f) => `${f.protocol}: ${f.message}`).join('; ')})` : `${chosen.protocol}: ${chosen.message}`,
      protocol: chosen.protocol,
      ...(chosen.code !== undefined ? { code: chosen.code } : {}),
      gateway: env.gateway.address,
    });
    this.scheduleRediscovery(chosen.retryAfterMs);
  }

  /** Maps every transport (or those without a grant) with `b`; returns the errors of those that failed. */
  private async mapAll(b: MappingBackend, onlyMissing = false): Promise<Map<Transport, PortMapError>> {
    const errors = new Map<Transport, PortMapError>();
    for (const t of this.o.transports) {
      if (onlyMissing && this.grants.has(t)) continue;
      try {
        await this.mapOne(b, t);
      } catch (e) {
        const err = toPortMapError(e, b.protocol);
        this.o.log(`IPv${this.family}: ${b.protocol}: ${t.toUpperCase()} port ${this.o.port}: ${err.message}`);
        errors.set(t, err);
      }
    }
    return errors;
  }

  private suggestedPort(t: Transport): number {
    const own = this.grants.get(t);
    if (own) return own.external.port;
    // UDP on the same external port as TCP when TCP had to move: one port to announce for both.
    const other = [...this.grants.values()][0];
    return other && this.family === 4 ? other.external.port : this.o.port;
  }

  private async mapOne(b: MappingBackend, t: Transport): Promise<void> {
    const before = this.grants.get(t);
    const suggested = this.suggestedPort(t);
    const g = await b.map({ transport: t, internalPort: this.o.port, suggestedExternalPort: suggested, lifetimeSeconds: this.o.lifetimeSeconds });
    this.grants.set(t, g);
    this.lastFailure.delete(t);
    const moved = before && (before.external.address !== g.external.address || before.external.port !== g.external.port);
    const change = !before ? 'granted' : moved ? 'moved' : 'renewed';
    this.o.emit(this.event(t, change, { grant: g, ...(g.external.port !== suggested ? { requestedPort: suggested } : {}) }));
    if (change !== 'renewed' || this.verdict.state === 'unreachable') {
      const where = this.family === 6 ? `[${g.external.address}]:${g.external.port}` : `${g.external.address}:${g.external.port}`;
      const note = g.external.port !== suggested ? ` (port ${suggested} was not available)` : '';
      this.o.log(`IPv${this.family}: ${g.protocol}: ${t.toUpperCase()} ${change} ${where}${note}, lease ${g.lifetimeSeconds || 'permanent'}${g.lifetimeSeconds ? ' s' : ''}`);
    }
    this.scheduleRenewal(t, g);
  }

  // --- keeping grants -------------------------------------------------------------------------

  private scheduleRenewal(t: Transport, g: Grant): void {
    clearTimeout(this.renewTimers.get(t));
    let ms = g.lifetimeSeconds === 0 ? UPNP_RENEW_CAP_MS : (g.lifetimeSeconds * 1000) / 2;
    if (g.protocol === 'upnp') ms = Math.min(ms, UPNP_RENEW_CAP_MS);
    const timer = setTimeout(() => {
      this.renewTimers.delete(t);
      void this.run(() => this.renew(t));
    }, Math.max(MIN_RENEW_MS, ms));
    timer.unref();
    this.renewTimers.set(t, timer);
  }

  private async renew(t: Transport): Promise<void> {
    const g = this.grants.get(t);
    const b = this.active;
    if (!g || !b || !(await this.sameNetwork())) return;
    try {
      await this.mapOne(b, t);
      // A transport the gateway refused before gets another chance with each renewal of the first.
      if (t === this.o.transports[0]) for (const [other, err] of await this.mapAll(b, true)) this.failed(other, err);
      this.updateVerdict();
    } catch (e) {
      const err = toPortMapError(e, b.protocol);
      const left = leaseLeft(g);
      if ((err.kind === 'no-answer' || err.kind === 'unreachable') && left !== null && left > MIN_RENEW_MS / 1000) {
        // The lease still runs: try again halfway to its end (RFC 6887 section 11.2.1).
        this.o.log(`IPv${this.family}: renewing ${t.toUpperCase()} failed (${err.message}); ${left} s of lease left, trying again`);
        const timer = setTimeout(() => {
          this.renewTimers.delete(t);
          void this.run(() => this.renew(t));
        }, Math.max(MIN_RENEW_MS, Math.min(30_000, (left * 1000) / 2)));
        timer.unref();
        this.renewTimers.set(t, timer);
        return;
      }
      this.lose(t, err);
    }
  }

  private lose(t: Transport, err: PortMapError): void {
    const g = this.grants.get(t);
    if (!g) return;
    this.grants.delete(t);
    clearTimeout(this.renewTimers.get(t));
    this.renewTimers.delete(t);
    this.o.log(`IPv${this.family}: lost the ${t.toUpperCase()} mapping: ${err.message}`);
    this.o.emit(this.event(t, 'lost', { grant: g, error: err }));
    if (this.grants.size === 0) {
      this.active = undefined;
      clearTimeout(this.checkTimer);
      this.setVerdict({ state: 'unreachable', reason: 'lost', detail: `the mapping was lost (${err.message}); asking again`, protocol: err.protocol, ...(err.code !== undefined ? { code: err.code } : {}), gateway: this.env?.gateway.address ?? '' });
      this.backoff = 0;
      this.scheduleRediscovery(err.retryAfterMs);
    } else this.updateVerdict();
  }

  /**
   * Whether the gateway and our address are still those the grants were made with. When not (a
   * laptop on another network, a new prefix), every grant is dropped (deleting it through the old
   * gateway is tried, it may be gone) and discovery starts over.
   */
  private async sameNetwork(): Promise<boolean> {
    const env = await this.environment();
    if ('gateway' in env && this.sameEnv(this.env, env)) return true;
    const why = 'gateway' in env ? `the network changed (gateway ${env.gateway.target}, address ${env.localAddress})` : env.detail;
    this.o.log(`IPv${this.family}: ${why}; dropping the mappings made before`);
    const b = this.active;
    for (const [t, g] of [...this.grants]) {
      await b?.unmap(g).catch(() => {});
      this.lose(t, new PortMapError(g.protocol, 'unreachable', why));
    }
    this.dropBackends();
    this.env = undefined;
    this.scheduleCycle(0);
    return false;
  }

  /** A backend saw its gateway lose state: ask for every grant again, once per burst of signals. */
  private stateLost(b: MappingBackend, why: string): void {
    if (this.stopping || b !== this.active || this.resetTimer) return;
    const since = Date.now() - this.lastResetAt;
    const wait = Math.max(RESET_MIN_GAP_MS - since, 0) + Math.random() * ANNOUNCE_JITTER_MS;
    this.o.log(`IPv${this.family}: ${why}; asking for the mappings again in ${(wait / 1000).toFixed(1)} s`);
    this.resetTimer = setTimeout(() => {
      this.resetTimer = undefined;
      this.lastResetAt = Date.now();
      void this.run(() => this.remapAll());
    }, wait);
    this.resetTimer.unref();
  }

  private async remapAll(): Promise<void> {
    const b = this.active;
    if (!b) return;
    for (const t of this.o.transports) {
      try {
        await this.mapOne(b, t);
      } catch (e) {
        this.lose(t, toPortMapError(e, b.protocol));
      }
    }
    this.updateVerdict();
  }

  /** PCP and NAT-PMP: read the epoch now and then, in case the gateway's restart announcement never reached us. */
  private startEpochChecks(): void {
    clearTimeout(this.checkTimer);
    const b = this.active;
    if (!b || b.protocol === 'upnp') return;
    this.checkTimer = setTimeout(() => {
      void this.run(async () => {
        if (this.active !== b) return;
        await b.probe().catch((e: unknown) => this.o.log(`IPv${this.family}: ${b.protocol} check: ${toPortMapError(e, b.protocol).message}`));
        this.startEpochChecks();
      });
    }, EPOCH_CHECK_MS);
    this.checkTimer.unref();
  }

  private dropBackends(): void {
    for (const b of this.backends) b.close();
    this.backends = [];
    this.active = undefined;
  }

  // --- verdicts and events --------------------------------------------------------------------

  private setVerdict(v: ReachabilityVerdict): void {
    const was = JSON.stringify(this.verdict);
    this.verdict = v;
    if (JSON.stringify(v) !== was) this.o.changed();
  }

  private updateVerdict(): void {
    const primary = this.grants.get(this.o.transports[0]!);
    const udp = this.o.transports[0] !== 'udp' ? this.grants.get('udp') : undefined;
    if (!primary) {
      const err = this.lastFailure.get(this.o.transports[0]!) ?? 'not granted';
      this.setVerdict({ state: 'unreachable', reason: 'refused', detail: `${this.o.transports[0]!.toUpperCase()}: ${err}`, gateway: this.env?.gateway.address ?? '' });
      return;
    }
    const gateway = this.active?.gateway || this.env?.gateway.address || '';
    const nat = this.family === 4 ? behindAnotherNat(primary.external.address) : undefined;
    if (nat) {
      this.setVerdict({ state: 'cgnat', protocol: primary.protocol, gateway, external: primary.external, reason: nat });
      return;
    }
    this.setVerdict({
      state: this.family === 4 ? 'mapped' : 'pinholed',
      protocol: primary.protocol,
      gateway,
      external: primary.external,
      ...(udp ? { udp: udp.external } : {}),
      leaseLeftSeconds: null,
    });
  }

  private failed(t: Transport, err: PortMapError): void {
    // Only when the reason changes: a gateway that stays silent is not news every 30 s.
    if (this.lastFailure.get(t) === err.message) return;
    this.lastFailure.set(t, err.message);
    this.o.emit(this.event(t, 'failed', { error: err }));
  }

  private event(t: Transport, change: MappingEvent['change'], x: { grant?: Grant; error?: PortMapError; requestedPort?: number }): MappingEvent {
    return {
      family: this.family,
      transport: t,
      change,
      internal: { address: this.env?.localAddress ?? '', port: this.o.port },
      ...(x.grant ? { protocol: x.grant.protocol, external: x.grant.external, lifetimeSeconds: x.grant.lifetimeSeconds } : {}),
      ...(x.error ? { protocol: x.error.protocol, error: x.error.message, ...(x.error.code !== undefined ? { code: x.error.code } : {}) } : {}),
      ...(x.requestedPort !== undefined ? { requestedPort: x.requestedPort } : {}),
      ...(this.env ? { gateway: this.active?.gateway || this.env.gateway.address } : {}),
    };
  }
}

/** Seconds of lease left, or null for a permanent grant. */
function leaseLeft(g: Grant): number | null {
  if (g.lifetimeSeconds === 0) return null;
  return Math.max(0, Math.round(g.lifetimeSeconds - (Date.now() - g.grantedAt) / 1000));
}
