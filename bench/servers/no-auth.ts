// The ceiling: the same Express app with no authentication at all.

import { benchApp, serve } from './common.js'

serve(benchApp(undefined))
