// An SVG bar chart of requests/s per target and mode, written by hand (no dependencies).

import type { Results, Summary } from './results.js'
import { MODE_LABELS, MODES, TARGET_LABELS, TARGETS, type TargetName } from './shared.js'

const COLOURS: Readonly<Record<TargetName, string>> = {
  'no-auth': '#9e9e9e',
  'empty-middleware': '#c8c8c8',
  'oidc-guard': '#1b7f3b',
  'express-oauth2-jwt-bearer': '#e07b39',
  'express-jwt': '#8e6cc0',
  'aws-jwt-verify': '#d6a21e',
  jose: '#3b78c2',
}

const WIDTH = 960
const PANEL_HEIGHT = 280
const LEFT = 70
const RIGHT = 20
const LEGEND_COLUMNS = 4
const LEGEND_HEIGHT = 14 + Math.ceil(TARGETS.length / LEGEND_COLUMNS) * 20 + 12
// A mode's bars never spread wider than this, however few modes a panel has.
const MAX_GROUP_WIDTH = 220

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A round axis maximum above `value`: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((limit) => limit >= value) ?? value
}

function panel(rows: readonly Summary[], title: string, top: number): string[] {
  const out: string[] = []
  const modes = MODES.filter((mode) => rows.some((row) => row.mode === mode))
  const targets = TARGETS.filter((target) => rows.some((row) => row.target === target))
  const plotTop = top + 28
  const plotHeight = PANEL_HEIGHT - 28 - 40
  const plotWidth = WIDTH - LEFT - RIGHT
  const max = niceMax(Math.max(...rows.filter((row) => row.ok).map((row) => row.requestsPerSec), 1))
  out.push(
    `<text x="${LEFT}" y="${top + 16}" class="title">${escape(title)}</text>`,
    `<text x="16" y="${plotTop + plotHeight / 2}" class="axis" transform="rotate(-90 16 ${plotTop + plotHeight / 2})" text-anchor="middle">requests/s</text>`,
  )
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (max * tick) / 4
    const y = plotTop + plotHeight - (plotHeight * tick) / 4
    out.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y}" y2="${y}" class="grid"/>`,
      `<text x="${LEFT - 6}" y="${y + 4}" class="axis" text-anchor="end">${Math.round(value).toLocaleString('en-US')}</text>`,
    )
  }
  const groupWidth = Math.min(MAX_GROUP_WIDTH, plotWidth / Math.max(1, modes.length))
  const barWidth = (groupWidth * 0.84) / Math.max(1, targets.length)
  modes.forEach((mode, group) => {
    const groupLeft = LEFT + group * groupWidth + groupWidth * 0.08
    targets.forEach((target, index) => {
      const row = rows.find((item) => item.mode === mode && item.target === target)
      const x = groupLeft + index * barWidth
      if (row === undefined) return
      if (!row.ok) {
        out.push(
          `<text x="${x + barWidth / 2}" y="${plotTop + plotHeight - 4}" class="failed" text-anchor="middle">×</text>`,
        )
        return
      }
      const height = (plotHeight * row.requestsPerSec) / max
      const y = plotTop + plotHeight - height
      out.push(
        `<rect x="${x + 1}" y="${y}" width="${barWidth - 2}" height="${height}" fill="${COLOURS[target]}"><title>${escape(
          `${TARGET_LABELS[target]}, ${MODE_LABELS[mode]}: ${Math.round(row.requestsPerSec)} req/s`,
        )}</title></rect>`,
        `<text x="${x + barWidth / 2}" y="${y - 3}" class="value" text-anchor="middle">${(row.requestsPerSec / 1000).toFixed(1)}k</text>`,
      )
    })
    out.push(
      `<text x="${LEFT + group * groupWidth + groupWidth / 2}" y="${plotTop + plotHeight + 18}" class="axis" text-anchor="middle">${escape(MODE_LABELS[mode])}</text>`,
    )
  })
  return out
}

/** The chart of a results file: one panel per core configuration (first algorithm measured). */
export function renderChart(results: Results): string {
  const alg = results.summary[0]?.alg ?? 'RS256'
  const configurations = ([1, 2] as const).filter((cores) =>
    results.summary.some((row) => row.cores === cores && row.alg === alg),
  )
  const height = LEGEND_HEIGHT + configurations.length * PANEL_HEIGHT + 10
  const body: string[] = []
  TARGETS.forEach((target, index) => {
    const x = LEFT + (index % LEGEND_COLUMNS) * 215
    const y = 14 + Math.floor(index / LEGEND_COLUMNS) * 20
    body.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${COLOURS[target]}"/>`,
      `<text x="${x + 18}" y="${y + 10}" class="legend">${escape(TARGET_LABELS[target])}</text>`,
    )
  })
  configurations.forEach((cores, index) => {
    const rows = results.summary.filter((row) => row.cores === cores && row.alg === alg)
    const where = cores === 1 ? 'server pinned to one core' : 'server on two cores'
    const title = `${alg}, Express 5, ${where}; median of ${rows[0]?.rounds ?? 0} rounds, ${results.machine.date.slice(0, 10)}`
    body.push(...panel(rows, title, LEGEND_HEIGHT + index * PANEL_HEIGHT))
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:600}.axis{font-size:11px;fill:#444}.legend{font-size:12px}.value{font-size:9px;fill:#333}.grid{stroke:#e0e0e0}.failed{font-size:14px;fill:#c00}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
