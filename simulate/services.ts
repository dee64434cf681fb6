/**
 * Service profiles: route mixes, healthy error ratios and latencies, and the error
 * vocabulary of each service. `checkout` is measured from the shared sample scenarios
 * (route shares, log-normal medians and spreads, ~0.5% 5xx, ~3% 404, one error line per
 * failed request); the others are different shapes on purpose.
 */
import type { ServiceProfile } from './model.js';

/** The samples' checkout service. */
export const CHECKOUT: ServiceProfile = {
  name: 'checkout',
  routes: [
    { path: '/cart', share: 0.345, errorRatio: 0.004, notFoundRatio: 0.031, latencyMedianMs: 45, latencySigma: 0.4 },
    { path: '/checkout', share: 0.303, errorRatio: 0.006, notFoundRatio: 0.031, latencyMedianMs: 120, latencySigma: 0.45 },
    { path: '/search', share: 0.25, errorRatio: 0.0055, notFoundRatio: 0.031, latencyMedianMs: 80, latencySigma: 0.55 },
    { path: '/settings', share: 0.04, errorRatio: 0.006, notFoundRatio: 0.031, latencyMedianMs: 60, latencySigma: 0.4 },
    { path: '/health', share: 0.062, errorRatio: 0, notFoundRatio: 0, latencyMedianMs: 5, latencySigma: 0.2 },
  ],
  errorStatuses: [
    { status: 500, weight: 2 },
    { status: 503, weight: 1 },
  ],
  errorMessages: [
    'upstream timeout after {int:2000:2140}ms calling inventory',
    'connection reset by peer (payments-gateway {ip}:8443)',
    'deadlock detected while updating cart_items (txid {int:1000000:9999999})',
  ],
  warnMessages: [],
  warnRatio: 0,
  errorLogRatio: 1,
};

/** A read-heavy search API: fast, high traffic, some 404s on item lookups. */
export const SEARCH_API: ServiceProfile = {
  name: 'search-api',
  routes: [
    { path: '/v2/search', share: 0.55, errorRatio: 0.004, notFoundRatio: 0.01, latencyMedianMs: 70, latencySigma: 0.6 },
    { path: '/v2/suggest', share: 0.3, errorRatio: 0.002, notFoundRatio: 0, latencyMedianMs: 18, latencySigma: 0.5 },
    { path: '/v2/items/:id', share: 0.1, errorRatio: 0.003, notFoundRatio: 0.08, latencyMedianMs: 35, latencySigma: 0.45 },
    { path: '/healthz', share: 0.05, errorRatio: 0, notFoundRatio: 0, latencyMedianMs: 2, latencySigma: 0.3 },
  ],
  errorStatuses: [
    { status: 500, weight: 3 },
    { status: 504, weight: 2 },
    { status: 502, weight: 1 },
  ],
  errorMessages: [
    'elasticsearch query timed out after {int:800:1500}ms on shard {int:0:11} of index products-{int:20260101:20261130}',
    'failed to decode cursor "{hex:24}": illegal base64 data at input byte {int:3:40}',
    'upstream connect error or disconnect/reset before headers. reset reason: connection termination (upstream {ip}:9200)',
  ],
  warnMessages: ['slow query took {int:400:1200}ms for q_hash={hex:10}', 'cache miss storm on key suggest:{hex:6} ({int:20:90} misses in 1s)'],
  warnRatio: 0.004,
  errorLogRatio: 0.9,
};

/** A payment service: slower, lower traffic, very low healthy error ratio. */
export const PAYMENTS: ServiceProfile = {
  name: 'payments',
  routes: [
    { path: '/v1/authorize', share: 0.45, errorRatio: 0.003, notFoundRatio: 0, latencyMedianMs: 210, latencySigma: 0.35 },
    { path: '/v1/capture', share: 0.3, errorRatio: 0.002, notFoundRatio: 0, latencyMedianMs: 150, latencySigma: 0.35 },
    { path: '/v1/refund', share: 0.05, errorRatio: 0.004, notFoundRatio: 0.02, latencyMedianMs: 300, latencySigma: 0.5 },
    { path: '/webhooks/psp', share: 0.15, errorRatio: 0.003, notFoundRatio: 0, latencyMedianMs: 40, latencySigma: 0.5 },
    { path: '/health', share: 0.05, errorRatio: 0, notFoundRatio: 0, latencyMedianMs: 3, latencySigma: 0.25 },
  ],
  errorStatuses: [
    { status: 500, weight: 1 },
    { status: 502, weight: 2 },
  ],
  errorMessages: [
    'PSP responded 502 Bad Gateway after {int:90:900}ms (request_id={uuid})',
    'idempotency key {uuid} conflict while capturing payment pay_{hex:14}',
    'ledger write failed: could not serialize access due to concurrent update (tx {int:100000:999999})',
  ],
  warnMessages: ['retrying PSP call for pay_{hex:14} (attempt {int:2:3}/3)'],
  warnRatio: 0.01,
  errorLogRatio: 1,
};

