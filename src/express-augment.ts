// Types req.currentUser (and req.authError) on Express's Request, for Express 4 and 5 alike.

import type { AuthError } from './errors.js'
import type { User } from './user.js'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Who made the request: set on every request `jwtAuth` sees (the anonymous user when no token). */
      currentUser: User
      /** Why a token was refused, when `jwtAuth({ invalidToken: 'anonymous' })` let the request through. */
      authError?: AuthError
    }
  }
}

export {}
