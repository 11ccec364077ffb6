// Routes added after the core dialer/member surface: CSV import, OpenAPI document, webhooks.
import type Router from '@koa/router';
import type { RouteDeps } from './deps';

export function extraRoutes(_router: Router, _deps: RouteDeps): void {}