/** A user profile service on the JVM: bursty latencies, a wide avatar route. */
export const PROFILE: ServiceProfile = {
  name: 'profile',
  routes: [
    { path: '/api/profile', share: 0.6, errorRatio: 0.003, notFoundRatio: 0.02, latencyMedianMs: 25, latencySigma: 0.4 },
    { path: '/api/avatar', share: 0.2, errorRatio: 0.004, notFoundRatio: 0.05, latencyMedianMs: 60, latencySigma: 0.75 },
    { path: '/api/preferences', share: 0.15, errorRatio: 0.005, notFoundRatio: 0.01, latencyMedianMs: 30, latencySigma: 0.45 },
    { path: '/actuator/health', share: 0.05, errorRatio: 0, notFoundRatio: 0, latencyMedianMs: 4, latencySigma: 0.3 },
  ],
  errorStatuses: [
    { status: 500, weight: 4 },
    { status: 503, weight: 1 },
  ],
  errorMessages: [
    'org.springframework.dao.QueryTimeoutException: query did not complete within {int:1000:3000}ms [user_id={int:1000000:9999999}]',
    'java.net.SocketTimeoutException: Read timed out after {int:500:2000}ms (avatar-store {ip}:443)',
    'HikariPool-1 - Connection is not available, request timed out after {int:3000:3100}ms.',
  ],
  warnMessages: ['GC pause of {int:120:400}ms (G1 Evacuation Pause)'],
  warnRatio: 0.002,
  errorLogRatio: 1,
};

/** A low-traffic notification sender with a naturally high error ratio. */
export const NOTIFICATIONS: ServiceProfile = {
  name: 'notifications',
  routes: [
    { path: '/send', share: 0.7, errorRatio: 0.01, notFoundRatio: 0, latencyMedianMs: 90, latencySigma: 0.5 },
    { path: '/status/:id', share: 0.25, errorRatio: 0.004, notFoundRatio: 0.06, latencyMedianMs: 15, latencySigma: 0.4 },
    { path: '/health', share: 0.05, errorRatio: 0, notFoundRatio: 0, latencyMedianMs: 2, latencySigma: 0.2 },
  ],
  errorStatuses: [
    { status: 500, weight: 1 },
    { status: 503, weight: 1 },
  ],
  errorMessages: [
    'smtp relay {ip}:587 refused message <{hex:16}@mail.internal>: 451 4.7.1 try again later',
    'push provider returned 429 for device token {hex:32}',
  ],
  warnMessages: [],
  warnRatio: 0,
  errorLogRatio: 1,
};

/** Every profile, by name. */
export const PROFILES: Readonly<Record<string, ServiceProfile>> = {
  [CHECKOUT.name]: CHECKOUT,
  [SEARCH_API.name]: SEARCH_API,
  [PAYMENTS.name]: PAYMENTS,
  [PROFILE.name]: PROFILE,
  [NOTIFICATIONS.name]: NOTIFICATIONS,
};

/** Error messages of new bugs a release can introduce, per service (templates). */
export const NEW_BUG_MESSAGES: Readonly<Record<string, readonly string[]>> = {
  checkout: [
    "TypeError: Cannot read properties of undefined (reading 'currency') in formatTotal for cart {uuid}",
    'coupon {hex:6} rejected: discount evaluated to NaN for order {int:10000000:99999999}',
  ],
  'search-api': ['IndexOutOfBoundsException: facet index {int:12:40} out of bounds for length 12 (query {hex:10})'],
  payments: ['currency mismatch: authorized EUR but capture requested in {pick:USD|GBP|CHF} for pay_{hex:14}'],
  profile: ['java.lang.NullPointerException: Cannot invoke "Locale.getLanguage()" because "prefs.locale" is null (user {int:1000000:9999999})'],
  notifications: ['template "order_shipped_v{int:3:9}" missing variable tracking_url for message {hex:12}'],
};

/** Messages of dependency outages that hit a whole fleet, per service (templates). */
export const OUTAGE_MESSAGES: Readonly<Record<string, string>> = {
  checkout: 'circuit breaker open for payments-gateway after {int:20:60} consecutive failures',
  'search-api': 'no living connections: elasticsearch cluster products-{int:1:3} unreachable ({ip}:9200)',
  payments: 'dial tcp {ip}:443: connect: connection refused (psp-gateway)',
  profile: 'redis: connection pool exhausted (pool size {int:32:64}, waited {int:1000:2000}ms)',
  notifications: 'smtp relay {ip}:587 unreachable: i/o timeout',
};
