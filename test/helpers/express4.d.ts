// Express 4 is installed under the alias `express4`, so both majors are tested side by side.
declare module 'express4' {
  import express from 'express'
  export default express
}
