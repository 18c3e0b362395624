/**
 * Prometheus metrics of the NTP client and server, added to the daemon's registry (the one /metrics
 * serves). Read at scrape time, as node/api.ts does: running totals are Counters whose collect()
 * resets them and adds the current total, so the exported series are true counters.
 *
 *   timemesh_ntp_client_packets_total{server,outcome}   sent, received, sample, dropped_<reason>
 *   timemesh_ntp_client_kisses_total{server,code}        Kiss-o'-Death packets that passed the origin check
 *   timemesh_ntp_client_reach{server}                    the reach register (0–255)
 *   timemesh_ntp_client_poll_interval_seconds{server}
 *   timemesh_ntp_client_up{server,status}                1 for the association's current status
 *   timemesh_ntp_server_requests_total{outcome}          served, kiss-rate, rate-limited, malformed …
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { NtpClient } from './ntpClient.ts';
import type { NtpServer } from './ntpServer.ts';
import { NTP_DROP_REASONS } from './ntpSource.ts';
import type { NtpSourceStatus } from './ntpSource.ts';

const STATUSES: readonly NtpSourceStatus[] = [
  'starting',
  'ok',
  'unsynchronized',
  'unreachable',
  'denied',
  'stopped',
];

export function registerNtpMetrics(
  registry: Registry,
  sources: { client: NtpClient | null; server: NtpServer | null },
): void {
  const { client, server } = sources;
  if (client !== null) {
    new Counter({
      name: 'timemesh_ntp_client_packets_total',
      help: 'NTP client packets per upstream server: sent, received, sample (delivered to the node), dropped_<reason>.',
      labelNames: ['server', 'outcome'],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const s of client.snapshot()) {
          const c = s.counters;
          this.inc({ server: s.url, outcome: 'sent' }, c.sent);
          this.inc({ server: s.url, outcome: 'received' }, c.received);
          this.inc({ server: s.url, outcome: 'sample' }, c.samples);
          for (const r of NTP_DROP_REASONS)
            this.inc({ server: s.url, outcome: `dropped_${r}` }, c.dropped[r]);
        }
      },
    });
    new Counter({
      name: 'timemesh_ntp_client_kisses_total',
      help: "Kiss-o'-Death packets per upstream server and code (only those that passed the origin check).",
      labelNames: ['server', 'code'],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const s of client.snapshot()) {
          for (const [code, n] of Object.entries(s.counters.kisses)) this.inc({ server: s.url, code }, n);
        }
      },
    });
    new Gauge({
      name: 'timemesh_ntp_client_reach',
      help: 'NTP reachability register per upstream server (last 8 polls, newest in the low bit).',
      labelNames: ['server'],
      registers: [registry],
      collect(this: Gauge) {
        this.reset();
        for (const s of client.snapshot()) this.set({ server: s.url }, s.reach);
      },
    });
    new Gauge({
      name: 'timemesh_ntp_client_poll_interval_seconds',
      help: 'Current poll interval per upstream NTP server.',
      labelNames: ['server'],
      registers: [registry],
      collect(this: Gauge) {
        this.reset();
        for (const s of client.snapshot()) this.set({ server: s.url }, s.pollIntervalS);
      },
    });
    new Gauge({
      name: 'timemesh_ntp_client_up',
      help: 'Status of each upstream NTP association: 1 for the current status, 0 for the others.',
      labelNames: ['server', 'status'],
      registers: [registry],
      collect(this: Gauge) {
        this.reset();
        for (const s of client.snapshot()) {
          for (const st of STATUSES) this.set({ server: s.url, status: st }, st === s.status ? 1 : 0);
        }
      },
    });
  }
  if (server !== null) {
    new Counter({
      name: 'timemesh_ntp_server_requests_total',
      help: "Datagrams received by the node's NTP server, by outcome: served, kiss-rate, rate-limited, short-packet, bad-version, not-client, send-failed.",
      labelNames: ['outcome'],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const [outcome, n] of Object.entries(server.counters.outcomes)) this.inc({ outcome }, n);
      },
    });
  }
}
