/** HOST:PORT options (--peer, --x-pe): parsed, or a usage error that names the option. */
import { parseHostPort, type HostPort } from '../src/net/hostport.js';
import { errorMessage } from '../src/util/errors.js';
import { UsageError } from './usage-error.js';

export function parseHostPorts(list: string[] | undefined, option: string): HostPort[] {
  return (list ?? []).map((text) => {
    try {
      return parseHostPort(text, option);
    } catch (e) {
      throw new UsageError(errorMessage(e));
    }
  });
}
