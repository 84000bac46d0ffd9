// A minimal self-signed X.509 certificate in DER (RFC 5280 §4.1), for the x5c forgery (HDR-04).

import { sign, type KeyObject } from 'node:crypto'

function length(size: number): Buffer {
  if (size < 0x80) return Buffer.from([size])
  const bytes: number[] = []
  for (let rest = size; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content])
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items))

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let value = arc >> 7; value > 0; value >>= 7) chunk.unshift((value & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

function name(commonName: string): Buffer {
  const attribute = sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))
  return sequence(tlv(0x31, attribute))
}

/**
 * A self-signed RSA certificate (sha256WithRSAEncryption) for `commonName`, valid 2020-2049,
 * as base64 DER: the form a JOSE `x5c` member carries (RFC 7515 §4.1.6).
 */
export function selfSignedCertificate(
  keys: { publicKey: KeyObject; privateKey: KeyObject },
  commonName: string,
): string {
  const algorithm = sequence(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]))
  const validity = sequence(
    tlv(0x17, Buffer.from('200101000000Z')),
    tlv(0x17, Buffer.from('491231235959Z')),
  )
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' })
  const tbs = sequence(
    tlv(0xa0, tlv(0x02, Buffer.from([0x02]))),
    tlv(0x02, Buffer.from([0x01, 0x23, 0x45, 0x67])),
    algorithm,
    name(commonName),
    validity,
    name(commonName),
    spki,
  )
  const signature = sign('sha256', tbs, keys.privateKey)
  const bits = tlv(0x03, Buffer.concat([Buffer.from([0x00]), signature]))
  return sequence(tbs, algorithm, bits).toString('base64')
}
