/**
 * The notifiers of a configured service, by channel name: `console` always, and every
 * channel of `notify.channels`, with its secret read from the environment variable the
 * config names. A variable that is not set stops the start with its name.
 */
import type { Notifier } from '../notifiers/notifier.js';
import { ConsoleNotifier } from '../notifiers/console.js';
import { SlackNotifier } from '../notifiers/slack.js';
import { EmailNotifier } from '../notifiers/email.js';
import { PagerDutyNotifier } from '../notifiers/pagerduty.js';
import { WebhookNotifier } from '../notifiers/webhook.js';
import { ConfigError, type VigilConfig } from './config-file.js';

/** Where the console channel writes, and how. */
export interface ConsoleTarget {
  readonly out: NodeJS.WritableStream;
  readonly color: boolean;
}

/** Builds every configured notifier; throws ConfigError naming each secret variable that is not set. */
export function buildChannels(config: VigilConfig, env: Readonly<Record<string, string | undefined>>, console: ConsoleTarget): Map<string, Notifier> {
  const channels = new Map<string, Notifier>([['console', new ConsoleNotifier({ out: console.out, color: console.color })]]);
  const missing: string[] = [];
  const secret = (name: string, key: string, variable: string | undefined): string | undefined => {
    if (variable === undefined) return undefined;
    const value = env[variable];
    if (value === undefined || value === '') {
      missing.push(`notify.channels.${name}.${key}: the environment variable ${variable} is not set`);
      return undefined;
    }
    return value;
  };
  const links = config.notify.links;
  for (const [name, c] of Object.entries(config.notify.channels)) {
    switch (c.type) {
      case 'slack': {
        const token = secret(name, 'tokenEnv', c.tokenEnv);
        if (token !== undefined) channels.set(name, new SlackNotifier({ name, token, channel: c.channel, apiUrl: c.apiUrl, minIntervalMs: c.minIntervalMs, links }));
        break;
      }
      case 'email': {
        const password = secret(name, 'passwordEnv', c.smtp.passwordEnv);
        channels.set(name, new EmailNotifier({
          smtp: { host: c.smtp.host, port: c.smtp.port, secure: c.smtp.secure, user: c.smtp.user, password }, from: c.from, to: c.to, links,
        }));
        break;
      }
      case 'pagerduty': {
        const routingKey = secret(name, 'routingKeyEnv', c.routingKeyEnv);
        if (routingKey !== undefined) channels.set(name, new PagerDutyNotifier({ routingKey, url: c.url, links }));
        break;
      }
      case 'webhook': {
        const signing = secret(name, 'secretEnv', c.secretEnv);
        channels.set(name, new WebhookNotifier({ url: c.url, secret: signing }));
        break;
      }
    }
  }
  if (missing.length > 0) throw new ConfigError('environment', missing);
  return channels;
}
