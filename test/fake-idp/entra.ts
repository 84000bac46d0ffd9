// Entra-shaped tokens for the project's own tests: the public kit's presets (src/testing-entra.ts).

export * from '../../src/testing-entra.js'
