// The floor of any auth middleware: the no-auth app plus one middleware that only calls next().

import type { NextFunction, Request, Response } from 'express'
import { benchApp, serve } from './common.js'

function emptyMiddleware(_req: Request, _res: Response, next: NextFunction): void {
  next()
}

serve(benchApp(emptyMiddleware))
