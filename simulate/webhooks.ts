/**
 * Monitoring-system notifications, shaped like the payloads each system really posts:
 * Alertmanager's webhook (v4), Grafana's unified alerting webhook, a Datadog webhook with
 * the usual template variables, CloudWatch alarms delivered through SNS, Sentry issue
 * alerts, and a plain generic JSON alert. A rule fires one alert per instance, staggered
 * the way evaluation intervals stagger them, re-notifies while firing, and resolves.
 */
import type { AlertRule } from './model.js';
import { createRng, hash32, type Rng } from './random.js';

/** One webhook delivery: when it was posted and its body. */
export interface WebhookDelivery {
  readonly tsMs: number;
  readonly source: AlertRule['source'];
  readonly body: unknown;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function hex(rng: Rng, length: number): string {
  let out = '';
  while (out.length < length) out += rng.uint32().toString(16).padStart(8, '0');
  return out.slice(0, length);
}

interface FiringAlert {
  readonly instance: string | undefined;
  readonly firesAtMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly fingerprint: string;
}

function alertsOf(rule: AlertRule, rng: Rng): FiringAlert[] {
  const base: Record<string, string> = { alertname: rule.alertName, service: rule.service, severity: rule.severity, ...rule.labels };
  const instances = rule.instances.length === 0 ? [undefined] : rule.instances;
  return instances.map((instance) => ({
    instance,
    // Rules are evaluated every 15-60 s per target, so a flood does not land in one instant.
    firesAtMs: rule.startMs + (instance === undefined ? 0 : rng.int(45_000)),
    labels: instance === undefined ? base : { ...base, instance },
    fingerprint: hex(rng, 16),
  }));
}

function common(alerts: readonly FiringAlert[]): Record<string, string> {
  const first = alerts[0]?.labels ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first)) if (alerts.every((a) => a.labels[k] === v)) out[k] = v;
  return out;
}

