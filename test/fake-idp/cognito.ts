// Cognito-shaped tokens for the project's own tests: the public kit's presets (src/testing-cognito.ts).

export * from '../../src/testing-cognito.js'
