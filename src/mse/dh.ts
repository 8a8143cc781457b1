/**
 * The Diffie-Hellman exchange of Message Stream Encryption: the spec's 768-bit prime, generator 2,
 * keys and the shared secret S as 96-byte big-endian numbers. BigInt arithmetic, because Node's
 * DiffieHellman checks the prime each time one is created (about 25 ms here, per connection),
 * while a 160-bit exponentiation in BigInt takes about 0.4 ms.
 */

/** Bytes of a public key or of the shared secret (768 bits). */
export const DH_BYTES = 96;
/** Bytes of a private key: 160 bits, what mainline clients use (the spec asks for at least 128). */
export const PRIVATE_KEY_BYTES = 20;

const P = BigInt(
  '0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74' +
    '020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437' +
    '4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
);
const G = 2n;

function toBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex'));
}

function toBytes(n: bigint): Buffer {
  return Buffer.from(n.toString(16).padStart(DH_BYTES * 2, '0'), 'hex');
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = base % P;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}

/** Our public key Y = G^X mod P for the private key X. */
export function publicKey(privateKey: Uint8Array): Buffer {
  if (privateKey.length < 16) throw new RangeError(`an MSE private key needs at least 128 bits, not ${privateKey.length * 8}`);
  return toBytes(modPow(G, toBig(privateKey)));
}

/**
 * S = Y^X mod P from the peer's public key. Undefined for a key outside 2..P-2: 0, 1 and P-1
 * would give a secret anyone can guess, so a peer sending one is refused.
 */
export function sharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Buffer | undefined {
  if (peerPublicKey.length !== DH_BYTES) return undefined;
  const y = toBig(peerPublicKey);
  if (y < 2n || y > P - 2n) return undefined;
  return toBytes(modPow(y, toBig(privateKey)));
}
