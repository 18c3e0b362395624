/**
 * Prometheus metrics of the TSQ clients (tsq:// anchors) and server (--serve-tsq), added to the
 * daemon's registry and read at scrape time like refclock/ntpMetrics.ts:
 *
 *   timemesh_tsq_client_exchanges_total{server,outcome}  ok, failed_<reason>, fallback, sample, unusable
 *   timemesh_tsq_server_requests_total{outcome}          stream, datagram, response, signed, error_<code>,
 *                                                        datagram_dropped, stream_failure, connection_refused
 */
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { TsqClient } from './tsqClient.ts';
import type { TsqServer } from './tsqServer.ts';

export function registerTsqMetrics(
  registry: Registry,
  sources: { clients: readonly TsqClient[]; server: TsqServer | null },
): void {
  const { clients, server } = sources;
  if (clients.length > 0) {
    new Counter({
      name: 'timemesh_tsq_client_exchanges_total',
      help: 'TSQ exchanges per upstream server: ok, failed_<reason>, fallback (datagram to stream), sample (fed to the node), unusable (no honest error bound).',
      labelNames: ['server', 'outcome'],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const client of clients) {
          const c = client.counters();
          const server = client.server.url;
          this.inc({ server, outcome: 'ok' }, c.ok);
          for (const [reason, n] of Object.entries(c.failed))
            this.inc({ server, outcome: `failed_${reason}` }, n ?? 0);
          this.inc({ server, outcome: 'fallback' }, c.fallbacks);
          this.inc({ server, outcome: 'sample' }, c.samplesFed);
          this.inc({ server, outcome: 'unusable' }, c.samplesUnusable);
        }
      },
    });
  }
  if (server !== null) {
    new Counter({
      name: 'timemesh_tsq_server_requests_total',
      help: "Requests to the node's TSQ server by outcome: stream, datagram, response, signed, error_<code>, datagram_dropped, stream_failure, connection_refused.",
      labelNames: ['outcome'],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        const c = server.counters();
        this.inc({ outcome: 'stream' }, c.streamRequests);
        this.inc({ outcome: 'datagram' }, c.datagramRequests);
        this.inc({ outcome: 'response' }, c.responses);
        this.inc({ outcome: 'signed' }, c.signedResponses);
        for (const [code, n] of Object.entries(c.errorResponses)) this.inc({ outcome: `error_${code}` }, n);
        this.inc({ outcome: 'datagram_dropped' }, c.datagramsDropped);
        this.inc({ outcome: 'stream_failure' }, c.streamFailures);
        this.inc({ outcome: 'connection_refused' }, c.connectionsRefused);
      },
    });
  }
}
