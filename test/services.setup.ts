/**
 * Before the test run: the Kafka broker and Redis the integration tests talk to, started by
 * the project's own script when they do not answer already (Docker where it works, else
 * the Maven-jar broker and redis-server). After the run, only what was started here is
 * stopped again. When something cannot be started, the run stops at once with the reason
 * and what to install, instead of every integration test failing on its own.
 */
// @ts-expect-error: a plain ESM script without types; its results are checked below.
import { down, up } from '../scripts/services.mjs';

/** One service as the script reports it. */
interface ServiceResult {
  readonly service: string;
  readonly ok: boolean;
  readonly address?: string;
  readonly error?: string;
  readonly startedNow?: boolean;
}

type Lifecycle = (options: { services?: string[]; quiet?: boolean }) => Promise<ServiceResult[]>;

/** Starts what is missing; returns the teardown. */
export default async function setup(): Promise<() => Promise<void>> {
  const results = await (up as Lifecycle)({ quiet: true });
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new Error(`the integration tests need Kafka and Redis:\n${failed.map((r) => `  ${r.service}: ${r.error ?? 'not answering'}`).join('\n')}\n(node scripts/services.mjs up starts them; docs/local-services.md)`);
  }
  const started = results.filter((r) => r.startedNow === true).map((r) => r.service);
  return async () => {
    if (started.length > 0) await (down as Lifecycle)({ services: started, quiet: true });
  };
}