function alertmanagerBody(rule: AlertRule, alerts: readonly FiringAlert[], epochMs: number, atMs: number, resolved: boolean, grafana: boolean): unknown {
  const status = resolved ? 'resolved' : 'firing';
  const annotations = { summary: rule.summary, description: `${rule.summary} (service ${rule.service})` };
  const items = alerts.map((a) => {
    const item: Record<string, unknown> = {
      status,
      labels: a.labels,
      annotations,
      startsAt: iso(epochMs + a.firesAtMs),
      endsAt: resolved ? iso(epochMs + atMs) : ZERO_TIME,
      generatorURL: grafana
        ? `https://grafana.internal/alerting/grafana/${a.fingerprint.slice(0, 10)}/view`
        : `http://prometheus.internal:9090/graph?g0.expr=${encodeURIComponent(`job="${rule.service}"`)}&g0.tab=1`,
      fingerprint: a.fingerprint,
    };
    if (grafana) {
      item['silenceURL'] = `https://grafana.internal/alerting/silence/new?alertmanager=grafana&matcher=alertname%3D${encodeURIComponent(rule.alertName)}`;
      item['dashboardURL'] = '';
      item['panelURL'] = '';
      item['values'] = { B: resolved ? 0 : 1, C: resolved ? 0 : 1 };
      item['valueString'] = `[ var='B' labels={service=${rule.service}} value=${resolved ? 0 : 1} ]`;
    }
    return item;
  });
  const commonLabels = common(alerts);
  const groupLabels: Record<string, string> = { alertname: rule.alertName, service: rule.service };
  const only = alerts.length === 1 ? alerts[0]?.instance : undefined;
  if (rule.groupBy === 'instance' && only !== undefined) groupLabels['instance'] = only;
  const groupKey = `{}:{${Object.entries(groupLabels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;
  const body: Record<string, unknown> = {
    receiver: 'vigil',
    status,
    alerts: items,
    groupLabels,
    commonLabels,
    commonAnnotations: annotations,
    externalURL: grafana ? 'https://grafana.internal/' : 'http://alertmanager.internal:9093',
    version: grafana ? '1' : '4',
    groupKey,
    truncatedAlerts: 0,
  };
  if (grafana) {
    body['orgId'] = 1;
    body['title'] = `[${resolved ? 'RESOLVED' : 'FIRING'}:${alerts.length}] ${rule.alertName} (${rule.service})`;
    body['state'] = resolved ? 'ok' : 'alerting';
    body['message'] = `**${resolved ? 'Resolved' : 'Firing'}**\n\nValue: B=1\nLabels:\n - alertname = ${rule.alertName}\n - service = ${rule.service}\n`;
  }
  return body;
}

function tagsOf(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .filter(([k]) => k !== 'alertname' && k !== 'severity')
    .map(([k, v]) => `${k}:${v}`)
    .concat('env:production')
    .join(',');
}

function datadogBody(rule: AlertRule, alert: FiringAlert, epochMs: number, atMs: number, transition: 'Triggered' | 'Re-Triggered' | 'Recovered', alertId: number): unknown {
  const at = String(epochMs + atMs);
  return {
    id: String(hash32(`${alert.fingerprint}/${atMs}`)) + String(atMs % 1000).padStart(3, '0'),
    last_updated: at,
    event_type: 'query_alert_monitor',
    title: `[${transition}] ${rule.summary}${alert.instance === undefined ? '' : ` on ${alert.instance}`}`,
    date: at,
    org: { id: '482913', name: 'Shop Production' },
    body: `%%%\n${rule.summary}\n\nThe monitor was ${transition.toLowerCase()} at ${iso(epochMs + atMs)}.\n%%%`,
    alert_id: String(alertId),
    alert_metric: 'trace.http.request.errors',
    alert_query: `sum(last_5m):sum:trace.http.request.errors{service:${rule.service}} by {host}.as_count() > 25`,
    alert_status: transition === 'Recovered' ? 'OK' : 'Alert',
    alert_title: rule.summary,
    alert_transition: transition,
    alert_type: transition === 'Recovered' ? 'success' : rule.severity === 'critical' ? 'error' : 'warning',
    priority: rule.severity === 'critical' ? 'P1' : 'P3',
    hostname: alert.instance ?? '',
    tags: tagsOf(alert.labels),
    aggreg_key: alert.fingerprint,
  };
}

function cloudwatchBody(rule: AlertRule, alert: FiringAlert, epochMs: number, atMs: number, alarm: boolean, rng: Rng): unknown {
  const alarmName = `${rule.service}-${rule.alertName}${alert.instance === undefined ? '' : `-${alert.instance}`}`;
  const changed = new Date(epochMs + atMs).toISOString().replace('Z', '+0000');
  const message = {
    AlarmName: alarmName,
    AlarmDescription: rule.summary,
    AWSAccountId: '123456789012',
    AlarmConfigurationUpdatedTimestamp: '2026-03-02T09:15:11.402+0000',
    NewStateValue: alarm ? 'ALARM' : 'OK',
    NewStateReason: alarm
      ? `Threshold Crossed: 1 out of the last 1 datapoints [${(25 + rng.next() * 60).toFixed(1)} (${changed.slice(0, 16)})] was greater than the threshold (20.0) (minimum 1 datapoint for OK -> ALARM transition).`
      : `Threshold Crossed: 1 out of the last 1 datapoints [${(rng.next() * 5).toFixed(1)} (${changed.slice(0, 16)})] was not greater than the threshold (20.0) (minimum 1 datapoint for ALARM -> OK transition).`,
    StateChangeTime: changed,
    Region: 'US East (N. Virginia)',
    AlarmArn: `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`,
    OldStateValue: alarm ? 'OK' : 'ALARM',
    OKActions: ['arn:aws:sns:us-east-1:123456789012:vigil-alarms'],
    AlarmActions: ['arn:aws:sns:us-east-1:123456789012:vigil-alarms'],
    InsufficientDataActions: [],
    Trigger: {
      MetricName: 'HTTPCode_Target_5XX_Count',
      Namespace: 'AWS/ApplicationELB',
      StatisticType: 'Statistic',
      Statistic: 'SUM',
      Unit: null,
      Dimensions: [
        { value: `app/${rule.service}-alb/${alert.fingerprint}`, name: 'LoadBalancer' },
        ...(alert.instance === undefined ? [] : [{ value: alert.instance, name: 'InstanceId' }]),
      ],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 20.0,
      TreatMissingData: 'missing',
    },
  };
  return {
    Type: 'Notification',
    MessageId: `${hex(rng, 8)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 12)}`,
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:vigil-alarms',
    Subject: `${alarm ? 'ALARM' : 'OK'}: "${alarmName}" in US East (N. Virginia)`,
    Message: JSON.stringify(message),
    Timestamp: iso(epochMs + atMs),
    SignatureVersion: '1',
    Signature: hex(rng, 64),
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
  };
}

function sentryBody(rule: AlertRule, alert: FiringAlert, epochMs: number, atMs: number, rng: Rng): unknown {
  const eventId = hex(rng, 32);
  const issueId = String(4_000_000_000 + (hash32(rule.alertName + rule.service) % 100_000_000));
  const tags: [string, string][] = [
    ['environment', 'production'],
    ['level', 'error'],
    ['service', rule.service],
  ];
  if (alert.labels['version'] !== undefined) tags.push(['release', alert.labels['version']]);
  if (alert.instance !== undefined) tags.push(['server_name', alert.instance]);
  return {
    action: 'triggered',
    installation: { uuid: '7a3c1f52-0b6e-4c1d-9a55-2f1e8c4d9b10' },
    data: {
      event: {
        event_id: eventId,
        project: 1187,
        release: alert.labels['version'] ?? null,
        title: rule.summary,
        message: rule.summary,
        culprit: `${rule.service} in handler`,
        level: 'error',
        platform: 'node',
        datetime: iso(epochMs + atMs),
        timestamp: (epochMs + atMs) / 1000,
        tags,
        url: `https://sentry.io/api/0/projects/shop/${rule.service}/events/${eventId}/`,
        web_url: `https://sentry.io/organizations/shop/issues/${issueId}/events/${eventId}/`,
        issue_url: `https://sentry.io/api/0/issues/${issueId}/`,
        issue_id: issueId,
      },
      triggered_rule: rule.alertName,
    },
    actor: { type: 'application', id: 'sentry', name: 'Sentry' },
  };
}

