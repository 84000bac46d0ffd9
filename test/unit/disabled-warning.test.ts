// The disabled switch is announced on stderr whatever the log level: a silent logger must not hide
// that authentication is off. Its own file, so that no earlier test has built a disabled middleware.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { jwtAuth } from '../../src/index.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the disabled switch', () => {
  it('emits one Node.js warning per process, even with logging off', () => {
    const emitted = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const env = { AUTH_MIDDLEWARE_DISABLED: 'true', AUTH_MIDDLEWARE_LOG_LEVEL: 'silent' }
    jwtAuth({ disabled: true, logger: false } as never)
    jwtAuth({ env, logLevel: 'silent' } as never)
    expect(emitted).toHaveBeenCalledTimes(1)
    // The first was switched off in code: the warning says so, not the variable it did not set.
    expect(emitted.mock.calls[0]![0]).toMatch(/authentication is disabled \(disabled: true\)/)
    expect(emitted.mock.calls[0]![1]).toMatchObject({ code: 'OIDC_GUARD_AUTH_DISABLED' })
  })
})
