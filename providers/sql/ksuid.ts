// Row ids for grants: KSUIDs, the 27-character ids the seed's tables use (time-sortable, random).

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const EPOCH_SEC = 1_400_000_000 // KSUID's epoch: 2014-05-13
const LENGTH = 27

/**
 * A new KSUID: 4 bytes of seconds since the KSUID epoch and 16 random bytes, in base 62. It fits
 * the seed's `id VARCHAR(27)` column, which has no database-side default.
 */
export function ksuid(nowMs: number = Date.now()): string {
  const bytes = new Uint8Array(20)
  new DataView(bytes.buffer).setUint32(0, Math.floor(nowMs / 1000) - EPOCH_SEC)
  globalThis.crypto.getRandomValues(bytes.subarray(4))
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  let text = ''
  while (value > 0n) {
    text = ALPHABET[Number(value % 62n)]! + text
    value /= 62n
  }
  return text.padStart(LENGTH, '0')
}
