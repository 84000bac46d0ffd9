// RS256/384/512 checked by encoding and comparing: every answer is crypto.verify's, and every block
// a lenient parser would take (Bleichenbacher 2006 and its variants) is refused.

import {
  constants,
  generateKeyPairSync,
  hash,
  privateEncrypt,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { pkcs1SignatureIsValid, type Pkcs1Hash } from '../../src/pkcs1.js'

const SIGNING_INPUT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9'
const PREFIX: Record<Pkcs1Hash, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
}

const keys = [2048, 3072].map((modulusLength) => ({
  modulusBytes: modulusLength / 8,
  ...generateKeyPairSync('rsa', { modulusLength }),
}))
const { publicKey, privateKey, modulusBytes } = keys[0]!

/** Our answer, which must be crypto.verify's; returned for the case's own expectation. */
function answer(
  signature: Buffer,
  options: { hashName?: Pkcs1Hash; input?: string; key?: KeyObject; bytes?: number } = {},
): boolean {
  const {
    hashName = 'sha256',
    input = SIGNING_INPUT,
    key = publicKey,
    bytes = modulusBytes,
  } = options
  const ours = pkcs1SignatureIsValid(hashName, input, signature, key, bytes)
  expect(ours).toBe(verify(hashName, Buffer.from(input), key, signature))
  return ours
}

function digestInfo(hashName: Pkcs1Hash, input = SIGNING_INPUT): Buffer {
  return Buffer.concat([Buffer.from(PREFIX[hashName], 'hex'), hash(hashName, input, 'buffer')])
}

/** Signs a chosen DigestInfo-like block T with the standard type-1 padding. */
function signBlock(block: Buffer): Buffer {
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, block)
}

/** Signs a whole chosen encoded message EM (modulusBytes long), padding and all. */
function signRaw(encoded: Buffer): Buffer {
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, encoded)
}

function encodedMessage(parts: { type?: number; padding: Buffer; block: Buffer }): Buffer {
  const head = Buffer.from([0x00, parts.type ?? 0x01])
  const message = Buffer.concat([head, parts.padding, Buffer.from([0x00]), parts.block])
  expect(message.length).toBe(modulusBytes)
  return message
}

describe('pkcs1SignatureIsValid', () => {
  it.each(['sha256', 'sha384', 'sha512'] as const)(
    'accepts a %s signature, with 2048- and 3072-bit keys',
    (hashName) => {
      for (const key of keys) {
        const signature = sign(hashName, Buffer.from(SIGNING_INPUT), key.privateKey)
        const options = { hashName, key: key.publicKey, bytes: key.modulusBytes }
        expect(answer(signature, options)).toBe(true)
        expect(answer(signature, { ...options, input: `${SIGNING_INPUT}x` })).toBe(false)
      }
    },
  )

  it('refuses a signature made with another hash, or checked with another key', () => {
    const signature = sign('sha384', Buffer.from(SIGNING_INPUT), privateKey)
    expect(answer(signature, { hashName: 'sha256' })).toBe(false)
    expect(answer(signature, { hashName: 'sha512' })).toBe(false)
    const other = keys[1]!
    const ours = sign('sha256', Buffer.from(SIGNING_INPUT), other.privateKey)
    expect(answer(ours, { key: publicKey, bytes: modulusBytes })).toBe(false)
  })

  it('refuses a DigestInfo whose hash OID, parameters or length are not exactly the algorithm’s', () => {
    const digest = hash('sha256', SIGNING_INPUT, 'buffer')
    const otherOid = Buffer.from(PREFIX.sha256.replace('04020105', '04020405'), 'hex')
    const withoutNull = Buffer.from('302f300b06096086480165030402010420', 'hex')
    for (const block of [
      Buffer.concat([otherOid, digest]),
      Buffer.concat([withoutNull, digest]),
      Buffer.concat([digestInfo('sha256'), Buffer.from([0x00])]), // a byte after the digest
      digestInfo('sha256').subarray(0, -1), // a byte short
      digest, // no DigestInfo at all
    ]) {
      expect(answer(signBlock(block))).toBe(false)
    }
    expect(answer(signBlock(digestInfo('sha256')))).toBe(true)
  })

  it('refuses Bleichenbacher 2006 blocks: short padding with garbage after the digest', () => {
    const block = digestInfo('sha256')
    const garbageLength = modulusBytes - 3 - 8 - block.length
    const forged = encodedMessage({
      padding: Buffer.alloc(8, 0xff),
      block: Buffer.concat([block, Buffer.alloc(garbageLength, 0x41)]),
    })
    expect(answer(signRaw(forged))).toBe(false)
  })

  it('refuses padding that is not all FF, a block of type 2, and padding under eight bytes', () => {
    const block = digestInfo('sha256')
    const paddingLength = modulusBytes - 3 - block.length
    const notAllFf = Buffer.alloc(paddingLength, 0xff)
    notAllFf[20] = 0xfe
    const typeTwo = Buffer.alloc(paddingLength, 0x5a)
    // A block this long leaves seven bytes of padding: T holds 0x00 bytes the attacker chose.
    const longBlock = Buffer.concat([Buffer.alloc(paddingLength - 7, 0x00), block])
    for (const encoded of [
      encodedMessage({ padding: notAllFf, block }),
      encodedMessage({ type: 0x02, padding: typeTwo, block }),
      encodedMessage({ padding: Buffer.alloc(7, 0xff), block: longBlock }),
    ]) {
      expect(answer(signRaw(encoded))).toBe(false)
    }
    expect(
      answer(signRaw(encodedMessage({ padding: Buffer.alloc(paddingLength, 0xff), block }))),
    ).toBe(true)
  })

  it('refuses a signature one byte short (its leading zero dropped) or one byte long', () => {
    // About one signature in 256 starts with a zero byte; the same number in k-1 bytes must fail.
    let found: { input: string; signature: Buffer } | undefined
    for (let index = 0; found === undefined && index < 5_000; index += 1) {
      const input = `${SIGNING_INPUT}.${index}`
      const signature = signBlock(digestInfo('sha256', input))
      if (signature[0] === 0) found = { input, signature }
    }
    const { input, signature } = found!
    expect(answer(signature, { input })).toBe(true)
    expect(answer(signature.subarray(1), { input })).toBe(false)
    expect(answer(Buffer.concat([Buffer.from([0x00]), signature]), { input })).toBe(false)
  })

  it('refuses an empty signature, all zeros, and one not below the modulus', () => {
    expect(answer(Buffer.alloc(0))).toBe(false)
    expect(answer(Buffer.alloc(modulusBytes, 0x00))).toBe(false)
    expect(answer(Buffer.alloc(modulusBytes, 0xff))).toBe(false)
  })
})
