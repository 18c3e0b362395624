/**
 * The GPS driver: reads NMEA from a serial port (`serialport` + its ReadlineParser), stamps every
 * line with the node's raw local time as it comes out of the parser (`TimeView.localNowNs`), feeds
 * the sans-IO GpsSource (refclock/gpsSource.ts) and hands its samples to the node's sink.
 *
 * Robustness. Bad or partial lines are counted by reason in the source and skipped; nothing a
 * receiver sends can throw out of here. Lines end with CRLF per NMEA; the parser splits on LF and the
 * NMEA parser strips the CR, so a bare LF also works. Bytes are decoded as latin1 (one byte, one
 * character), so length limits are byte limits and non-ASCII shows up as `bad-character`. A run of
 * more than `maxPendingBytes` without a line feed (wrong baud rate, binary protocol) is discarded
 * and counted as `too-long`, so the parser's buffer stays bounded. If the port cannot be opened or
 * closes (USB unplugged, pty gone), it is reopened after a delay that doubles from
 * `reconnectDelayMsMin` to `reconnectDelayMsMax` and resets after a successful open.
 *
 * Timing hazard. The timestamp is taken when the line reaches JavaScript: the serial transmission
 * time of the line (about 70 ms for an RMC at 9600 baud), the kernel's tty buffering and event-loop
 * latency all land in the offset. The fudge absorbs the steady part; the rest is why NMEA-only
 * samples carry a tens-of-ms error bound. Precise time needs PPS.
 */
import { ReadlineParser, SerialPort } from 'serialport';
import { GpsSource } from './gpsSource.ts';
import type { GpsSourceOutcome, GpsSourceSnapshot } from './gpsSource.ts';
import type { ReferenceSampleSink, TimeView } from './types.ts';

export interface GpsSerialOptions {
  /** Serial device, e.g. /dev/ttyUSB0 or /dev/ttyACM0. */
  path: string;
  /** Default 9600 (NMEA 0183's standard rate; many receivers use 4800, 38400 or 115200). */
  baudRate?: number;
  /** Receiver output delay added to the sentence time, ns (see gpsSource.ts). Default 0. */
  fudgeNs?: number;
  /** Error bound per sample, ns. Default 50 ms. */
  errorNs?: number;
  /** The node's raw oscillator. */
  clock: Pick<TimeView, 'localNowNs'>;
  sink: ReferenceSampleSink;
  /** Every line's outcome and every port event, for logs and tests. */
  onEvent?: (event: GpsSerialEvent) => void;
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  /** Bytes without a line feed after which the pending data is discarded. Default 1024. */
  maxPendingBytes?: number;
}

export type GpsSerialEvent =
  | { type: 'open'; path: string }
  | { type: 'close'; path: string; error?: string }
  | { type: 'open-failed'; path: string; error: string }
  | { type: 'reconnect-scheduled'; path: string; delayMs: number }
  | { type: 'line'; line: string; outcome: GpsSourceOutcome };

export interface GpsSerialSnapshot extends GpsSourceSnapshot {
  path: string;
  baudRate: number;
  open: boolean;
  opensTotal: number;
  closesTotal: number;
}

export class GpsSerial {
  readonly path: string;
  readonly baudRate: number;
  private readonly source: GpsSource;
  private readonly reconnectDelayMsMin: number;
  private readonly reconnectDelayMsMax: number;
  private readonly maxPendingBytes: number;
  private port: SerialPort | undefined;
  private parser: ReadlineParser | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private running = false;
  private opensTotal = 0;
  private closesTotal = 0;

  constructor(private readonly options: GpsSerialOptions) {
    this.path = options.path;
    this.baudRate = options.baudRate ?? 9600;
    this.reconnectDelayMsMin = options.reconnectDelayMsMin ?? 500;
    this.reconnectDelayMsMax = options.reconnectDelayMsMax ?? 30_000;
    this.maxPendingBytes = options.maxPendingBytes ?? 1024;
    this.delayMs = this.reconnectDelayMsMin;
    this.source = new GpsSource({
      refId: `gps:${options.path}`,
      fudgeNs: options.fudgeNs,
      errorNs: options.errorNs,
    });
  }

  /** Opens the port (retrying in the background until stop() if it cannot). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.open();
  }

  /** Stops reconnecting and closes the port. Resolves once it is closed. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const port = this.port;
    this.port = undefined;
    this.parser = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    port?.removeAllListeners();
  }

  snapshot(): GpsSerialSnapshot {
    return {
      ...this.source.snapshot(),
      path: this.path,
      baudRate: this.baudRate,
      open: this.port?.isOpen ?? false,
      opensTotal: this.opensTotal,
      closesTotal: this.closesTotal,
    };
  }

  private emit(event: GpsSerialEvent): void {
    this.options.onEvent?.(event);
  }

  private open(): void {
    const port = new SerialPort({ path: this.path, baudRate: this.baudRate, autoOpen: false });
    const parser = new ReadlineParser({ delimiter: '\n', encoding: 'latin1' });
    this.port = port;
    this.parser = parser;
    parser.on('data', (line: string) => this.handleLine(line));
    port.on('data', (chunk: Buffer) => {
      parser.write(chunk);
      if (parser.buffer.length > this.maxPendingBytes) {
        parser.buffer = Buffer.alloc(0);
        this.source.countDrop('too-long');
      }
    });
    // 'error' after open comes with a 'close'; before open, the open callback reports it.
    port.on('error', () => {});
    port.on('close', (err?: Error | null) => {
      if (this.port !== port) return;
      this.closesTotal++;
      this.emit({ type: 'close', path: this.path, ...(err ? { error: err.message } : {}) });
      this.scheduleReconnect();
    });
    port.open((err) => {
      if (this.port !== port) {
        if (!err) port.close();
        return;
      }
      if (err) {
        this.emit({ type: 'open-failed', path: this.path, error: err.message });
        this.scheduleReconnect();
        return;
      }
      this.opensTotal++;
      this.delayMs = this.reconnectDelayMsMin;
      this.emit({ type: 'open', path: this.path });
    });
  }

  private scheduleReconnect(): void {
    this.port?.removeAllListeners('data');
    this.port = undefined;
    this.parser = undefined;
    if (!this.running || this.timer) return;
    const delayMs = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.reconnectDelayMsMax);
    this.emit({ type: 'reconnect-scheduled', path: this.path, delayMs });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) this.open();
    }, delayMs);
  }

  private handleLine(line: string): void {
    const localArrivalNs = this.options.clock.localNowNs();
    const outcome = this.source.handleLine(line, localArrivalNs);
    this.emit({ type: 'line', line, outcome });
    if (outcome.type === 'sample') this.options.sink(outcome.sample);
  }
}
