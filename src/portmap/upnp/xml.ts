/**
 * A small, strict, bounded XML reader for UPnP device descriptions and SOAP replies. It keeps
 * element names (local part, namespace prefix dropped), their text and their children; it
 * ignores attributes, comments and processing instructions, expands only the five predefined
 * entities and character references (no DTD, so no entity expansion bombs), and refuses input
 * deeper or with more elements than the limits, so hostile XML costs at most its own size.
 */

export interface XmlElement {
  /** Local name (after any `prefix:`). */
  name: string;
  /** Text directly inside, trimmed. */
  text: string;
  children: XmlElement[];
}

export interface XmlLimits {
  maxDepth: number;
  maxElements: number;
}

export class XmlError extends Error {
  override name = 'XmlError';
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,4});/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
    }
    return ENTITIES[ref] ?? whole;
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
}

const NAME = /^[A-Za-z_][\w.:-]*/;

/** Parses `text` into its root element; throws XmlError on malformed input or when a limit is hit. */
export function parseXml(text: string, limits: XmlLimits): XmlElement {
  const root: XmlElement = { name: '', text: '', children: [] };
  const stack: { el: XmlElement; qname: string; text: string[] }[] = [{ el: root, qname: '', text: [] }];
  let elements = 0;
  let i = 0;
  const n = text.length;
  const find = (needle: string, from: number, what: string): number => {
    const at = text.indexOf(needle, from);
    if (at < 0) throw new XmlError(`unterminated ${what}`);
    return at;
  };
  while (i < n) {
    const lt = text.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      if (text.slice(i).trim()) top.text.push(decodeText(text.slice(i)));
      break;
    }
    if (lt > i) top.text.push(decodeText(text.slice(i, lt)));
    if (text.startsWith('<!--', lt)) {
      i = find('-->', lt + 4, 'comment') + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = find(']]>', lt + 9, 'CDATA section');
      top.text.push(text.slice(lt + 9, end));
      i = end + 3;
    } else if (text.startsWith('<?', lt)) {
      i = find('?>', lt + 2, 'processing instruction') + 2;
    } else if (text.startsWith('<!', lt)) {
      // A DOCTYPE: with an internal subset it could declare entities; UPnP never needs one.
      const end = find('>', lt + 2, 'declaration');
      if (text.slice(lt, end).includes('[')) throw new XmlError('a DOCTYPE with an internal subset is not accepted');
      i = end + 1;
    } else if (text[lt + 1] === '/') {
      const end = find('>', lt + 2, 'end tag');
      const qname = text.slice(lt + 2, end).trim();
      if (stack.length === 1 || qname !== top.qname) throw new XmlError(`</${qname.slice(0, 40)}> does not close <${top.qname.slice(0, 40)}>`);
      top.el.text = top.text.join('').trim();
      stack.pop();
      i = end + 1;
    } else {
      const m = NAME.exec(text.slice(lt + 1, lt + 1 + 256));
      if (!m) throw new XmlError(`malformed tag at offset ${lt}`);
      // Attributes are skipped; a quoted value may hold '>'.
      let j = lt + 1 + m[0].length;
      let quote = '';
      for (; j < n; j++) {
        const c = text[j]!;
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= n) throw new XmlError('unterminated start tag');
      const selfClosing = text[j - 1] === '/';
      if (++elements > limits.maxElements) throw new XmlError(`more than ${limits.maxElements} elements`);
      if (stack.length > limits.maxDepth) throw new XmlError(`nested deeper than ${limits.maxDepth} elements`);
      const el: XmlElement = { name: localName(m[0]), text: '', children: [] };
      if (stack.length === 1 && root.children.length > 0) throw new XmlError('more than one root element');
      top.el.children.push(el);
      if (!selfClosing) stack.push({ el, qname: m[0], text: [] });
      i = j + 1;
    }
  }
  if (stack.length > 1) throw new XmlError(`<${stack[stack.length - 1]!.qname.slice(0, 40)}> is never closed`);
  const doc = root.children[0];
  if (!doc) throw new XmlError('no root element');
  return doc;
}

/** The first direct child named `name`. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** Every element named `name` below `el`, depth first, document order. */
export function descendants(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

/** Escapes text for an element's content. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', "'": 'apos', '"': 'quot' } as Record<string, string>)[c]};`);
}