function genericBody(rule: AlertRule, alert: FiringAlert, epochMs: number, atMs: number, resolved: boolean): unknown {
  return {
    title: rule.alertName,
    status: resolved ? 'resolved' : 'firing',
    severity: rule.severity,
    service: rule.service,
    summary: rule.summary,
    labels: alert.labels,
    startsAt: iso(epochMs + alert.firesAtMs),
    ...(resolved ? { endsAt: iso(epochMs + atMs) } : {}),
  };
}

/** Every notification one rule sends, in time order; times are offsets from the scenario start. */
export function notificationsOf(rule: AlertRule, seed: number, epochMs: number): WebhookDelivery[] {
  const rng = createRng(seed, `alerts/${rule.source}/${rule.service}/${rule.alertName}/${rule.startMs}`);
  const alerts = alertsOf(rule, rng);
  const out: WebhookDelivery[] = [];
  const push = (tsMs: number, body: unknown): void => {
    out.push({ tsMs, source: rule.source, body });
  };
  const repeatMs = Math.max(10_000, rule.repeatMs);
  switch (rule.source) {
    case 'alertmanager':
    case 'grafana': {
      // Alertmanager waits group_wait after the first alert, then sends the whole group
      // every group_interval while anything in it fires, then one resolved notification.
      const grafana = rule.source === 'grafana';
      const groups = rule.groupBy === 'instance' ? alerts.map((a) => [a]) : [alerts];
      for (const group of groups) {
        const firstMs = Math.min(...group.map((a) => a.firesAtMs)) + 30_000;
        for (let at = firstMs; at < rule.endMs; at += repeatMs) {
          const firing = group.filter((a) => a.firesAtMs <= at);
          if (firing.length > 0) push(at, alertmanagerBody(rule, firing, epochMs, at, false, grafana));
        }
        push(rule.endMs + 30_000, alertmanagerBody(rule, group, epochMs, rule.endMs, true, grafana));
      }
      break;
    }
    case 'datadog':
      alerts.forEach((a, i) => {
        const alertId = 80_000_000 + (hash32(a.fingerprint) % 10_000_000) + i;
        for (let at = a.firesAtMs, n = 0; at < rule.endMs; at += repeatMs, n++) {
          push(at, datadogBody(rule, a, epochMs, at, n === 0 ? 'Triggered' : 'Re-Triggered', alertId));
        }
        push(rule.endMs + rng.int(60_000), datadogBody(rule, a, epochMs, rule.endMs, 'Recovered', alertId));
      });
      break;
    case 'cloudwatch':
      for (const a of alerts) {
        push(a.firesAtMs + 60_000, cloudwatchBody(rule, a, epochMs, a.firesAtMs + 60_000, true, rng));
        push(rule.endMs + 60_000, cloudwatchBody(rule, a, epochMs, rule.endMs + 60_000, false, rng));
      }
      break;
    case 'sentry':
      for (const a of alerts) {
        for (let at = a.firesAtMs; at < rule.endMs; at += repeatMs) push(at, sentryBody(rule, a, epochMs, at, rng));
      }
      break;
    case 'generic':
      for (const a of alerts) {
        for (let at = a.firesAtMs; at < rule.endMs; at += repeatMs) push(at, genericBody(rule, a, epochMs, at, false));
        push(rule.endMs, genericBody(rule, a, epochMs, rule.endMs, true));
      }
      break;
    default: {
      const never: never = rule.source;
      throw new Error(`unknown webhook source ${String(never)}`);
    }
  }
  return out.sort((a, b) => a.tsMs - b.tsMs);
}
