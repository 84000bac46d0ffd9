// The example's browser page in headless Chromium: sign in as two users from another origin and
// read the API's answers off the page (cross-origin calls with a CORS preflight).

import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startExample, type RunningExample } from '../../examples/app.js'

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
const present = existsSync(CHROMIUM)
// In CI the browser must be there (.ci/run installs it): a missing one fails, never skips.
const required = process.env['CI'] === 'true'
if (!present && !required) {
  console.warn(`[browser test] skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`)
}

describe.skipIf(!present && !required)('the example page in Chromium', () => {
  let example: RunningExample
  let browser: Browser
  const methods: string[] = []

  beforeAll(async () => {
    example = await startExample(0, { log: false, onRequest: (method) => methods.push(method) })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await example?.close()
  })

  it('signs in as a user and as an admin, and shows the answers the API gave', async () => {
    const page = await browser.newPage()
    await page.goto(example.pageUrl)
    const statuses = async () =>
      Object.fromEntries(
        await page.locator('#results tr').evaluateAll((rows) =>
          rows.map((row) => {
            const { dataset } = row as unknown as { dataset: Record<string, string> }
            return [dataset['call'], dataset['status']]
          }),
        ),
      )

    await page.click('#run')
    await page.waitForSelector('body[data-state="done"]')
    expect(await statuses()).toMatchObject({ 'GET /public': '200', 'GET /me': '401' })

    await page.click('[data-user="alice"]')
    await page.waitForFunction(
      "document.getElementById('who').textContent === 'Signed in as alice'",
    )
    await page.waitForSelector('body[data-state="done"]')
    expect(await statuses()).toEqual({
      'GET /public': '200',
      'GET /me': '200',
      'GET /orders': '200',
      'POST /orders': '403',
      'GET /admin': '403',
      'DELETE /orders/42': '403',
      'GET /jobs': '403',
    })
    expect(await page.textContent('#claims')).toContain('"sub": "alice"')

    await page.click('[data-user="ada"]')
    await page.waitForFunction("document.getElementById('who').textContent === 'Signed in as ada'")
    await page.waitForSelector('body[data-state="done"]')
    expect(await statuses()).toMatchObject({
      'POST /orders': '201',
      'GET /admin': '200',
      'DELETE /orders/42': '200',
      'GET /jobs': '403',
    })
    // Calls with a token are cross-origin and non-simple: the browser asked first.
    expect(methods).toContain('OPTIONS')

    const output = join(import.meta.dirname, '..', '..', 'test-results')
    mkdirSync(output, { recursive: true })
    await page.screenshot({ path: join(output, 'example-page.png'), fullPage: true })
  }, 60_000)
})
