/**
 * Tests of the progress bar: it draws only on a terminal, at most once per redraw interval, never
 * wider than the terminal, and clears its line when done. The wall clock is injected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, REDRAW_INTERVAL_MS } from '../../sim/progress.ts';

interface FakeStream {
  isTTY: boolean | undefined;
  columns: number;
  writes: string[];
  write(chunk: string): boolean;
}

function fakeStream(isTTY: boolean | undefined, columns = 100): FakeStream {
  return {
    isTTY,
    columns,
    writes: [],
    write(chunk: string) {
      this.writes.push(chunk);
      return true;
    },
  };
}

/** A progress bar on `stream` with a wall clock the test moves by hand. */
function setup(stream: FakeStream, totalS = 600, label = 'run') {
  const clock = { ms: 1_000 };
  const progress = createProgress({
    totalS,
    label,
    stream: stream as unknown as NodeJS.WriteStream,
    nowMs: () => clock.ms,
  });
  return { progress, clock };
}

const CLEAR = '\r\x1b[K';

/** The visible text of one redraw: between the leading "\r" and the trailing erase-to-end. */
function visible(chunk: string): string {
  assert.ok(chunk.startsWith('\r') && chunk.endsWith('\x1b[K'), JSON.stringify(chunk));
  return chunk.slice(1, -3);
}

describe('createProgress', () => {
  it('writes nothing when the stream is not a terminal', () => {
    for (const isTTY of [false, undefined]) {
      const stream = fakeStream(isTTY);
      const { progress, clock } = setup(stream);
      for (let i = 0; i < 10; i++) {
        progress.update(i * 60, i * 1000);
        clock.ms += 1_000;
      }
      progress.done();
      assert.deepEqual(stream.writes, [], `isTTY ${String(isTTY)}`);
    }
  });

  it('draws at once, then at most once per redraw interval', () => {
    const stream = fakeStream(true);
    const { progress, clock } = setup(stream);
    progress.update(0, 0);
    assert.equal(stream.writes.length, 1);
    // Many updates within one interval: no redraw.
    for (let i = 1; i < 50; i++) {
      clock.ms += (REDRAW_INTERVAL_MS - 1) / 50;
      progress.update(i, i * 100);
    }
    assert.equal(stream.writes.length, 1);
    clock.ms = 1_000 + REDRAW_INTERVAL_MS;
    progress.update(60, 6_000);
    assert.equal(stream.writes.length, 2);
    progress.update(61, 6_100);
    assert.equal(stream.writes.length, 2);
    clock.ms += REDRAW_INTERVAL_MS;
    progress.update(62, 6_200);
    assert.equal(stream.writes.length, 3);
    for (const w of stream.writes) assert.ok(!w.includes('\n'), 'a redraw must stay on its line');
  });

  it('shows the label, the percentage, the virtual time, the rate and an ETA', () => {
    const stream = fakeStream(true, 120);
    const { progress, clock } = setup(stream, 600, 'lan');
    progress.update(0, 0);
    assert.match(visible(stream.writes[0]!), /^lan \[-+\]\s+0\.0%\s+t=0:00\/10:00 .*ETA --$/);
    clock.ms += 2_000;
    progress.update(150, 40_000);
    const line = visible(stream.writes[1]!);
    assert.match(line, /^lan \[#+-+\]\s+25\.0%/);
    assert.match(line, /t=2:30\/10:00/);
    assert.match(line, /20\.0k ev\/s/);
    // 2 s of wall time for a quarter of the run: 6 s left.
    assert.match(line, /ETA 0:06$/);
    clock.ms += 1_000;
    progress.update(700, 50_000); // past the end (the last events): clamped to 100 %
    assert.match(visible(stream.writes[2]!), /100\.0%/);
  });

  it('never draws a line wider than the terminal', () => {
    for (const columns of [20, 40, 60, 200]) {
      const stream = fakeStream(true, columns);
      const { progress, clock } = setup(stream, 86_400 * 3, 'a-rather-long-scenario-name');
      progress.update(3_600, 123_456_789);
      clock.ms += 5_000;
      progress.update(100_000, 987_654_321);
      assert.equal(stream.writes.length, 2);
      for (const w of stream.writes) {
        assert.ok(visible(w).length <= columns - 1, `${visible(w).length} chars on ${columns} columns`);
      }
    }
    // No width reported (columns 0): assume 80.
    const stream = fakeStream(true, 0);
    const { progress } = setup(stream, 600, 'x'.repeat(200));
    progress.update(1, 1);
    assert.equal(visible(stream.writes[0]!).length, 79);
  });

  it('clears the line when done, once, and ignores updates afterwards', () => {
    const stream = fakeStream(true);
    const { progress, clock } = setup(stream);
    progress.update(10, 100);
    progress.done();
    assert.equal(stream.writes.at(-1), CLEAR);
    const count = stream.writes.length;
    progress.done();
    clock.ms += 10 * REDRAW_INTERVAL_MS;
    progress.update(20, 200);
    assert.equal(stream.writes.length, count);
  });

  it('writes nothing on done when it never drew', () => {
    const stream = fakeStream(true);
    const { progress } = setup(stream);
    progress.done();
    assert.deepEqual(stream.writes, []);
  });
});
