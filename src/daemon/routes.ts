/**
 * The daemon's URLs, behind the guard (Host header, login): sixswarm's own page at /, its live
 * updates at /sixswarm/events, the Transmission RPC at /transmission/rpc, and Transmission's own
 * web page at /transmission/web/ when one is installed. Nothing else is served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestGuard } from '../http/guard.js';
import { HttpError } from '../http/http-error.js';
import { BASE_HEADERS, type Handler } from '../http/http-front.js';
import type { StaticFiles } from '../http/static-files.js';
import type { RpcEndpoint, RpcOutcome } from '../transmission-rpc/rpc-endpoint.js';
import type { EventStreams } from './event-stream.js';

/** sixswarm's page loads nothing from elsewhere and runs no inline code. */
const OWN_PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  ...BASE_HEADERS,
};
/** Transmission's page comes as it is (it has inline handlers): it only may not be framed. */
const TRANSMISSION_PAGE_HEADERS = { 'Content-Security-Policy': "frame-ancestors 'none'", ...BASE_HEADERS };

export interface RouteParts {
  guard: RequestGuard;
  rpc: RpcEndpoint;
  streams: EventStreams;
  ownPage: StaticFiles;
  transmissionPage?: StaticFiles;
  /** A request was served by the RPC (its method, and why it was refused if it was). */
  onRpc(outcome: RpcOutcome, source: string, user: string | undefined): void;
  /** A request was refused before it was served (the guard, a bad path). */
  onRefused(source: string, status: number, reason: string): void;
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(301, { ...BASE_HEADERS, Location: to, 'Content-Length': '0' });
  res.end();
}

export function daemonRoutes(p: RouteParts): Handler {
  return async (req: IncomingMessage, res: ServerResponse, source: string) => {
    let user: string | undefined;
    try {
      user = p.guard.check(req, source);
    } catch (e) {
      if (e instanceof HttpError) p.onRefused(source, e.status, e.message);
      req.resume();
      throw e;
    }
    // The path alone: the host in an absolute-form target is ignored, as is a query where none is used.
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://daemon');
    } catch {
      throw new HttpError(400, 'malformed request target');
    }
    const path = url.pathname;
    const get = req.method === 'GET' || req.method === 'HEAD';
    // transmission-remote posts to /transmission/rpc/, others to /transmission/rpc.
    if (path === '/transmission/rpc' || path === '/transmission/rpc/') {
      const outcome = await p.rpc.serve(req, res);
      if (outcome) p.onRpc(outcome, source, user);
      return;
    }
    req.resume();
    if (!get) throw new HttpError(405, 'only the RPC takes requests other than GET', { Allow: 'GET, HEAD' });
    if (path === '/sixswarm/events') return p.streams.open(req, res, source, url.searchParams);
    if (path === '/transmission' || path === '/transmission/' || path === '/transmission/web') return redirect(res, '/transmission/web/');
    if (path.startsWith('/transmission/web/')) {
      if (!p.transmissionPage) throw new HttpError(404, "Transmission's web page is not installed here (Debian: apt install transmission-common; or set TRANSMISSION_WEB_HOME)");
      return p.transmissionPage.serve(path.slice('/transmission/web/'.length), res, TRANSMISSION_PAGE_HEADERS, req.method === 'HEAD');
    }
    if (path.startsWith('/transmission/')) throw new HttpError(404, 'no such page');
    return p.ownPage.serve(path.slice(1), res, OWN_PAGE_HEADERS, req.method === 'HEAD');
  };
}
