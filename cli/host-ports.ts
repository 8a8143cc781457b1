/** HOST:PORT options (--peer, --x-pe): parsed, or a usage error that names the option. */
import { parseHostPort, type HostPort } from '../src/net/hostport.js';
import { errorMessage } from '../src/util/errors.js';
import { OptionValueError } from './usage-error.js';

export function parseHostPorts(list: string[] | undefined, option: string): HostPort[] {
  return (list ?? []).map((text) => parseHostPortOption(text, option));
}

/** One HOST:PORT given as `option` (--peer, --dht-bootstrap), or an OptionValueError naming it. */
export function parseHostPortOption(text: string, option: string): HostPort {
  try {
    return parseHostPort(text, option);
  } catch (e) {
    const message = errorMessage(e);
    throw new OptionValueError(option, message.replace(`bad ${option} `, ''), message);
  }
}
