/** Test support: one port for both families, listening and advertised alike (no gateway mapping). */
import type { OurPorts } from '../../src/transport/advertised-ports.js';

export const samePort = (port: number): OurPorts => ({ local: () => port, advertised: () => port });
