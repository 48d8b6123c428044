/**
 * Raw feed recordings: the exact bytes of each server frame with the time it was received, so a session can be
 * replayed later (by the simulator, `replayFile`) with its original pacing.
 *
 * File format (all integers big-endian):
 *
 * ```
 * header:  8 bytes  ASCII "TGFEED01"          (magic + format version)
 * frame*:  8 bytes  u64 receivedAt            (epoch ms)
 *          4 bytes  u32 length                (bytes of the frame, ≤ 64 MiB)
 *          length   frame bytes               (one FeedResponse exactly as it came off the socket)
 * ```
 *
 * No index and no footer: the file is append-only, so a crash loses at most the frame being written. A reader
 * meeting a truncated tail yields every complete frame first and then throws {@link RecordingFormatError}.
 * Replays keep the raw bytes: `currentTs` inside each frame is the original one, not restamped.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';

export const RECORDING_MAGIC = 'TGFEED01';
const HEADER_BYTES = 8;
const FRAME_HEADER_BYTES = 12;
/** Larger than any real frame (~161 KB for 2,000 full keys, §3.4); guards against reading garbage as a length. */
export const MAX_RECORDED_FRAME_BYTES = 64 * 1024 * 1024;

export class RecordingFormatError extends Error {
  override name = 'RecordingFormatError';
  constructor(
    message: string,
    readonly path: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export class RecorderClosedError extends Error {
  override name = 'RecorderClosedError';
}

export interface RecordedFrame {
  /** When the frame was received (or, for synthetic recordings, sent), epoch ms. */
  readonly receivedAt: number;
  readonly bytes: Uint8Array;
}

export interface FrameRecorder {
  /** Appends one frame. Synchronous and buffered; throws RecorderClosedError after close(). */
  write(bytes: Uint8Array, receivedAt?: number): void;
  /** Frames written so far. */
  readonly framesWritten: number;
  /** Flushes and closes the file. Idempotent. Rejects if the file could not be written. */
  close(): Promise<void>;
}

/** Creates (truncates) `path` and returns a recorder that appends frames to it. */
export function createFrameRecorder(path: string): FrameRecorder {
  const stream = createWriteStream(path);
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure = error;
  });
  stream.write(Buffer.from(RECORDING_MAGIC, 'ascii'));
  let framesWritten = 0;
  let closing: Promise<void> | undefined;
  return {
    get framesWritten() {
      return framesWritten;
    },
    write(bytes, receivedAt = Date.now()) {
      if (closing) throw new RecorderClosedError(`recorder for ${path} is closed`);
      if (bytes.byteLength > MAX_RECORDED_FRAME_BYTES) {
        throw new RangeError(`frame of ${bytes.byteLength} bytes exceeds the ${MAX_RECORDED_FRAME_BYTES}-byte limit`);
      }
      const record = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes.byteLength);
      record.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(receivedAt))), 0);
      record.writeUInt32BE(bytes.byteLength, 8);
      record.set(bytes, FRAME_HEADER_BYTES);
      stream.write(record);
      framesWritten++;
    },
    close() {
      closing ??= (async () => {
        if (!stream.destroyed) {
          stream.end();
          await Promise.race([once(stream, 'finish'), once(stream, 'error')]).catch(() => undefined);
        }
        if (failure) throw failure;
      })();
      return closing;
    },
  };
}

/**
 * Checks that `path` exists and starts with the recording magic, so a bad replay file fails at start-up rather
 * than on the first connection. Throws RecordingFormatError (or the fs error, e.g. ENOENT).
 */
export async function assertRecording(path: string): Promise<void> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await file.read(header, 0, HEADER_BYTES, 0);
    const magic = header.subarray(0, bytesRead).toString('latin1');
    if (magic !== RECORDING_MAGIC) {
      throw new RecordingFormatError(`${path} is not a tickgraph recording (magic ${JSON.stringify(magic)})`, path, 0);
    }
  } finally {
    await file.close();
  }
}

/**
 * Reads a recording frame by frame. Throws {@link RecordingFormatError} on a wrong magic, an absurd length or a
 * truncated tail (after yielding every complete frame before it).
 */
export async function* readRecording(path: string): AsyncGenerator<RecordedFrame> {
  let buffer: Buffer = Buffer.alloc(0);
  let offset = 0; // file offset of buffer[0]
  let headerSeen = false;
  for await (const chunk of createReadStream(path)) {
    buffer = buffer.length === 0 ? (chunk as Buffer) : Buffer.concat([buffer, chunk as Buffer]);
    if (!headerSeen) {
      if (buffer.length < HEADER_BYTES) continue;
      const magic = buffer.subarray(0, HEADER_BYTES).toString('latin1');
      if (magic !== RECORDING_MAGIC) {
        throw new RecordingFormatError(
          `${path} is not a tickgraph recording (magic ${JSON.stringify(magic)})`,
          path,
          0,
        );
      }
      headerSeen = true;
      buffer = buffer.subarray(HEADER_BYTES);
      offset = HEADER_BYTES;
    }
    let pos = 0;
    while (buffer.length - pos >= FRAME_HEADER_BYTES) {
      const length = buffer.readUInt32BE(pos + 8);
      if (length > MAX_RECORDED_FRAME_BYTES) {
        throw new RecordingFormatError(
          `${path}: frame length ${length} at offset ${offset + pos} is not plausible`,
          path,
          offset + pos,
        );
      }
      if (buffer.length - pos < FRAME_HEADER_BYTES + length) break;
      const receivedAt = Number(buffer.readBigUInt64BE(pos));
      // Copy: the caller may keep frames while we reuse the read buffer.
      const bytes = Uint8Array.prototype.slice.call(
        buffer,
        pos + FRAME_HEADER_BYTES,
        pos + FRAME_HEADER_BYTES + length,
      );
      pos += FRAME_HEADER_BYTES + length;
      yield { receivedAt, bytes };
    }
    buffer = buffer.subarray(pos);
    offset += pos;
  }
  if (!headerSeen) throw new RecordingFormatError(`${path} is too short to be a recording`, path, 0);
  if (buffer.length > 0) {
    throw new RecordingFormatError(
      `${path}: truncated frame at offset ${offset} (${buffer.length} trailing bytes)`,
      path,
      offset,
    );
  }
}
