/**
 * refclock/: upstream anchors and time servers (issue #4; GPS, PPS and the system clock follow in #5).
 * Everything here meets the node through refclock/types.ts: anchors feed ReferenceSamples to a sink,
 * servers read the node's time through a TimeView. The daemon (node/daemon.ts) wires them up.
 */
export type { ReferenceSampleSink, TimeView, UpstreamMeasurement } from './types.ts';

// --- NTP (RFC 5905) --------------------------------------------------------------------------------
export { NTP_UNIX_EPOCH_DELTA_S, ntp64ToUnixNs, unixNsToNtp64 } from './ntpTimestamp.ts';
export {
  KISS_CODES,
  LEAP_UNSYNCHRONIZED,
  NTP_HEADER_BYTES,
  NTP_MODE,
  NTP_PORT,
  STRATUM_UNSYNCHRONIZED,
  clientRequest,
  decodeNtpPacket,
  encodeNtpPacket,
  kissCode,
} from './ntpPacket.ts';
export type { NtpDecodeError, NtpDecodeResult, NtpPacket } from './ntpPacket.ts';
export { NtpSource, NTP_DROP_REASONS } from './ntpSource.ts';
export type { NtpSourceConfig, NtpSourceSnapshot, NtpSourceStatus } from './ntpSource.ts';
export { NtpClient } from './ntpClient.ts';
export type { NtpClientOptions, NtpServerSnapshot, NtpServerTarget } from './ntpClient.ts';
export { NtpServer, buildKissRate, buildNtpReply, hashReferenceId } from './ntpServer.ts';
export type { NtpServerCounters, NtpServerOptions, NtpServerOutcome } from './ntpServer.ts';
export { registerNtpMetrics } from './ntpMetrics.ts';

// --- TSQ over QUIC -----------------------------------------------------------------------------------
export { TSQ_ALPNS, TSQ_DEFAULT_PORT } from './quicCommon.ts';
export {
  TLV,
  TsqMalformedError,
  decodeTsqRequest,
  decodeTsqResponse,
  encodeTsqError,
  encodeTsqRequest,
  encodeTsqResponse,
  parseTlvs,
} from './tsqCodec.ts';
export type { TsqRequest, TsqResponse, TsqSigner } from './tsqCodec.ts';
export { evaluateTsqTimes } from './tsqExchange.ts';
export {
  ed25519PrivateKeyFromLibp2pRaw,
  ed25519Signer,
  ed25519Verifier,
  hmacSigner,
  hmacVerifier,
} from './tsqKeys.ts';
export type { HmacKey, TsqVerifier } from './tsqKeys.ts';
export { TsqClient, TsqClientConfigError, parseTsqUrl } from './tsqClient.ts';
export type { TsqClientOptions, TsqMeasurement, TsqResult } from './tsqClient.ts';
export { TsqServerConfigError, startTsqServer } from './tsqServer.ts';
export type { TsqServer, TsqServerCounters, TsqServerOptions } from './tsqServer.ts';
export { QuicInternalsError, quicDatagramSupport } from './quicDatagram.ts';
export { TlsCertError, generateSelfSignedCertificate, loadOrCreateSelfSigned } from './tlsCert.ts';
export { registerTsqMetrics } from './tsqMetrics.ts';

// --- System clock (read-only kernel state, issue #5) -------------------------------------------------
export {
  KernelClockError,
  STA_FLAGS,
  TIME_STATES,
  TIMEX_LAYOUT_LP64,
  decodeTimex,
  formatKernelClock,
  kernelClockJson,
  readKernelClock,
  tryReadKernelClock,
} from './kernelClock.ts';
export type {
  KernelClockErrorCode,
  KernelClockJson,
  KernelClockSnapshot,
  KernelTimeState,
  RawTimex,
  StaFlag,
} from './kernelClock.ts';

// --- GPS (NMEA 0183 over a serial port, issue #5) ------------------------------------------------------
export {
  NMEA_MAX_SENTENCE_CHARS,
  NMEA_REJECT_REASONS,
  nmeaChecksum,
  nmeaSentence,
  parseNmea,
  sentenceUtcNs,
} from './nmea.ts';
export type {
  GgaSentence,
  NmeaDate,
  NmeaParseResult,
  NmeaRejectReason,
  NmeaSentence,
  NmeaTime,
  RmcSentence,
  ZdaSentence,
} from './nmea.ts';
export { GPS_NMEA_ERROR_NS_DEFAULT, GPS_SOURCE_DROP_REASONS, GpsSource } from './gpsSource.ts';
export type { GpsDropReason, GpsSourceConfig, GpsSourceOutcome, GpsSourceSnapshot } from './gpsSource.ts';
export { GpsSerial } from './gpsSerial.ts';
export type { GpsSerialEvent, GpsSerialOptions, GpsSerialSnapshot } from './gpsSerial.ts';
export { gpsStatusJson, registerGpsMetrics } from './gpsMetrics.ts';
export type { GpsStatusJson } from './gpsMetrics.ts';

// PPS (issue #5): the Linux PPS API (ioctl, sysfs fallback), edge pairing, the driver.
export { PpsError, SysfsPpsReader, openPpsDevice, parsePpsSysfsAssert } from './ppsDevice.ts';
export type { OpenPpsOptions, PpsEdge, PpsEdgeReader, PpsErrorCode } from './ppsDevice.ts';
export { PPS_DROP_REASONS, PPS_ERROR_NS_DEFAULT, PpsSource } from './ppsSource.ts';
export type {
  PpsCoarseTime,
  PpsDropReason,
  PpsSourceConfig,
  PpsSourceOutcome,
  PpsSourceSnapshot,
} from './ppsSource.ts';
export { PpsDriver } from './ppsDriver.ts';
export type { PpsDriverEvent, PpsDriverOptions, PpsDriverSnapshot, RealtimeToLocal } from './ppsDriver.ts';
export { ppsStatusJson, registerPpsMetrics } from './ppsMetrics.ts';
export type { PpsStatusJson } from './ppsMetrics.ts';

// Clocks through koffi: clock_gettime, and the system clock's (opt-in) control.
export { CLOCK_IDS, PosixClockError, monotonicRawNs, realtimeMinusRawNs, realtimeNs } from './posixClock.ts';
export {
  SystemClockError,
  createKernelSystemClock,
  encodeTimexAdjustment,
  hasCapSysTime,
  requireClockPrivileges,
} from './systemClock.ts';
export type { KernelAdjustment, SystemClockControl, SystemClockErrorCode } from './systemClock.ts';
